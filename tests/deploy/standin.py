"""A local stand-in for the Dockerfile's ``FROM`` image (python:3.11-slim-bookworm), made from Debian.

CI reaches Debian's mirror and PyPI but no container registry, so the real-image tests build
``deploy/docker/Dockerfile`` unchanged on a minimal Debian bookworm root filesystem made with
debootstrap, carrying Debian's Python 3.11 and pip, tagged with the Dockerfile's base name. It
differs from the official image where the Dockerfile cannot tell: Python lives in /usr (not
/usr/local) and pip is Debian's, with the "externally managed" marker removed as the official
image has none. The machine's CA certificates are copied in, since HTTPS from inside a build
goes through the machine's proxy (pip fetching from PyPI).

The root filesystem is cached as a tarball outside the repository (``XENON_IMAGE_TEST_CACHE``,
default /var/cache/xenon-runner-tests), named by a digest of the recipe and of the CA bundle, so
later runs only ``podman import`` it (seconds) instead of running debootstrap (about a minute).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.deploy.engine import Podman

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-pip", "python-is-python3", "ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_LOCAL_CAS = Path("/usr/local/share/ca-certificates")
DEFAULT_CACHE = Path("/var/cache/xenon-runner-tests")
DEBOOTSTRAP_TIMEOUT = 900.0   # seconds; about 40 s seen on 2 cores
RECIPE_VERSION = "1"   # bump when the steps below change meaning
# What the official python image sets that the Dockerfile's steps rely on (pip and python on PATH).
IMAGE_CHANGES = ('ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', "ENV LANG=C.UTF-8",
                 'CMD ["python3"]')


def cache_dir() -> Path:
    """``XENON_IMAGE_TEST_CACHE``, else /var/cache/xenon-runner-tests for root, ~/.cache/... for others."""
    if os.environ.get("XENON_IMAGE_TEST_CACHE"):
        return Path(os.environ["XENON_IMAGE_TEST_CACHE"])
    return DEFAULT_CACHE if os.geteuid() == 0 else Path.home() / ".cache" / DEFAULT_CACHE.name


def _digest() -> str:
    recipe = "\n".join([RECIPE_VERSION, SUITE, MIRROR, *PACKAGES, *IMAGE_CHANGES])
    hasher = hashlib.sha256(recipe.encode())
    hasher.update(HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.is_file() else b"")
    return hasher.hexdigest()[:16]


def tarball_path() -> Path:
    return cache_dir() / f"python-3.11-slim-bookworm-standin-{_digest()}.tar"


def _make_rootfs(root: Path) -> None:
    """debootstrap a minimal bookworm with Debian's Python, then make it look like the official image."""
    result = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
                             str(root), MIRROR], capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"debootstrap exited {result.returncode}: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    (root / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)
    shutil.copyfile(HOST_CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")
    if HOST_LOCAL_CAS.is_dir():   # kept should anything in the image run update-ca-certificates
        shutil.copytree(HOST_LOCAL_CAS, root / "usr/local/share/ca-certificates", dirs_exist_ok=True)
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True)
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)


def ensure_tarball() -> Path:
    """The cached root filesystem tarball, made first if missing (one maker at a time: a file lock)."""
    target = tarball_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            return target
        for stale in target.parent.glob("python-3.11-slim-bookworm-standin-*.tar"):
            stale.unlink()
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            root = Path(work) / "rootfs"
            _make_rootfs(root)
            partial = Path(work) / "rootfs.tar"
            subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], check=True,
                           timeout=600)
            partial.rename(target)
    return target


def load(podman: Podman, tag: str) -> None:
    """Import the stand-in into ``podman``'s storage as ``tag`` (e.g. python:3.11-slim-bookworm)."""
    args = ["import"]
    for change in IMAGE_CHANGES:
        args += ["--change", change]
    podman.run(*args, str(ensure_tarball()), f"docker.io/library/{tag}", timeout=300)
