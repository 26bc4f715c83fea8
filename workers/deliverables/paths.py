"""File names of ``create_file`` artifacts: the sanitising rule of protocol §4.

``sanitize_file_name("\\specs/../My Plan (v2).MD")`` is ``"specs/My_Plan_v2_.MD"``.
The rule, in order: backslashes become slashes; the path splits on ``/``; empty, ``.`` and
``..`` parts are dropped (so a leading ``/`` and any climbing out disappear); in each part
every run of characters outside ``[A-Za-z0-9._-]`` becomes one ``_``, ``_`` is trimmed from
both ends and the part is cut to 48 characters. At most 4 folders and the leaf remain, the
leaf ends in ``.md`` or ``.txt`` (any case) and the whole name is at most 160 characters.

The result is a fixed point (sanitising it again changes nothing), which is what lets the
completion check demand that stored names be already sanitised.
"""
from __future__ import annotations

from shared.protocol.limits import (
    FILE_EXTENSIONS,
    FILE_SEGMENT_UNSAFE_RE,
    MAX_FILE_FOLDERS,
    MAX_FILE_NAME_CHARS,
    MAX_FILE_SEGMENT_CHARS,
)
from workers.deliverables.errors import DeliverableError
from workers.deliverables.text import js_cut, js_length, js_trim, quote

_DROPPED_SEGMENTS = ("", ".", "..")
_EXTENSIONS_TEXT = " or ".join(FILE_EXTENSIONS)


def _clean_segment(segment: str) -> str:
    """One path part with unsafe runs replaced and ``_`` trimmed, not yet cut to length."""
    return FILE_SEGMENT_UNSAFE_RE.sub("_", js_trim(segment)).strip("_")


def _cut_segment(cleaned: str) -> str:
    # Trim "_" again after cutting: a cut can end on one, and the result must be a fixed point.
    return js_cut(cleaned, MAX_FILE_SEGMENT_CHARS).rstrip("_")


def _has_extension(leaf: str) -> bool:
    return leaf.lower().endswith(FILE_EXTENSIONS)


def _refuse(name: str, reason: str) -> DeliverableError:
    return DeliverableError(f"file name {quote(name)}: {reason}", reason=reason)


def sanitize_file_name(name: str) -> str:
    """The stored form of the file name ``name``; ``DeliverableError`` if none exists.

    The error's ``reason`` says what to change (too many folders, wrong extension, ...).
    """
    parts = [js_trim(part) for part in name.replace("\\", "/").split("/")]
    cleaned = [_clean_segment(part) for part in parts if part not in _DROPPED_SEGMENTS]
    # Sanitising can itself produce "." or ".." (e.g. from "..?"): drop those too.
    cleaned = [segment for segment in cleaned if _cut_segment(segment) not in _DROPPED_SEGMENTS]
    if not cleaned:
        raise _refuse(name, 'has no usable characters; use a name like "notes.md" or "specs/plan.md"')
    if len(cleaned) > MAX_FILE_FOLDERS + 1:
        raise _refuse(
            name, f"has {len(cleaned) - 1} folders; at most {MAX_FILE_FOLDERS} folders may come before the file name")
    segments = [_cut_segment(segment) for segment in cleaned]
    if not _has_extension(segments[-1]):
        if _has_extension(cleaned[-1]):
            reason = (f"its last part is {js_length(cleaned[-1])} characters; parts are cut to "
                      f"{MAX_FILE_SEGMENT_CHARS}, which would lose the extension, so shorten it")
        else:
            reason = f"must end in {_EXTENSIONS_TEXT}"
        raise _refuse(name, reason)
    result = "/".join(segments)
    if js_length(result) > MAX_FILE_NAME_CHARS:
        raise _refuse(
            name, f"is {js_length(result)} characters after sanitising; the limit is {MAX_FILE_NAME_CHARS}")
    return result
