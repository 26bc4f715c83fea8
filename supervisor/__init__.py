"""The supervisor side of xenonflare-runner: CLI, config, the worker pool and its HTTP endpoints."""

__version__ = "0.1.0"
