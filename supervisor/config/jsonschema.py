"""Derive the JSON Schema of the YAML config (``config/schema.json``) from the dataclasses.

Editors and CI linters can validate a config file with it. The schema is generated, never
edited by hand: ``python -m supervisor.config.jsonschema > config/schema.json`` rewrites it,
and a test fails when the checked-in copy drifts from the code.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, get_args, get_origin, get_type_hints

from shared.config.sections import RunnerConfig

from .fields import default_of, unwrap_optional

# A ``${VAR}`` reference is allowed where a number is expected; the loader checks it later.
_ENV_REFERENCE = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"}


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a whole config file."""
    sections = get_type_hints(RunnerConfig)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "xenonflare-runner configuration",
        "type": "object",
        "additionalProperties": False,
        "properties": {name: _section_schema(kind) for name, kind in sections.items()},
    }


def _section_schema(section: type) -> dict[str, Any]:
    hints = get_type_hints(section)
    return {
        "type": "object",
        "description": (section.__doc__ or "").strip(),
        "additionalProperties": False,
        "properties": {f.name: _field_schema(f, hints[f.name]) for f in dataclasses.fields(section)},
    }


def _field_schema(field: dataclasses.Field[Any], annotation: Any) -> dict[str, Any]:
    meta = field.metadata
    optional, base = unwrap_optional(annotation)
    schema: dict[str, Any] = _type_schema(base, meta)
    if optional:
        schema = {"anyOf": [schema, {"type": "null"}]}
    schema["description"] = meta["doc"] + (f" Env: {meta['env']}." if meta.get("env") else "")
    default = default_of(field)
    schema["default"] = list(default) if isinstance(default, tuple) else default
    return schema


def _type_schema(base: Any, meta: Any) -> dict[str, Any]:
    if meta.get("kind") == "bytes":
        integer = {"type": "integer", "minimum": 0, **({"maximum": meta["maximum"]} if meta.get("maximum") else {})}
        return {"anyOf": [integer,
                          {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([KMGT]i?B?|B)?\s*$"}]}
    if base in (int, float):
        number: dict[str, Any] = {"type": "integer" if base is int else "number"}
        if meta.get("minimum") is not None:
            number["exclusiveMinimum" if meta.get("exclusive_minimum") else "minimum"] = meta["minimum"]
        if meta.get("maximum") is not None:
            number["maximum"] = meta["maximum"]
        return {"anyOf": [number, _ENV_REFERENCE]}
    if get_origin(base) is tuple:
        return {"type": "array", "items": {"type": "string", "minLength": 1}}
    if base is str:
        text: dict[str, Any] = {"type": "string"}
        if meta.get("choices"):
            text["enum"] = list(meta["choices"])
        return text
    if get_args(base) or base is dict:
        return {"type": "object"}
    raise TypeError(f"no schema for {base!r}")  # pragma: no cover - a new field type needs a case here


def main() -> None:
    print(json.dumps(config_schema(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
