"""The typed, immutable configuration: one frozen dataclass per YAML section.

Each field carries its own documentation and constraints in ``metadata`` (see ``setting``);
the loader validates against them, ``jsonschema.py`` derives ``config/schema.json`` from
them and the README's configuration reference is checked against them, so a key is
described in exactly one place. Durations are seconds, sizes are bytes.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CLOUD_URL = "https://cloud.xenonflare.com"
# Seconds, for the upper bounds every number field has (so no value can overflow a timer).
MINUTE, HOUR, DAY, WEEK, YEAR = 60, 3600, 86_400, 7 * 86_400, 365 * 86_400
EMBEDDED = "embedded"
# Upper bound of pool.jobs_per_worker: about 3 sockets per job (cloud call, heartbeat, model call) keeps 64 jobs
# near 200 descriptors, a fifth of the usual 1024 soft limit, and one process's GIL serves them all.
MAX_JOBS_PER_WORKER = 64


def setting(default: Any, doc: str, *, env: str | None = None, minimum: float | None = None,
            maximum: float | None = None, choices: tuple[str, ...] | None = None,
            kind: str | None = None, exclusive_minimum: bool = False, allow_embedded: bool = False,
            factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field with the facts the validator, the JSON Schema and the docs need.

    ``kind`` refines the Python type: ``duration`` (seconds), ``bytes`` (accepts 512MiB),
    ``listen`` (HOST:PORT), ``url``, ``secret`` (never printed). ``factory`` builds a mutable
    default (a fresh dict) instead of ``default``.
    """
    meta = {"doc": doc, "env": env, "minimum": minimum, "maximum": maximum,
            "choices": choices, "kind": kind, "exclusive_minimum": exclusive_minimum,
            "allow_embedded": allow_embedded}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class CloudConfig:
    """Where jobs come from and with which runner key(s)."""

    base_url: str = setting(DEFAULT_CLOUD_URL, "XenonFlare cloud API base URL (no trailing slash). "
                            "`embedded` starts the local emulator in-process, seeded with sample jobs.",
                            env="RUNNER_API_BASE", kind="url", allow_embedded=True)
    token: str | None = setting(None, "Runner API key (`credentialId.secret`, Studio → Settings → Runners), "
                                "shared by every worker.", env="RUNNER_TOKEN", kind="secret")
    tokens: tuple[str, ...] = setting((), "Instead of `token`: a list of runner keys; worker slot i uses "
                                      "tokens[i % len(tokens)]. For a cloud that allows one lease per runner "
                                      "instance.", kind="secret")
    connect_timeout: float = setting(5.0, "Seconds to wait for a TCP/TLS connection to the cloud.",
                                     minimum=0, exclusive_minimum=True, kind="duration", maximum=MINUTE * 5)
    read_timeout: float = setting(30.0, "Seconds to wait for a cloud answer once connected.",
                                  minimum=0, exclusive_minimum=True, kind="duration", maximum=HOUR)
    max_attempts: int = setting(4, "Tries per cloud call (first try included) on 408/429/5xx/network errors.",
                                minimum=1, maximum=20)
    call_timeout: float = setting(60.0, "Wall-clock seconds for one try of a cloud call: connect, send and the "
                                  "whole answer. Over it the try fails as a timeout and is retried; a "
                                  "read_timeout longer than this has no effect.",
                                  minimum=0, exclusive_minimum=True, kind="duration", maximum=HOUR)
    max_answer_bytes: int = setting(8 * 2 ** 20, "Largest cloud answer body read (accepts 8MiB, 512KB); a longer "
                                    "one fails the try like a network error.", minimum=1, kind="bytes",
                                    maximum=2 ** 30)


