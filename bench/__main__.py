"""``python -m bench``: run the benchmark harness (see ``bench.cli``)."""
from __future__ import annotations

from bench.cli import main

raise SystemExit(main())
