"""docs/operations.md covers what issue 6 asks, has a runbook section for every alert at the
anchor its runbook_url names, and every link in the kit's Markdown resolves."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import DEPLOY, OPERATIONS_DOC, RUNBOOK_BASE, alert_rules, github_slug, markdown_anchors

REQUIRED_SECTIONS = ["Deploy", "Docker Compose", "systemd", "Kubernetes", "Upgrade with no lost job",
                     "Rotate a runner key with no downtime", "Scale", "Read the dashboard", "Runbook"]
KIT_DOCS = [OPERATIONS_DOC, DEPLOY / "README.md", DEPLOY / "systemd" / "README.md", DEPLOY / "kubernetes" / "README.md"]


def runbook_sections() -> list[str]:
    text = OPERATIONS_DOC.read_text()
    runbook = text[text.index("\n## Runbook"):]
    return re.findall(r"^### (.+?)\s*$", runbook, re.M)


@pytest.mark.parametrize("heading", REQUIRED_SECTIONS)
def test_required_section_exists(heading: str) -> None:
    assert github_slug(heading) in markdown_anchors(OPERATIONS_DOC)


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_runbook_url_points_at_a_section_of_the_guide(rule: dict[str, Any]) -> None:
    base, _, anchor = rule["annotations"]["runbook_url"].partition("#")
    assert base == RUNBOOK_BASE and base.endswith("/docs/operations.md")
    assert anchor in markdown_anchors(OPERATIONS_DOC)


def test_runbook_has_exactly_one_section_per_alert() -> None:
    assert sorted(runbook_sections()) == sorted(rule["alert"] for rule in alert_rules())


def test_every_runbook_section_says_what_it_means_what_to_check_and_what_to_do() -> None:
    text = OPERATIONS_DOC.read_text()
    for name in runbook_sections():
        section = text.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0]
        for part in ("**Means:**", "**Check:**", "**Do:**"):
            assert part in section, f"{name} lacks {part}"


@pytest.mark.parametrize("document", KIT_DOCS, ids=lambda path: str(path.relative_to(DEPLOY.parent)))
def test_links_resolve(document: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.exists(), f"{document.name}: {target} does not exist"
        if anchor:
            assert anchor in markdown_anchors(linked), f"{document.name}: no heading for #{anchor}"


def test_guide_names_the_signals_and_exit_codes_of_the_contract() -> None:
    text = OPERATIONS_DOC.read_text()
    for word in ("SIGTERM", "SIGHUP", "SIGTTIN", "SIGTTOU", "SIGINT", "0 clean stop", "3 runner key rejected",
                 "2 bad configuration"):
        assert word in text, word


def command_lines(document: Path) -> list[str]:
    """Shell commands of the document's ```sh blocks, continuation lines joined."""
    blocks = re.findall(r"^```sh\n(.*?)^```", document.read_text(), re.M | re.S)
    return [line for block in blocks for line in block.replace("\\\n", " ").splitlines() if line.strip()]


@pytest.mark.parametrize("document", KIT_DOCS, ids=lambda path: str(path.relative_to(DEPLOY.parent)))
def test_podman_builds_keep_the_healthcheck(document: Path) -> None:
    """The OCI format, podman's default, drops HEALTHCHECK: every podman build the docs show asks for
    the Docker format (``--format docker``, or BUILDAH_FORMAT=docker for podman-compose)."""
    for line in command_lines(document):
        if re.search(r"\bpodman (build|buildx)\b|\bbuildah (bud|build)\b", line):
            assert "--format docker" in line, line
        if "podman-compose" in line and "--build" in line:
            assert "BUILDAH_FORMAT=docker" in line, line


def test_guide_says_how_the_image_was_verified() -> None:
    text = OPERATIONS_DOC.read_text()
    section = text.split("### How the image was verified\n", 1)[1].split("\n### ", 1)[0]
    assert "make image-test" in section and "podman build --format docker --pull=never" in section
    assert "image-test:" in (DEPLOY.parent / "Makefile").read_text()
