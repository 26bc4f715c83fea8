"""docs/emulator.md stays true to the emulator it documents.

- every protocol route and admin endpoint the guide names exists (and the guide names them all);
- every ``sh`` example that uses ``$EMU`` runs, in document order, against one started
  ``EmulatorServer`` set up like ``xenon-runner emulator --seed-jobs 0`` (one global runner
  key in ``$KEY``, the admin ID token in ``$IDT``), and prints what the ``json``/``text``
  block right after it shows, once random tokens and epoch-millisecond times are masked;
- every ``xenon-runner`` command line parses, every ``emulator.<key>`` named is a config
  key, every ``yaml`` block loads as a config, and every relative link resolves.

``bash`` blocks are illustrations the test does not run (they start processes). The
examples need ``curl`` (7.84+, for ``%header{}``) and ``jq``; without them that test skips.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from emulator import EmulatorServer
from emulator.admin import AdminRoutes
from emulator.routing import PROTOCOL_ROUTES
from shared.config.sections import EmulatorConfig
from supervisor.cli import build_parser
from supervisor.config import load_config
from tests.deploy.support import markdown_anchors

DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"
EXAMPLE_TIMEOUT = 60.0  # seconds for all examples together; a safety net only
HTTP_TIMEOUT = 10.0  # seconds; a safety net only
MIN_CURL = (7, 84)  # %header{} in --write-out
_MARK = "@@example "
_FENCE_RE = re.compile(r"^```(\S*)\s*$")
_SHELL_OPERATORS = {"&", "&&", "|", "||", ";", ">"}

# Random or time-dependent parts of the emulator's answers, masked before comparing.
_MASKS = (
    (re.compile(r"cred[0-9a-f]{16}\.[A-Za-z0-9_-]{43}"), "<runner key>"),
    (re.compile(r"cred[0-9a-f]{16}"), "<credential id>"),
    (re.compile(r"idt_[A-Za-z0-9_-]{43}"), "<id token>"),
    (re.compile(r"\b(ri_\d{4})_[0-9a-f]{8}\b"), r"\1_<hex>"),
    (re.compile(r"\b\d{13}\b"), "<epoch ms>"),
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Block:
    """One fenced code block of the guide."""

    info: str
    text: str
    line: int  # 1-based line of the opening fence
    end_line: int  # 1-based line of the closing fence


@dataclasses.dataclass(frozen=True, kw_only=True)
class Example:
    """A runnable ``sh`` block and the output block right after it (None if there is none)."""

    block: Block
    expected: str | None


def fenced_blocks(markdown: str) -> list[Block]:
    """Every fenced code block, in order."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE_RE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        blocks.append(Block(info=opening.group(1), text="\n".join(lines[index + 1:end]),
                            line=index + 1, end_line=end + 1))
        index = end + 1
    return blocks


def examples(markdown: str) -> list[Example]:
    """The ``sh`` blocks using ``$EMU``, each with the ``json``/``text`` block that follows it."""
    lines = markdown.splitlines()
    blocks = fenced_blocks(markdown)
    found = []
    for position, block in enumerate(blocks):
        if block.info != "sh" or "$EMU" not in block.text:
            continue
        following = blocks[position + 1] if position + 1 < len(blocks) else None
        answer = following if following is not None and following.info in ("json", "text") and all(
            not line.strip() for line in lines[block.end_line:following.line - 1]) else None
        found.append(Example(block=block, expected=answer.text if answer is not None else None))
    return found


def mask(text: str) -> str:
    """``text`` with random ids, keys, tokens and epoch-ms times replaced by placeholders."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def missing_tools() -> list[str]:
    """What the examples need and this machine lacks (curl older than 7.84 counts as missing)."""
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if "curl" not in missing:
        version = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False).stdout
        found = re.match(r"curl (\d+)\.(\d+)", version)
        if found is None or (int(found.group(1)), int(found.group(2))) < MIN_CURL:
            missing.append("curl >= 7.84")
    return missing


def run_examples(found: list[Example], *, env: dict[str, str], cwd: Path) -> list[str]:
    """Run every example in one bash process (so variables carry over); each one's output."""
    script = "".join(f"printf '\\n{_MARK}%d\\n' {number}\n{example.block.text}\n"
                     for number, example in enumerate(found))
    done = subprocess.run(["bash", "-c", script], env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=EXAMPLE_TIMEOUT, check=False)
    outputs = re.split(rf"^{_MARK}\d+$", done.stdout, flags=re.M)
    assert len(outputs) == len(found) + 1, done.stdout[-2000:]
    return outputs[1:]


def example_env(server: EmulatorServer, key: str) -> dict[str, str]:
    """A clean environment holding what the guide tells the reader to export."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "LC_ALL": "C.UTF-8", "EMU": server.url, "KEY": key, "IDT": server.admin_id_token}


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture
def emulator() -> Iterator[tuple[EmulatorServer, str]]:
    """Started like ``xenon-runner emulator --seed-jobs 0``: its key comes from the CLI's instance."""
    with EmulatorServer(config=EmulatorConfig(listen="127.0.0.1:0", seed_jobs=0, lease_seconds=600.0)) as server:
        yield server, server.create_instance(kind="global", name="emulator-cli")["runnerToken"]


