"""Parse a config file's YAML in bounded time and memory, refusing what no config needs.

A ``SafeLoader`` subclass checks each node as PyYAML composes it (``compose_node``), before
anything is constructed or expanded, and knows the key path it is at:

* at most ``MAX_DEPTH`` levels of nesting (500 levels would exhaust Python's recursion);
* at most ``MAX_ALIASES`` aliases, and at most ``MAX_NODES`` nodes once every alias is
  expanded: an alias bomb (``a: &a [x, x]``, ``b: &b [*a, *a]``, …) is refused after a few
  dozen nodes, wherever it sits, even under an unknown key; an alias of its own ancestor
  (a cycle) is refused too;
* numbers of at most ``MAX_NUMBER_CHARS`` characters (Python refuses ints of 4,300+ digits);
* no key twice in one mapping (YAML would silently keep the last one).
"""
from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import quote

MAX_DEPTH = 32           # levels of nesting (the file itself is level 1)
MAX_ALIASES = 100        # alias references (*name) in one file
MAX_NODES = 100_000      # scalars, lists and mappings, counting each alias's target again
MAX_NUMBER_CHARS = 40    # characters of one int or float scalar
SEGMENT_CHARS = 60       # characters of one key shown in a key path
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class YamlLimitError(yaml.YAMLError):
    """The file breaks one of the loader's limits; ``path`` is the key path where it does."""

    def __init__(self, path: str, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.path, self.message, self.problem_mark = path, message, mark


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with the limits in the module docstring, checked while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path: list[str] = []              # key path segments of the node being composed
        self._sizes: dict[int, int] = {}        # id(node) → nodes it expands to (aliases counted again)
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._path.append(_segment(parent, index))
        try:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
            if len(self._path) > MAX_DEPTH:
                self._refuse(f"nested more than {MAX_DEPTH} levels deep", mark)
            alias = self.check_event(AliasEvent)
            if alias:
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    self._refuse(f"more than {MAX_ALIASES} aliases (*name) in one file", mark)
            node = super().compose_node(parent, index)
            assert node is not None   # PyYAML's composer returns a node or raises; its stubs say Optional
            size = self._alias_size(node, mark) if alias else self._size(node)
            if size > MAX_NODES:
                self._refuse(f"expands to more than {MAX_NODES} values (an alias bomb?)", mark)
            return node
        finally:
            self._path.pop()

    def _alias_size(self, node: Node, mark: Any) -> int:
        """An alias expands to its target again; a target still being composed is an ancestor."""
        if id(node) not in self._sizes:
            self._refuse("an alias refers to a node that contains it (a cycle)", mark)
        return self._sizes[id(node)]

    def _size(self, node: Node) -> int:
        """Nodes ``node`` expands to, after checking its number length or its keys."""
        if isinstance(node, ScalarNode):
            if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
                self._refuse(f"a number of {len(node.value)} characters (at most {MAX_NUMBER_CHARS})",
                             node.start_mark)
            size = 1
        else:
            if isinstance(node, MappingNode):
                self._check_unique_keys(node)
                children = [child for pair in node.value for child in pair]
            else:
                children = node.value
            size = 1 + sum(self._sizes[id(child)] for child in children)
        self._sizes[id(node)] = size
        return size

    def _check_unique_keys(self, node: MappingNode) -> None:
        seen: set[tuple[str, str]] = set()
        for key, _ in node.value:
            if not isinstance(key, ScalarNode):
                continue
            if (key.tag, key.value) in seen:
                self._path.append(key.value)
                self._refuse(f"the key {quote(key.value)} appears twice in one mapping", key.start_mark)
            seen.add((key.tag, key.value))

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """Any value a constructor cannot convert (``!!int abc``, ``!!int ''``, ``2001-13-45``) is a YAML error."""
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's constructors raise ValueError, IndexError, …
            # The exception's text may quote the value, which may be a secret: name the type only.
            raise YamlLimitError("", f"a !!{node.tag.rpartition(':')[2]} value YAML cannot convert "
                                     f"({type(exc).__name__})", node.start_mark) from None

    def _refuse(self, message: str, mark: Any) -> None:
        path = "".join(s if s.startswith("[") else f".{s}" for s in self._path if s).lstrip(".")
        raise YamlLimitError(path, message, mark)


def parse(text: str) -> Any:
    """The Python value of the YAML document ``text``; ``yaml.YAMLError`` (or YamlLimitError) if refused."""
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _segment(parent: Node | None, index: Any) -> str:
    """The key path segment of the node composed under ``parent`` at ``index``."""
    if isinstance(parent, SequenceNode):
        return f"[{index}]"
    if isinstance(parent, MappingNode) and isinstance(index, ScalarNode):
        return str(index.value)[:SEGMENT_CHARS]
    return ""   # the document, or a mapping key being composed (its path is the mapping's)
