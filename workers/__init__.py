"""The worker side of xenonflare-runner: everything that runs inside one worker process.

A worker owns one lease loop, one cloud client and one model handle; it runs one job at a
time and reports to its supervisor over a pipe (see ``shared.pipe.messages``).
"""
