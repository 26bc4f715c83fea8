"""What the supervisor, the workers and the emulator share — and nothing else.

- ``shared.config``: the typed configuration sections (the schema) and the model-name rule;
  the supervisor loads and validates files into them, a worker reads its own part.
- ``shared.pipe``: what crosses the pipe between the supervisor and a worker (messages, the
  worker's spec, failure classes, the main thread's progress reports).
- ``shared.cloud``: the XenonFlare cloud client (job and instance routes) and the lease
  renewal rule (workers heartbeat with it, the supervisor's recovery keeps leases by it).
- ``shared.http``: bounded HTTP exchanges, retry policy, redaction and escaping of hostile text.
- ``shared.protocol``: facts of the wire protocol as data (deliverable limits).
- ``shared.metrics``: the Prometheus metric families both sides write.
- ``shared.enums``: ``StrEnum`` for Python 3.10 too (``enum.StrEnum`` is 3.11+).

This package imports nothing from ``supervisor``, ``workers`` or ``emulator``
(``tests/test_import_graph.py`` holds every package to its allowed imports).
"""
