"""The benchmark harness: the real runner against the local emulator, measured side by side.

``python -m bench`` starts real ``xenon-runner run`` process trees and a pool of naive
pollers written to behave as the official runner does, each against its own emulator on
127.0.0.1, and prints from one run a table of ours / baseline / ratio / target / result
for sections a … h (throughput, idle leasing, calls per job, pickup latency, crash
replacement, memory, CPU, soak), i, j and l (idle cost and start-up at scale, bursts,
1,000 jobs in flight); the same results go to ``bench/results/latest.json``.
How to run it and what the figures mean: ``docs/benchmarks.md``.
"""
