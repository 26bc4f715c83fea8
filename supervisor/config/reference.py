"""The configuration reference in Markdown, generated from the config dataclasses.

The README embeds it between ``<!-- config-reference:start -->`` and ``<!-- config-reference:end -->``;
``python -m supervisor.config.reference --update README.md`` rewrites that part, and a test
fails when it drifts from the code, so every key is documented exactly once, in the code.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any, get_type_hints

from shared.config.sections import RunnerConfig

from .fields import default_of, describe

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def reference_markdown() -> str:
    """One table per YAML section: key, expected value, default, environment variable, meaning."""
    parts = []
    for section_name, section_type in get_type_hints(RunnerConfig).items():
        parts.append(f"#### `{section_name}:` — {(section_type.__doc__ or '').strip()}\n")
        parts.append("| key | value | default | env | what it does |\n|---|---|---|---|---|")
        hints = get_type_hints(section_type)
        for field in dataclasses.fields(section_type):
            parts.append(f"| `{section_name}.{field.name}` | {describe(field, hints[field.name])} | "
                         f"{_default(field)} | {_env(field)} | {_cell(field.metadata['doc'])} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def embed(document: str) -> str:
    """``document`` with the part between the markers replaced by the current reference."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(document):
        raise ValueError(f"the document has no {START} … {END} markers")
    return pattern.sub(lambda _: f"{START}\n{reference_markdown()}{END}", document)


def _default(field: dataclasses.Field[Any]) -> str:
    if field.metadata.get("kind") == "secret":
        return "—"
    value = default_of(field)
    if value in (None, (), {}):
        return "—"
    return f"`{value}`"


def _env(field: dataclasses.Field[Any]) -> str:
    env = field.metadata.get("env")
    return f"`{env}`" if env else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", metavar="FILE", help="rewrite the reference inside FILE's markers")
    args = parser.parse_args()
    if args.update:
        with open(args.update, encoding="utf-8") as handle:
            updated = embed(handle.read())
        with open(args.update, "w", encoding="utf-8") as handle:
            handle.write(updated)
    else:
        print(reference_markdown(), end="")


if __name__ == "__main__":
    main()
