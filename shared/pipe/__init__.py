"""What crosses the pipe between the supervisor and a worker: messages, the worker's spec,
failure classes, and the main thread's progress reports."""
