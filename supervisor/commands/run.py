"""``xenon-runner run``: start the supervisor and its pool of workers."""
from __future__ import annotations

import argparse

from supervisor.exitcodes import EXIT_CONFIG

from .common import load_or_report

HELP = "run the pool (supervisor + workers) until stopped"

EPILOG = """\
configuration precedence: flag > environment > YAML > default. Without --config the
official runner's environment works as it is: RUNNER_API_BASE, RUNNER_TOKEN,
OPENAI_API_KEY, OPENAI_MODEL, OPENAI_SUMMARY_MODEL, POLL_MS, RUNNER_JOB_MAX_RUNTIME_MS,
RUNNER_JOB_MAX_EMPTY_POLLS, plus OPENAI_BASE_URL for any OpenAI-compatible server.

examples:
  xenon-runner run --config config/local.yaml          # trial on the embedded emulator
  xenon-runner run --config prod.yaml --workers 16
  xenon-runner run --model openai-chat                 # vLLM/Ollama/llama.cpp via OPENAI_BASE_URL

while it runs: /metrics /healthz /readyz /status on --metrics-listen
(default 127.0.0.1:9464); `xenon-runner status` shows the pool as a table."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("run", help=HELP, description=HELP + ".", epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="FILE", help="YAML config (see config/production.example.yaml)")
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes (pool.workers)")
    parser.add_argument("--jobs-per-worker", type=int, metavar="N",
                        help="jobs each worker process runs at once (pool.jobs_per_worker)")
    parser.add_argument("--model", metavar="NAME",
                        help="model handle: openai-responses, openai-chat, builtin or module:callable (model.name)")
    parser.add_argument("--metrics-listen", metavar="HOST:PORT",
                        help="address of /metrics, /healthz, /readyz, /status (metrics.listen)")
    parser.set_defaults(handler=start)


def start(args: argparse.Namespace) -> int:
    overrides = {"pool.workers": args.workers, "pool.jobs_per_worker": args.jobs_per_worker,
                 "model.name": args.model, "metrics.listen": args.metrics_listen}
    config = load_or_report(args.config, overrides)
    if config is None:
        return EXIT_CONFIG
    from supervisor.arbiter import Arbiter  # the pool's imports are only paid by `run`

    return Arbiter(config=config, config_path=args.config, overrides=overrides).run()