# --- routes and endpoints ------------------------------------------------------------------------

def test_names_all_nine_protocol_routes_and_no_other(doc: str) -> None:
    named = set(re.findall(r"/[a-z]+[A-Z][A-Za-z]+\b", doc))
    assert named == set(PROTOCOL_ROUTES)


def _admin_endpoints(doc: str) -> set[tuple[str, str]]:
    return set(re.findall(r"\b(GET|POST) (/admin/[a-z/]*(?:<id>)?)", doc))


def test_names_every_admin_endpoint(doc: str, emulator: tuple[EmulatorServer, str]) -> None:
    server, _ = emulator
    routes = AdminRoutes(state=server.state, stats=server.stats, faults=server.faults, sample_seed=0).routes()
    served = {(method, route.path + ("<id>" if route.prefix else "")) for route in routes for method in route.handlers}
    assert served <= _admin_endpoints(doc)


def test_every_admin_endpoint_named_exists(doc: str, emulator: tuple[EmulatorServer, str]) -> None:
    server, _ = emulator
    endpoints = _admin_endpoints(doc)
    assert endpoints
    with requests.Session() as session:
        for method, path in sorted(endpoints):
            reply = session.request(method, server.url + path.replace("<id>", "ws-999999"), json={},
                                    timeout=HTTP_TIMEOUT)
            error = reply.json().get("error", "") if reply.status_code >= 400 else ""
            assert reply.status_code != 405 and not error.startswith("no route"), (method, path, reply.text)


# --- examples ------------------------------------------------------------------------------------

def test_examples_print_what_the_guide_shows(doc: str, emulator: tuple[EmulatorServer, str],
                                             tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:
        pytest.skip(f"the guide's examples need {', '.join(missing)}")
    server, key = emulator
    found = examples(doc)
    assert len(found) >= 25 and sum(example.expected is not None for example in found) >= 20
    outputs = run_examples(found, env=example_env(server, key), cwd=tmp_path)
    for example, output in zip(found, outputs, strict=True):
        assert "curl: (7)" not in output, f"example at line {example.block.line} could not connect"
        if example.expected is not None:
            assert mask(output) == mask(example.expected), f"example at line {example.block.line}"


# --- commands, config and links ------------------------------------------------------------------

def _command_lines(doc: str) -> Iterator[tuple[int, list[str]]]:
    """``xenon-runner`` invocations in shell blocks, as argv after the program name."""
    for block in fenced_blocks(doc):
        if block.info not in ("sh", "bash"):
            continue
        for offset, line in enumerate(block.text.replace("\\\n", " ").splitlines()):
            if "xenon-runner" not in line:
                continue  # other lines may hold one line of a multi-line quoted JSON body
            words = shlex.split(line, comments=True)
            if "xenon-runner" in words:
                argv = words[words.index("xenon-runner") + 1:]
                ends = [index for index, word in enumerate(argv) if word in _SHELL_OPERATORS]
                yield block.line + offset + 1, argv[:ends[0]] if ends else argv


def test_every_command_line_parses(doc: str) -> None:
    commands = list(_command_lines(doc))
    assert {argv[0] for _, argv in commands} >= {"emulator", "run", "instances"}
    for line, argv in commands:
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:  # argparse's way of saying no
            pytest.fail(f"line {line}: xenon-runner {shlex.join(argv)} does not parse ({exc})")


def test_config_keys_and_yaml_blocks_are_real(doc: str, tmp_path: Path) -> None:
    keys = set(re.findall(r"`emulator\.([a-z_]+)", doc))
    assert keys and keys <= {field.name for field in dataclasses.fields(EmulatorConfig)}
    env = {"RUNNER_TOKEN": "credexample.secret", **{f"RUNNER_TOKEN_{n}": f"credexample{n}.secret" for n in range(1, 5)}}
    yaml_blocks = [block for block in fenced_blocks(doc) if block.info == "yaml"]
    assert yaml_blocks
    for block in yaml_blocks:
        path = tmp_path / f"line{block.line}.yaml"
        path.write_text(block.text, encoding="utf-8")
        # a file without cloud: is one for `xenon-runner emulator --config`, which sets these two
        overrides = None if "cloud:" in block.text else {"cloud.base_url": "embedded", "model.name": "builtin"}
        load_config(str(path), env=env, overrides=overrides)  # raises ConfigError naming the bad key


def test_links_resolve(doc: str) -> None:
    links = re.findall(r"\]\(([^)#:]*)(?:#([^)]*))?\)", doc)
    assert links
    for target, anchor in links:
        path = DOC.parent / target if target else DOC
        assert path.exists(), target
        assert not anchor or anchor in markdown_anchors(path), f"{target}#{anchor}"


def test_python_example_runs(doc: str) -> None:
    blocks = [block for block in fenced_blocks(doc) if block.info == "python"]
    assert blocks
    for block in blocks:
        exec(compile(block.text, f"{DOC.name}:{block.line}", "exec"), {})  # our own doc
