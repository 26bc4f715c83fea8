"""Every deliverable limit of protocol §4, in one place.

The worker (tool answers, pre-completion check) and the local cloud emulator (its own
server-side rules) both read these numbers, so the two can never drift apart; the logic
that applies them is separate on each side. Text lengths are counted
the way the cloud (JavaScript) counts them: in UTF-16 code units (see ``text.js_length``),
which equals ``len()`` for text without characters beyond U+FFFF.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# --- the completion as a whole -------------------------------------------------------------
MAX_MESSAGE_CHARS = 24_000  # assistantMessage
MAX_FILES = 24  # per-job caps, one per kind (charts: all six chart kinds together)
MAX_CHARTS = 12
MAX_TABLES = 8
MAX_LISTS = 12
MAX_CHECKLISTS = 8
MAX_SVGS = 8

# --- rounds of the tool loop (protocol §4 "Placeholders and repair") ------------------------
MAX_TOOL_ROUNDS = 24  # model rounds before the reply is taken as final
MAX_REPAIR_ROUNDS = 4  # extra rounds asking for the tool calls that cited artifacts lack

# --- shared by every artifact ---------------------------------------------------------------
MAX_ID_CHARS = 64  # artifact ids are trimmed and cut to this (normalised, not rejected)
MAX_TITLE_CHARS = 200  # titles are trimmed and cut to this (normalised, not rejected)
SAFE_ID_RE = re.compile(r"[A-Za-z0-9_-]+")  # list/checklist/svg ids; use with fullmatch()
# Not a protocol limit: chart and table ids may not hold these, or {{artifact:chart:<id>}}
# could not cite them (a citation ends at the first brace).
CITATION_BREAKERS = frozenset("{}")

# --- files ----------------------------------------------------------------------------------
MAX_FILE_NAME_CHARS = 160  # the sanitised path, folders included
MAX_FILE_SEGMENT_CHARS = 48  # each folder and the leaf, after sanitising (longer ones are cut)
MAX_FILE_FOLDERS = 4  # folders in front of the leaf
FILE_EXTENSIONS = (".md", ".txt")  # compared case-insensitively
FILE_SEGMENT_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")  # each run becomes one "_"
MAX_FILE_CONTENT_CHARS = 48_000

# --- charts ---------------------------------------------------------------------------------
CHART_KINDS = ("pie", "bar", "stacked_bar", "line", "area", "scatter")
CATEGORY_CHART_KINDS = ("bar", "stacked_bar", "line", "area")  # labels + series of values
ORIENTED_CHART_KINDS = ("bar", "stacked_bar")  # take the optional orientation
NON_NEGATIVE_CHART_KINDS = ("stacked_bar",)  # stacks cannot be negative (pie values may be: §4 says so)
BAR_ORIENTATIONS = ("vertical", "horizontal")
MAX_CHART_LABELS = 32  # category labels of bar/stacked_bar/line/area
MAX_CHART_LABEL_CHARS = 128  # a category label, a pie segment label, a scatter point label
MAX_CHART_SERIES = 8  # series of bar/stacked_bar/line/area
MAX_SERIES_NAME_CHARS = 64  # any chart's series name
MAX_PIE_SEGMENTS = 24
MAX_SCATTER_SERIES = 6
MAX_SCATTER_POINTS = 48  # per scatter series

# --- tables (sent in "datasets") ------------------------------------------------------------
MAX_TABLE_COLUMNS = 12
MAX_COLUMN_NAME_CHARS = 64
MAX_TABLE_ROWS = 80  # 0 rows is allowed
MAX_CELL_CHARS = 512  # an empty cell is allowed

# --- lists and checklists -------------------------------------------------------------------
MAX_LIST_ITEMS = 48
MAX_LIST_ITEM_CHARS = 512
MAX_CHECKLIST_ITEMS = 64
MAX_CHECKLIST_LABEL_CHARS = 320
MAX_CHECKLIST_ITEM_ID_CHARS = 48  # item ids also match SAFE_ID_RE and are unique per checklist

# --- SVGs -----------------------------------------------------------------------------------
MAX_SVG_CHARS = 64_000
SVG_ROOT_MARKER = "<svg"  # must appear (case-sensitive, as the cloud checks it)
# The protocol's blocklist, as data: no element of these names (any case), no URL with this
# scheme and no "on<word>=" event-handler attribute. How to match it is up to each checker:
# the runner's ``svg_filter`` matches what a browser would see, the emulator what the cloud does.
SVG_FORBIDDEN_ELEMENTS = ("script", "foreignObject", "iframe", "embed", "object")
SVG_FORBIDDEN_SCHEME = "javascript"  # followed by ":"


@dataclass(frozen=True, kw_only=True)
class KindSpec:
    """One artifact kind: its citation word, the completion array it goes in, its per-job cap."""

    kind: str  # as cited: {{artifact:<kind>:...}}
    array: str  # key of the completion body
    cap: int  # most items of this kind per job
    plural: str  # for messages: "12 charts"


FILE = KindSpec(kind="file", array="files", cap=MAX_FILES, plural="files")
CHART = KindSpec(kind="chart", array="charts", cap=MAX_CHARTS, plural="charts")
TABLE = KindSpec(kind="table", array="datasets", cap=MAX_TABLES, plural="tables")
LIST = KindSpec(kind="list", array="lists", cap=MAX_LISTS, plural="lists")
CHECKLIST = KindSpec(kind="checklist", array="checklists", cap=MAX_CHECKLISTS, plural="checklists")
SVG = KindSpec(kind="svg", array="svgs", cap=MAX_SVGS, plural="SVGs")

KINDS: Mapping[str, KindSpec] = {spec.kind: spec for spec in (FILE, CHART, TABLE, LIST, CHECKLIST, SVG)}
COMPLETION_ARRAYS = tuple(spec.array for spec in KINDS.values())
