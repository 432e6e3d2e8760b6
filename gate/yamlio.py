"""Safe YAML reading: plain data only, no aliases (so no alias bombs), no duplicate or non-string keys,
bounded nesting and numbers; timestamps stay text, as no Gate document takes a YAML date."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

from gate.domain.documents import MAX_DEPTH, MAX_DIGITS, UnsafeDocument, check_document
from gate.domain.errors import ParseError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases, deep nesting, huge integers and duplicate or non-string keys."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:
                raise UnsafeDocument({"$": [f"is nested more than {MAX_DEPTH} levels deep"]})
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                line = key_node.start_mark.line + 1
                raise UnsafeDocument({"$": [f"a mapping key must be a string, not {type(key).__name__} (line {line})"]})
            if key in seen:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        digits = str(node.value).lstrip("+-").replace("_", "")
        if len(digits) > MAX_DIGITS:
            raise UnsafeDocument(
                {"$": [f"a number has more than {MAX_DIGITS} digits (line {node.start_mark.line + 1})"]}
            )
        return int(super().construct_yaml_int(node))

    def construct_yaml_timestamp(self, node: ScalarNode) -> str:  # type: ignore[override]
        return str(node.value)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def load_yaml(text: str | bytes, *, source: str = "$") -> Any:
    """Parse one YAML document; raise ParseError with the position of what is wrong.

    A well-formed document that breaks a limit every document obeys raises UnsafeDocument.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError({source: [f"not valid UTF-8 at byte {exc.start}"]}) from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ParseError({source: [f"not valid YAML: {exc}"]}) from None
    except UnsafeDocument as exc:
        raise UnsafeDocument({source: [m for msgs in exc.errors.values() for m in msgs]}) from None
    except (RecursionError, ValueError, OverflowError) as exc:  # a scalar no constructor can build
        raise ParseError({source: [f"not valid YAML: {exc}"]}) from None
    check_document(document, root=source)
    return document
