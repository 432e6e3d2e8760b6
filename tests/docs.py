"""The shell blocks of the README and docs/, read so that a test can run them as a user would.

A fenced block is run when its language is `sh` (and `python` when marked `<!-- doc-test: run -->`); an
HTML comment on the line before a fence says otherwise:
- `<!-- doc-test: skip: why -->`: not run (the reason is required: a block a user is told to run must be);
- `<!-- doc-test: file NAME -->`: the block (YAML, say) is written to NAME, as the text tells the user to.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

MARKER = re.compile(r"<!--\s*doc-test:\s*(?P<what>skip|file|run)\b:?\s*(?P<arg>.*?)\s*-->")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, text, first line and what the marker before it says."""

    language: str
    text: str
    line: int
    marker: str | None = None
    argument: str = ""


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, in order."""
    found, lines, i = [], path.read_text().splitlines(), 0
    marker: tuple[str, str] | None = None
    while i < len(lines):
        line = lines[i]
        match = MARKER.search(line)
        if match:
            marker = (match["what"], match["arg"])
        elif line.startswith("```"):
            language, start, body = line[3:].strip(), i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            what, arg = marker or (None, "")
            found.append(Block(language, "\n".join(body) + "\n", start, what, arg))
            marker = None
        elif line.strip():
            marker = None  # a marker speaks only of the fence right after it
        i += 1
    return found


def script(path: Path, base_url: str) -> tuple[str, list[Block]]:
    """One bash script doing what the document tells its reader, in order, against `base_url`; and the
    blocks it skipped (each with its reason)."""
    parts, skipped = ["set -euo pipefail"], []
    for block in blocks(path):
        text = block.text.replace("http://127.0.0.1:8000", base_url).replace("localhost:8000", base_url)
        where = f"{path.name}:{block.line}"
        if block.marker == "skip":
            assert block.argument, f"{where}: a skipped block says why"
            skipped.append(block)
        elif block.marker == "file":
            target = shlex.quote(block.argument)
            parts.append(f"mkdir -p \"$(dirname {target})\"\ncat > {target} <<'DOC_FILE'\n{text}DOC_FILE")
        elif block.language == "sh":
            parts.append(f"echo '>>> {where}' >&2\n{text}")
        elif block.language == "python" and block.marker == "run":
            parts.append(f"echo '>>> {where}' >&2\npython3 - <<'DOC_PYTHON'\n{text}DOC_PYTHON")
    return "\n".join(parts) + "\n", skipped
