"""Citations of artifacts in the reply, ``{{artifact:<kind>:<id or path>}}``, and their repair.

The word ``artifact`` and the kind may be in any case and whitespace may surround every
part: ``{{ Artifact : CHART : q3 }}`` cites chart ``q3``. Ids match exactly, case
included (the official runner ignores case; Studio may not, so we don't rely on it). A
file is cited by its path, compared after sanitising, so ``{{artifact:file:/specs/plan.md}}``
finds ``specs/plan.md``.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.protocol.limits import CHART, FILE, KINDS
from workers.deliverables.errors import DeliverableError
from workers.deliverables.paths import sanitize_file_name
from workers.deliverables.text import JS_WHITESPACE_CLASS, js_trim, quote
from workers.deliverables.tools import CHART_TOOLS, FILE_TOOL, WRAPPER_TOOLS, citation

MISMATCH_CODE = "deliverable_placeholder_mismatch"
_KIND_ALTERNATIVES = "|".join(KINDS)
_SPACE = JS_WHITESPACE_CLASS + "*"  # whitespace as the cloud (and the official runner) sees it
_CITATION_RE = re.compile(
    r"\{\{" + _SPACE + "artifact" + _SPACE + ":" + _SPACE + "(" + _KIND_ALTERNATIVES + ")" + _SPACE + ":"
    + _SPACE + r"([^{}]+?)" + _SPACE + r"\}\}", re.IGNORECASE)
_SHOW_REF = 200  # longest cited ref quoted whole in the repair prompt (characters)
_TOOL_FOR_KIND = {kind: tool for tool, kind in WRAPPER_TOOLS.items()}
_DEFAULT_CHART_TOOL = "create_bar_chart"  # named first in the repair prompt; any chart tool will do


@dataclass(frozen=True, kw_only=True)
class Citation:
    """One cited artifact: ``kind`` in lower case, ``ref`` as written (trimmed)."""

    kind: str
    ref: str

    @property
    def token(self) -> str:
        """The placeholder in canonical spelling."""
        return citation(self.kind, self.ref)

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"


class ArtifactIndex(Protocol):
    """What ``missing_citations`` asks of a collector."""

    def has(self, kind: str, ref: str) -> bool:
        ...


def find_citations(message: str) -> list[Citation]:
    """Every distinct citation in ``message``, in order of first appearance."""
    found: dict[tuple[str, str], Citation] = {}
    for match in _CITATION_RE.finditer(message):
        kind, ref = match.group(1).lower(), js_trim(match.group(2))
        if ref:
            found.setdefault((kind, ref), Citation(kind=kind, ref=ref))
    return list(found.values())


def missing_citations(message: str, collector: ArtifactIndex) -> list[Citation]:
    """The citations in ``message`` whose artifact ``collector`` does not hold."""
    return [cited for cited in find_citations(message) if not collector.has(cited.kind, cited.ref)]


def repair_prompt(missing: Sequence[Citation]) -> str:
    """The user turn that tells the model exactly which tool calls its reply still lacks."""
    lines = ["Your reply cites artifacts that were never created in this job. Make these tool calls now:"]
    lines += [f"- {cited.token}: {_missing_call(cited)}" for cited in missing]
    lines += [
        "",
        "Several tool calls in one turn are fine. Each answers {\"ok\": true} when the artifact exists; if one "
        "answers ok:false, fix what its detail says and call it again. Then write your complete reply again, "
        "citing every artifact with exactly the same placeholder. If you cannot create an artifact, remove its "
        "placeholder from the reply instead.",
    ]
    return "\n".join(lines)


def mismatch_reason(missing: Sequence[Citation]) -> str:
    """The job's failure reason when citations stay unresolved: ``deliverable_placeholder_mismatch: chart:x``."""
    return f"{MISMATCH_CODE}: {', '.join(str(cited) for cited in missing)}" if missing else MISMATCH_CODE


def _missing_call(cited: Citation) -> str:
    """The instruction for one missing artifact."""
    ref = quote(cited.ref, limit=_SHOW_REF)
    if cited.kind == FILE.kind:
        try:
            return f"call {FILE_TOOL} with name {quote(sanitize_file_name(cited.ref), limit=_SHOW_REF)}"
        except DeliverableError as err:
            return (f"this file name cannot be used ({err.reason}); call {FILE_TOOL} with a valid .md or .txt "
                    f"name and cite that name instead")
    if cited.kind == CHART.kind:
        others = ", ".join(tool for tool in CHART_TOOLS if tool != _DEFAULT_CHART_TOOL)
        return (f"call {_DEFAULT_CHART_TOOL} or another chart tool with id {ref} ({others}; "
                f"pick the one that fits the data)")
    return f'call {_TOOL_FOR_KIND[cited.kind]} with {{"{cited.kind}": {{"id": {ref}, ...}}}}'
