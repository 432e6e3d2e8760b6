"""The house's rules, read from the code's own imports and definitions (no app is built, nothing is run):
the three nevers, no import circle, rooms a newcomer can read, the SDK's private names kept private."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent  # the checkout
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the server and the SDK, by its dotted name (migrations aside: each is written once)."""
    for base in (ROOT, ROOT / "sdk"):
        for top in ("gate", "gate_sdk"):
            for path in sorted((base / top).rglob("*.py")) if (base / top).is_dir() else []:
                if "migrations" in path.parts or "build" in path.relative_to(base).parts:
                    continue
                parts = path.relative_to(base).with_suffix("").parts
                yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports(name: str, path: Path) -> set[str]:
    """The modules `name` imports, at any depth of its file (type-checking imports too: they tie as well)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


KNOWN = dict(modules())
GRAPH = {name: {m for m in imports(name, path) if m in KNOWN and m != name} for name, path in KNOWN.items()}


def test_the_three_nevers_hold() -> None:
    """The dashboard reads through services; the API and the dashboard touch no rows and no database handle."""
    for name, targets in GRAPH.items():
        if name.startswith("gate.web"):
            assert not {t for t in targets if t.startswith("gate.api")}, f"{name} imports the API: {targets}"
        if name.startswith(("gate.web", "gate.api")):
            forbidden = {t for t in targets if t in ("gate.models", "gate.extensions")}
            assert not forbidden, f"{name} imports {forbidden}"


def test_there_is_no_import_circle() -> None:
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        seen[name] = 1
        for target in sorted(GRAPH[name]):
            if seen.get(target) == 1:
                circle = [*path[path.index(target) :], target]
                raise AssertionError("an import circle: " + " -> ".join(circle))
            if target not in seen:
                visit(target, [*path, target])
        seen[name] = 2

    for name in sorted(GRAPH):
        if name not in seen:
            visit(name, [name])


def test_imports_point_one_way() -> None:
    """domain → standard library only; services import neither the API nor the dashboard; the SDK no server."""
    for name, targets in GRAPH.items():
        if name.startswith("gate.domain"):
            assert all(t.startswith("gate.domain") for t in targets), (name, targets)
        if name.startswith("gate.services"):
            assert not {t for t in targets if t.startswith(("gate.api", "gate.web", "gate.cli"))}, (name, targets)
        if name.startswith("gate_sdk"):
            assert not {t for t in targets if t.startswith("gate.")}, (name, targets)


def test_the_server_uses_only_the_sdk_s_public_names() -> None:
    for name, path in KNOWN.items():
        if name.startswith("gate."):
            private = {m for m in imports(name, path) if m.startswith("gate_sdk._")}
            assert not private, f"{name} imports {private}"


def test_rooms_a_newcomer_can_read() -> None:
    for name, path in KNOWN.items():
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                assert length <= MAX_FUNCTION_LINES, f"{name}.{node.name} has {length} lines"
