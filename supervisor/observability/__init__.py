"""What the supervisor shows the outside: /metrics, /healthz, /readyz, /status."""
