"""KEDA's ScaledObject and the Prometheus Operator's PodMonitor checked against their CRD schemas.

No PyPI package ships those CRD schemas. The npm packages @kubernetes-models/keda and
@kubernetes-models/prometheus-operator ship validators generated from them (JSON Schema
compiled to JavaScript), pinned in tests/deploy/crd/package.json. They are installed with npm
into a cache folder outside the repository (``XENON_IMAGE_TEST_CACHE``, see standin.py) once
per package.json, and run with node on the manifests. CRD schemas leave unknown fields
allowed, so these catch wrong types, values and missing required fields, not misspelt keys.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.deploy.standin import cache_dir

SOURCES = Path(__file__).resolve().parent / "crd"
INSTALL_TIMEOUT = 300.0   # seconds for npm install (about 10 s seen)
RUN_TIMEOUT = 60.0   # seconds for one validation run


class CrdValidator:
    """node + the installed validators; :meth:`validate` checks manifests."""

    def __init__(self, node: str, npm: str) -> None:
        manifest = (SOURCES / "package.json").read_bytes()
        self.folder = cache_dir() / f"crd-validators-{hashlib.sha256(manifest).hexdigest()[:16]}"
        self.node = node
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (self.folder / "node_modules" / ".installed").is_file():
                shutil.copyfile(SOURCES / "package.json", self.folder / "package.json")
                result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-package-lock"],
                                        cwd=self.folder, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
                if result.returncode != 0:
                    raise RuntimeError(f"npm install of the CRD validators failed: {result.stderr[-2000:]}")
                (self.folder / "node_modules" / ".installed").touch()
        shutil.copyfile(SOURCES / "validate.mjs", self.folder / "validate.mjs")

    def validate(self, docs: list[dict[str, Any]]) -> list[list[str] | None]:
        """For each manifest, None when valid, else the schema errors (``/spec/x must be integer``)."""
        result = subprocess.run([self.node, str(self.folder / "validate.mjs")], input=json.dumps(docs),
                                capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert result.returncode == 0, result.stderr[-3000:]
        verdicts: list[list[str] | None] = json.loads(result.stdout)
        return verdicts
