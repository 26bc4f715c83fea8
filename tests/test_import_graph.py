"""The packages' seams, held by their imports (every ``import`` in the source, lazy and
type-only ones included, read with ``ast``).

- ``shared`` imports none of the other three: it is what they have in common.
- ``workers`` and ``emulator`` import ``shared`` only (the emulator is a stand-in for the
  cloud and must judge the runner with its own rules, never the runner's internals).
- ``supervisor`` imports ``shared``, plus exactly the doors listed in ``SUPERVISOR_DOORS``:
  the worker's entry point (the spawner starts it) and the emulator (the ``emulator`` command
  and ``cloud.url: embedded`` run it).
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "supervisor", "workers", "emulator")
ALLOWED = {
    "shared": {"shared"},
    "workers": {"workers", "shared"},
    "emulator": {"emulator", "shared"},
    "supervisor": {"supervisor", "shared"},
}
SUPERVISOR_DOORS = {  # importing module -> the modules of another package it may import
    "supervisor.spawner": {"workers.main"},
    "supervisor.cloud_target": {"emulator"},
    "supervisor.commands.emulator": {"emulator"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            names.add(".".join([*base, node.module] if node.module else base))
    return names


def cross_package_imports() -> set[tuple[str, str]]:
    """Every (importing module, imported module) pair whose two top-level packages differ."""
    edges = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            importer = module_name(path)
            for name in imported_modules(path):
                if name.split(".")[0] in PACKAGES and name.split(".")[0] != package:
                    edges.add((importer, name))
    return edges


def test_each_package_imports_only_what_its_seam_allows() -> None:
    wrong = sorted((importer, imported) for importer, imported in cross_package_imports()
                   if imported.split(".")[0] not in ALLOWED[importer.split(".")[0]]
                   and imported not in SUPERVISOR_DOORS.get(importer, set()))
    assert wrong == [], "imports across a seam:\n" + "\n".join(f"{a} -> {b}" for a, b in wrong)


def test_every_door_is_still_used() -> None:
    """A door nobody uses any more is closed (removed from the list), so the list stays the truth."""
    edges = cross_package_imports()
    unused = {(importer, door) for importer, doors in SUPERVISOR_DOORS.items() for door in doors
              if (importer, door) not in edges}
    assert unused == set()


def test_the_reader_sees_lazy_relative_and_type_only_imports() -> None:
    """The rule is only as good as the reader: it must not miss an import hidden in a function
    or behind ``TYPE_CHECKING``, and must resolve relative ones."""
    found = imported_modules(REPO / "supervisor" / "commands" / "emulator.py")
    assert {"emulator", "supervisor.commands.common", "shared.http.escape"} <= found
    assert all(not name.startswith(".") for name in found)
    assert "shared.cloud.errors" in imported_modules(REPO / "shared" / "cloud" / "__init__.py")