@dataclass(frozen=True, kw_only=True)
class PoolConfig:
    """The worker pool: size, leasing pace, restarts, recycling and shutdown."""

    workers: int = setting(4, "Worker processes, each running up to jobs_per_worker jobs at a time.",
                           minimum=1, maximum=512)
    jobs_per_worker: int = setting(1, "Jobs each worker process runs at once, on threads sharing its model handle "
                                   "and cloud client: for model handles that wait on the network (OpenAI, "
                                   "builtin). A handle that cannot run sessions concurrently (llama-cpp, a plugin "
                                   "that does not declare `concurrent_sessions`) runs 1. At most 64: each job "
                                   "holds about 3 sockets (cloud call, heartbeat, model call) and shares one "
                                   "process's GIL; past that, add workers. A change applies as workers are "
                                   "replaced.", minimum=1, maximum=MAX_JOBS_PER_WORKER)
    poll_interval: float = setting(2.5, "Seconds between lease requests while the queue is empty, for the "
                                   "whole pool (per runner key). `POLL_MS` sets it in milliseconds (min 500).",
                                   env="POLL_MS", minimum=0.05, kind="duration", maximum=HOUR)
    lease_rate: float = setting(0.0, "Cap on lease requests per second for the pool (token bucket with "
                                "burst = pool size), so fast-failing jobs cannot hot-loop. 0 = 10 per worker "
                                "per second.", minimum=0, maximum=10_000)
    graceful_timeout: float = setting(60.0, "On SIGTERM, seconds in-flight jobs may run on before they are "
                                      "failed with `runner shutting down`.", minimum=0, kind="duration", maximum=DAY)
    max_job_attempts: int = setting(2, "Runs of one leased job when its worker dies mid-job (1 = never re-run).",
                                    minimum=1, maximum=10)
    job_timeout: float = setting(1800.0, "Seconds one job may take (context to complete) before it is failed.",
                                 minimum=1, kind="duration", maximum=WEEK)
    max_jobs_per_worker: int = setting(0, "Recycle a worker after this many jobs (±10% jitter); 0 = never.",
                                       minimum=0, maximum=1_000_000_000)
    max_worker_memory: int = setting(0, "Recycle a worker after its job when its RSS exceeds this many bytes "
                                     "(accepts 512MiB, 2GB); far over it (× memory_kill_factor) kill it "
                                     "mid-job and recover the job. 0 = no limit.", minimum=0, kind="bytes",
                                     maximum=2 ** 50)
    memory_kill_factor: float = setting(1.5, "RSS above max_worker_memory × this kills the worker at once.",
                                        minimum=1, maximum=100)
    start_method: str = setting("forkserver", "How worker processes are started. forkserver and spawn are safe "
                                "with the supervisor's threads; fork is faster but not thread-safe.",
                                choices=("forkserver", "spawn", "fork"))
    startsecs: float = setting(1.0, "A worker counts as healthy once it has been READY this long; crashes "
                               "before that count toward parking the slot.", minimum=0, kind="duration", maximum=HOUR)
    boot_timeout: float = setting(120.0, "Seconds a worker may take to load its model and report READY.",
                                  minimum=1, kind="duration", maximum=DAY)
    hung_timeout: float = setting(60.0, "Seconds without a sign of life from a worker before it is TERMed "
                                  "(then KILLed) as hung.", minimum=1, kind="duration", maximum=DAY)
    kill_timeout: float = setting(5.0, "Seconds between TERM and KILL when stopping a worker.",
                                  minimum=0.1, kind="duration", maximum=HOUR)
    restart_backoff: float = setting(0.5, "First delay before restarting a crashed worker; doubles per crash.",
                                     minimum=0, kind="duration", maximum=HOUR)
    restart_backoff_max: float = setting(30.0, "Cap on the restart delay.", minimum=0, kind="duration", maximum=DAY)
    crash_window: float = setting(60.0, "Window (seconds) in which crashes are counted for parking a slot.",
                                  minimum=1, kind="duration", maximum=WEEK)
    max_crashes: int = setting(5, "Crashes within crash_window that park a slot (FATAL until SIGHUP).",
                               minimum=1, maximum=1_000_000)
    max_runtime: float = setting(0.0, "Stop the pool gracefully after this many seconds; 0 = run forever. "
                                 "`RUNNER_JOB_MAX_RUNTIME_MS` sets it in milliseconds.",
                                 env="RUNNER_JOB_MAX_RUNTIME_MS", minimum=0, kind="duration", maximum=YEAR * 10)
    max_empty_polls: int = setting(0, "Stop the pool gracefully after this many empty lease answers in a row; "
                                   "0 = never.", env="RUNNER_JOB_MAX_EMPTY_POLLS", minimum=0, maximum=1_000_000_000)


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The model handle every worker creates once at boot."""

    name: str = setting("openai-responses", "Model handle: openai-responses, openai-chat, builtin, llama-cpp, or "
                        "module:callable for your own handle.")
    base_url: str = setting("https://api.openai.com/v1", "OpenAI-compatible base URL including /v1; "
                            "the handles append /responses or /chat/completions.", env="OPENAI_BASE_URL",
                            kind="url")
    api_key: str | None = setting(None, "API key for the model endpoint.", env="OPENAI_API_KEY", kind="secret")
    model: str = setting("gpt-5-mini", "Model name for jobs.", env="OPENAI_MODEL")
    summary_model: str = setting("gpt-5-mini", "Model name for summarising older conversation.",
                                 env="OPENAI_SUMMARY_MODEL")
    connect_timeout: float = setting(10.0, "Seconds to connect to the model endpoint.", minimum=0,
                                     exclusive_minimum=True, kind="duration", maximum=MINUTE * 5)
    read_timeout: float = setting(600.0, "Seconds to wait for one model answer.", minimum=0,
                                  exclusive_minimum=True, kind="duration", maximum=DAY)
    max_attempts: int = setting(4, "Tries per model call (first try included) on 408/409/429/5xx/network.",
                                minimum=1, maximum=20)
    call_timeout: float = setting(600.0, "Seconds one model request may take in all: connect, send, and the "
                                  "whole answer (a server trickling bytes cannot hold a worker longer).",
                                  minimum=0, exclusive_minimum=True, kind="duration", maximum=DAY)
    max_answer_bytes: int = setting(32 * 1024 * 1024, "Largest model answer body accepted (after decoding); a "
                                    "larger one fails the call instead of filling memory.", minimum=1024,
                                    kind="bytes", maximum=2 ** 30)
    context_window: int = setting(0, "Tokens the model's context holds; requests are planned to fit it with room for "
                                  "the answer. 0 = ask the server (llama.cpp /props, vLLM /v1/models, Ollama "
                                  "/api/show) or learn it from its first overflow error.", minimum=0,
                                  maximum=10_000_000)
    max_output_tokens: int = setting(0, "Sent as max_tokens: the longest answer one model round may produce. "
                                     "0 = the server's default (llama.cpp: until the context is full).", minimum=0,
                                     maximum=10_000_000)
    stream: str = setting("off", "openai-chat: `on` streams answers (stream: true): a round may run as long as "
                          "tokens keep coming within read_timeout, up to the job's deadline, and a stalled or "
                          "abandoned answer is closed at once. `off` waits for whole answers (call_timeout).",
                          choices=("off", "on"))
    temperature: float | None = setting(None, "openai-chat: sampling temperature sent with every request; unset = "
                                        "the server's default. 0 makes a local model's answers repeatable.",
                                        minimum=0, maximum=2)
    seed: int | None = setting(None, "openai-chat: sampling seed sent with every request (servers that honour "
                               "it repeat their answers); unset = none sent.", minimum=0, maximum=2 ** 63 - 1)
    model_path: str | None = setting(None, "llama-cpp only: the GGUF model file each worker loads (memory-mapped: "
                                     "the workers share one copy of the weights).")
    gpu_layers: int = setting(0, "llama-cpp only: layers offloaded to the GPU (llama.cpp's n_gpu_layers; -1 = all). "
                              "0 = CPU only.", minimum=-1, maximum=100_000)
    threads: int = setting(0, "llama-cpp only: CPU threads per worker for generation; 0 = llama.cpp's default.",
                           minimum=0, maximum=4096)
    latency: float = setting(0.0, "builtin only: simulated seconds per model round.", minimum=0,
                             kind="duration", maximum=HOUR)
    options: Mapping[str, Any] = setting(None, "Free-form options passed to a module:callable handle.",
                                         factory=dict)


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """The supervisor's HTTP endpoint: /metrics, /healthz, /readyz, /status."""

    listen: str = setting("127.0.0.1:9464", "HOST:PORT for the metrics and health server (port 0 = any free "
                          "port).", kind="listen")
    multiproc_dir: str | None = setting(None, "Directory for prometheus_client's multiprocess files; wiped "
                                        "at start. Default: a fresh temporary directory.")


