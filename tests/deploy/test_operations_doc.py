"""docs/operations.md covers what issue 6 asks, has a runbook section for every alert at the
anchor its runbook_url names, and every link in the kit's Markdown resolves."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.support import (DEPLOY, OPERATIONS_DOC, RUNBOOK_BASE, alert_rules, github_slug,
                                  markdown_anchors)

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
def test_runbook_url_points_at_a_section_of_the_guide(rule: dict) -> None:
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
