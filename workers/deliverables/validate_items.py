"""The stored shapes of protocol §4 other than charts: files, tables, lists, checklists, SVGs.

Each ``validate_*`` returns the item in normal form or raises ``DeliverableError``; see
``fields.Reader`` for what ``strict`` changes.
"""
from __future__ import annotations

from typing import Any

from shared.protocol.limits import (
    MAX_CELL_CHARS,
    MAX_CHECKLIST_ITEM_ID_CHARS,
    MAX_CHECKLIST_ITEMS,
    MAX_CHECKLIST_LABEL_CHARS,
    MAX_COLUMN_NAME_CHARS,
    MAX_FILE_CONTENT_CHARS,
    MAX_LIST_ITEM_CHARS,
    MAX_LIST_ITEMS,
    MAX_SVG_CHARS,
    MAX_TABLE_COLUMNS,
    MAX_TABLE_ROWS,
    SVG_ROOT_MARKER,
)
from workers.deliverables.errors import DeliverableError, Where
from workers.deliverables.fields import Reader, is_absent
from workers.deliverables.paths import sanitize_file_name
from workers.deliverables.svg_filter import forbidden_markup
from workers.deliverables.text import count_text, js_trim, quote

_ROOT = Where()


def _start(kind: str, raw: Any, *, strict: bool, fields: tuple[str, ...],
           safe_id: bool = True) -> tuple[Reader, Any, dict[str, Any]]:
    """Shared opening of tables, lists, checklists and SVGs: object, fields, kind tag, id, title.

    Returns the reader (now naming the item by its id), the raw object and the normalised
    item so far. ``safe_id``: the id may hold only letters, digits, ``_`` and ``-``.
    """
    reader = Reader(subject=kind, strict=strict)
    obj = reader.mapping(raw, _ROOT, allowed=fields)
    tagged = "kind" in fields
    if tagged:
        reader.kind(obj, _ROOT, kind)
    item_id = reader.artifact_id(obj, _ROOT, safe=safe_id)
    reader = reader.about(f"{kind} {quote(item_id)}")
    item: dict[str, Any] = {"id": item_id, "kind": kind} if tagged else {"id": item_id}
    title = reader.title(obj, _ROOT)
    if title is not None:
        item["title"] = title
    return reader, obj, item


def validate_file(raw: Any, *, strict: bool = False) -> dict[str, Any]:
    """``{name, content}``: ``name`` sanitised (already sanitised when strict), content not empty
    (whitespace only is fine: the protocol asks for non-empty, not non-blank)."""
    reader = Reader(subject="file", strict=strict)
    obj = reader.mapping(raw, _ROOT, allowed=("name", "content"))
    name_at = _ROOT.field("name")
    name = reader.string(reader.required(obj, _ROOT, "name", expected='a path such as "specs/plan.md"'), name_at)
    reader = reader.about(f"file {quote(name)}")
    try:
        sanitised = sanitize_file_name(name)
    except DeliverableError as err:
        raise reader.fail(name_at, err.reason) from None
    if strict and sanitised != name:
        raise reader.fail(name_at, f"is not in sanitised form; store it as {quote(sanitised)}")
    reader = reader.about(f"file {quote(sanitised)}")
    content = reader.text(reader.required(obj, _ROOT, "content", expected="the document text"),
                          _ROOT.field("content"), limit=MAX_FILE_CONTENT_CHARS, blank_ok=True)
    return {"name": sanitised, "content": content}


def validate_table(raw: Any, *, strict: bool = False) -> dict[str, Any]:
    """``{id, kind: "table", title?, columns, rows}``: 1–12 columns, 0–80 rows of exactly one
    string cell per column."""
    reader, obj, table = _start("table", raw, strict=strict, fields=("id", "kind", "title", "columns", "rows"),
                                safe_id=False)
    columns = reader.text_list(obj, _ROOT, "columns", expected="a list of column names", noun="column",
                               low=1, high=MAX_TABLE_COLUMNS, limit=MAX_COLUMN_NAME_CHARS)
    rows_at = _ROOT.field("rows")
    raw_rows = reader.required_array(obj, _ROOT, "rows", expected="a list of rows, each a list of cells", noun="row",
                                     high=MAX_TABLE_ROWS)
    rows = []
    for position, raw_row in enumerate(raw_rows):
        row_at = rows_at.index(position)
        cells = reader.array(raw_row, row_at, noun="cell")
        if len(cells) != len(columns):
            raise reader.fail(row_at, f"has {count_text(len(cells), 'cell')} but there are "
                                      f"{count_text(len(columns), 'column')}; give exactly one cell per column")
        rows.append([reader.text(cell, row_at.index(index), limit=MAX_CELL_CHARS, blank_ok=True, empty_ok=True)
                     for index, cell in enumerate(cells)])
    table.update(columns=columns, rows=rows)
    return table


