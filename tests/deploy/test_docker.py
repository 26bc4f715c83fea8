"""The Dockerfile, checked statically: instructions as issue 6 asks, every COPY source present, and
the copied sources enough to build the distribution (built and run for real: test_image.py)."""
from __future__ import annotations

import ast
import configparser
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.support import DOCKER
from tests.harness import REPO

DOCKERFILE = DOCKER / "Dockerfile"
CONTAINER_CONFIG = "/etc/xenon-runner/config.yaml"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for line in logical:
        keyword, _, arguments = line.strip().partition(" ")
        pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def arguments(keyword: str) -> list[str]:
    return [args for key, args in instructions() if key == keyword]


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, in order (global ARGs before the first FROM dropped)."""
    result: list[list[tuple[str, str]]] = []
    for key, args in instructions():
        if key == "FROM":
            result.append([])
        if result:
            result[-1].append((key, args))
    return result


def final_stage() -> list[tuple[str, str]]:
    return stages()[-1]


def exec_form(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(item, str) for item in value), text
    return value


def copies(stage: list[tuple[str, str]] | None = None) -> list[tuple[list[str], str, dict[str, str]]]:
    """(sources, destination, flags) of every COPY (of one stage, or of the whole file)."""
    result = []
    for args in [args for key, args in (stage or instructions()) if key == "COPY"]:
        words = shlex.split(args)
        flags = dict(word[2:].split("=", 1) for word in words if word.startswith("--"))
        paths = [word for word in words if not word.startswith("--")]
        result.append((paths[:-1], paths[-1], flags))
    return result


def context_copies(stage: list[tuple[str, str]] | None = None) -> list[tuple[list[str], str]]:
    """COPYs from the build context (not from another stage)."""
    return [(sources, destination) for sources, destination, flags in copies(stage) if "from" not in flags]


def test_base_image_is_slim_python_311() -> None:
    base = next(line.split("=", 1)[1] for line in arguments("ARG") if line.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base)
    assert all(line.startswith("${PYTHON_IMAGE}") for line in arguments("FROM"))


def test_no_syntax_directive_so_builds_fetch_no_frontend_image() -> None:
    """``# syntax=`` makes BuildKit pull a frontend image from a registry at build time; the
    Dockerfile uses nothing beyond the frontend built into Docker 23+ and buildah."""
    first = DOCKERFILE.read_text().lstrip().splitlines()[0]
    assert not re.match(r"#\s*syntax\s*=", first, re.I), first


def test_runs_as_an_unprivileged_user() -> None:
    users = [args for key, args in final_stage() if key == "USER"]
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert f"--uid {user}" in " ".join(args for key, args in final_stage() if key == "RUN")


def test_tini_from_debian_is_pid_1_and_forwards_to_the_supervisor() -> None:
    runs = " ".join(args for key, args in final_stage() if key == "RUN")
    assert re.search(r"apt-get install\b.*\btini\b", runs)
    entrypoint = exec_form(arguments("ENTRYPOINT")[-1])
    assert entrypoint == ["tini", "--", "xenon-runner"]   # no -g: workers are not signalled directly
    assert arguments("STOPSIGNAL") == ["SIGTERM"]


def test_default_command_runs_the_baked_config_on_all_interfaces() -> None:
    command = exec_form(arguments("CMD")[-1])
    assert command[0] == "run"
    assert command[command.index("--config") + 1] == CONTAINER_CONFIG
    assert command[command.index("--metrics-listen") + 1] == "0.0.0.0:9464"
    assert "9464" in arguments("EXPOSE")[-1].split()
    assert (["deploy/docker/config.yaml"], CONTAINER_CONFIG) in context_copies()


def test_healthcheck_runs_the_bundled_python_probe() -> None:
    healthcheck = arguments("HEALTHCHECK")[-1]
    options, _, command = healthcheck.partition("CMD")
    assert exec_form(command.strip()) == ["xenon-healthcheck"]
    assert "--timeout=" in options and "--interval=" in options
    assert (["deploy/docker/healthcheck.py"], "/usr/local/bin/xenon-healthcheck") in context_copies()
    probe = (DOCKER / "healthcheck.py")
    ast.parse(probe.read_text())                      # valid Python
    assert probe.read_text().startswith("#!/usr/bin/env python3")


def test_every_copy_source_exists_in_the_build_context() -> None:
    for sources, _ in context_copies():
        for source in sources:
            if any(char in source for char in "*?["):
                continue   # optional file patterns (README*) may match nothing
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"


def test_dockerignore_keeps_every_copy_source() -> None:
    ignored = [line.strip().rstrip("/") for line in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for sources, _ in context_copies():
        for source in sources:
            top = source.split("/")[0]
            assert top not in ignored, f"{source} is excluded by Dockerfile.dockerignore"
    assert ".venv" in ignored and ".git" in ignored


def packaged_top_levels() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    names = parser["options.packages.find"]["include"].split()
    return {name.split(".")[0] for name in names}


def test_the_build_stage_copies_every_package() -> None:
    copied = {source for sources, _ in context_copies() for source in sources}
    assert packaged_top_levels() <= copied
    assert {"pyproject.toml", "setup.cfg"} <= copied


def test_copied_sources_build_the_distribution_with_its_console_script(tmp_path: Path) -> None:
    """Lay out the build stage's files as the Dockerfile copies them and let setuptools read them."""
    build = tmp_path / "src"
    build.mkdir()
    for sources, destination in context_copies(stages()[0]):
        for source in sources:
            for path in REPO.glob(source):
                target = build / destination / (path.name if destination.endswith("/") else "")
                if path.is_dir():
                    _copy_tree(path, target)
                else:
                    target.write_bytes(path.read_bytes())
    result = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "egg_info",
                             "--egg-base", str(tmp_path)], cwd=build, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    info = tmp_path / "xenonflare_runner.egg-info"
    assert set((info / "top_level.txt").read_text().split()) == packaged_top_levels()
    assert "xenon-runner = supervisor.cli:main" in (info / "entry_points.txt").read_text()
    listed = set((info / "SOURCES.txt").read_text().split())
    assert "supervisor/cli.py" in listed and "workers/main.py" in listed and "emulator/server.py" in listed


def _copy_tree(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(path.read_bytes())


@pytest.mark.parametrize("name", ["config.yaml", "runner.env.example", "healthcheck.py", "trial_bootstrap.py"])
def test_referenced_kit_files_exist(name: str) -> None:
    assert (DOCKER / name).is_file()


def test_real_secrets_file_is_git_ignored() -> None:
    assert "runner.env" in (DOCKER / ".gitignore").read_text().split()
    example = (DOCKER / "runner.env.example").read_text()
    for line in example.splitlines():
        if line.startswith(("RUNNER_TOKEN=", "OPENAI_API_KEY=")):
            assert line.endswith("="), "the example must not carry a value"