@dataclass(frozen=True, kw_only=True)
class LoggingConfig:
    """Where the supervisor and every worker log to (workers' records reach the supervisor)."""

    level: str = setting("info", "Log level.", choices=("debug", "info", "warning", "error"))
    format: str = setting("text", "text for humans, json for one JSON object per line.", choices=("text", "json"))
    file: str | None = setting(None, "Also append logs to this file.")


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """The local cloud emulator, used when cloud.base_url is `embedded` (and by `xenon-runner emulator`)."""

    listen: str = setting("127.0.0.1:0", "HOST:PORT the emulator listens on (port 0 = any free port).",
                          kind="listen")
    lease_seconds: float = setting(600.0, "Length of a lease; heartbeats extend it by this much.",
                                   minimum=0.1, kind="duration", maximum=DAY * 30)
    max_leases_per_instance: int = setting(0, "Leases one runner key may hold at once; 0 = unlimited.",
                                           minimum=0, maximum=1_000_000)
    seed_jobs: int = setting(12, "Sample jobs enqueued at start (a mix of every deliverable kind).", minimum=0,
                             maximum=100_000)
    error_rate: float = setting(0.0, "Fault injection: share of requests answered 500.", minimum=0, maximum=1)
    throttle_rate: float = setting(0.0, "Fault injection: share of requests answered 429 with Retry-After.",
                                   minimum=0, maximum=1)
    retry_after: float = setting(1.0, "Retry-After seconds sent with injected 429s.", minimum=0,
                                 kind="duration", maximum=HOUR)
    drop_rate: float = setting(0.0, "Fault injection: share of connections closed without an answer.",
                               minimum=0, maximum=1)
    latency: float = setting(0.0, "Fault injection: seconds added to every answer.", minimum=0, kind="duration",
                             maximum=HOUR)


@dataclass(frozen=True, kw_only=True)
class RunnerConfig:
    """The whole configuration, as loaded from YAML, env and flags."""

    cloud: CloudConfig = field(default_factory=CloudConfig)
    pool: PoolConfig = field(default_factory=PoolConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)

    @property
    def embedded_cloud(self) -> bool:
        return self.cloud.base_url == EMBEDDED