def validate_list(raw: Any, *, strict: bool = False) -> dict[str, Any]:
    """``{id, kind: "list", title?, ordered?: true, items}``: 1–48 non-blank items.

    ``ordered: false`` means the same as leaving it out, so it is dropped, even when strict.
    """
    reader, obj, item = _start("list", raw, strict=strict, fields=("id", "kind", "title", "ordered", "items"))
    ordered = reader.optional(obj, _ROOT, "ordered")
    if not is_absent(ordered) and reader.boolean(ordered, _ROOT.field("ordered")):
        item["ordered"] = True
    item["items"] = reader.text_list(obj, _ROOT, "items", expected="a list of strings", noun="item",
                                     low=1, high=MAX_LIST_ITEMS, limit=MAX_LIST_ITEM_CHARS)
    return item


def validate_checklist(raw: Any, *, strict: bool = False) -> dict[str, Any]:
    """``{id, kind: "checklist", title?, items: [{id, label, checked}]}``: 1–64 items whose ids
    are unique (ignoring case); a missing ``checked`` is false unless strict."""
    reader, obj, checklist = _start("checklist", raw, strict=strict, fields=("id", "kind", "title", "items"))
    items_at = _ROOT.field("items")
    raw_items = reader.required_array(obj, _ROOT, "items", expected="a list of {id, label, checked}", noun="item",
                                      low=1, high=MAX_CHECKLIST_ITEMS)
    seen: dict[str, int] = {}
    items = []
    for position, raw_item in enumerate(raw_items):
        here = items_at.index(position)
        entry = reader.mapping(raw_item, here, allowed=("id", "label", "checked"))
        item_id = reader.identifier(reader.required(entry, here, "id", expected='a short id such as "backup-done"'),
                                    here.field("id"), limit=MAX_CHECKLIST_ITEM_ID_CHARS, cut=False, safe=True)
        earlier = seen.setdefault(item_id.lower(), position)
        if earlier != position:
            raise reader.fail(here.field("id"), f"{quote(item_id)} is already used by items[{earlier}]; "
                                                f"item ids must be unique (ignoring case)")
        here = items_at.index(position, name=item_id, noun="item")
        label = reader.text(reader.required(entry, here, "label", expected="a string"),
                            here.field("label"), limit=MAX_CHECKLIST_LABEL_CHARS)
        items.append({"id": item_id, "label": label, "checked": _checked(reader, entry, here)})
    checklist["items"] = items
    return checklist


def _checked(reader: Reader, entry: Any, here: Where) -> bool:
    """A checklist item's ``checked``: required when strict, else missing means false."""
    if reader.strict:
        return reader.boolean(reader.required(entry, here, "checked", expected="true or false"),
                              here.field("checked"))
    value = reader.optional(entry, here, "checked")
    return False if is_absent(value) else reader.boolean(value, here.field("checked"))


def validate_svg(raw: Any, *, strict: bool = False) -> dict[str, Any]:
    """``{id, title?, content}`` (no ``kind``): content trimmed, at most 64,000 characters,
    containing ``<svg`` and none of the forbidden markup (scripts, handlers, embeds)."""
    reader, obj, svg = _start("svg", raw, strict=strict, fields=("id", "title", "content"))
    content_at = _ROOT.field("content")
    content = reader.string(reader.required(obj, _ROOT, "content", expected="<svg ...>...</svg> markup"), content_at)
    trimmed = js_trim(content)
    if strict and trimmed != content:
        raise reader.fail(content_at, "has leading or trailing whitespace")
    content = reader.text(trimmed, content_at, limit=MAX_SVG_CHARS)
    if SVG_ROOT_MARKER not in content:
        raise reader.fail(content_at, f"must contain an {SVG_ROOT_MARKER}> root element (lower case)")
    forbidden = forbidden_markup(content)
    if forbidden:
        decoded = " once its character references are decoded" if forbidden.decoded else ""
        raise reader.fail(content_at, f"contains {forbidden.what} ({quote(forbidden.excerpt)}){decoded}, which is "
                                      f"not allowed; use plain shapes, paths and text")
    svg["content"] = content
    return svg
