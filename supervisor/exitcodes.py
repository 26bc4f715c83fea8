"""Exit codes of ``xenon-runner`` (a contract: systemd units and scripts rely on them)."""

EXIT_OK = 0                   # clean stop (drain finished, or max runtime / empty polls reached)
EXIT_ERROR = 1                # unexpected failure
EXIT_CONFIG = 2               # bad configuration or usage, or workers cannot boot with it
EXIT_CREDENTIAL_REJECTED = 3  # the cloud answered 401/403 to a lease: the runner key is bad or revoked
