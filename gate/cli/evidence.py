"""`gate evidence`: a pipeline reports its CI evidence for a criterion (contract 8.2)."""

from __future__ import annotations

import gzip
import io
import sys
from urllib.parse import urlencode

import click

from gate.cli.client import Remote, needs_server, quoted
from gate.cli.exits import FAILED, REFUSED, fail
from gate.cli.group import main

GZIP_MAGIC = b"\x1f\x8b"
SQUEEZE_ABOVE = 1024 * 1024  # a larger report goes gzip: the server takes 10 MiB as sent, 50 MiB inflated
MAX_FILE = 512 * 1024 * 1024


def media_type(head: bytes) -> str:
    """The media type of a report, from its first bytes: XML (JUnit, Cobertura), JSON (SARIF, coverage.py,
    measures) or else LCOV's plain text. The server reads the content again; this only labels it."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "application/xml"
    if text.startswith((b"{", b"[")):
        return "application/json"
    return "text/plain"


@main.command("evidence")
@click.argument("key")
@click.argument("criterion")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--build", required=True, help="the commit or build the report came from")
@click.option("--link", default=None, help="the CI run, an http(s) URL")
@needs_server
def evidence(key: str, criterion: str, path: str, build: str, link: str | None, remote: Remote) -> None:
    """Report a CI report (JUnit, Cobertura, coverage.py JSON, LCOV, SARIF, measures) as the evidence of a
    criterion: exit 0 when it passes, 1 when it does not, 2 when it is refused."""
    with click.open_file(path, "rb") as handle:
        data = handle.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        fail(FAILED, f"{path} is over {MAX_FILE // 2**20} MiB: not a report Gate reads")
    encoding = None
    if data.startswith(GZIP_MAGIC):
        encoding = "gzip"
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(data)).read(512)
        except (OSError, EOFError) as exc:
            fail(FAILED, f"{path} looks like gzip but is not: {exc}")
    else:
        head = data[:512]
        if len(data) > SQUEEZE_ABOVE:
            data, encoding = gzip.compress(data, compresslevel=6), "gzip"
    query = urlencode({"build": build, **({"link": link} if link else {})})
    answer = remote.call(
        "POST",
        f"/features/{quoted(key)}/criteria/{quoted(criterion)}/evidence?{query}",
        data=data,
        content_type=media_type(head),
        encoding=encoding,
    )
    if not remote.json:
        mark = "passes" if answer["passed"] else "does not pass"
        click.echo(f"{key}/{criterion}: build {answer['build']} {mark}: {answer['detail']}")
    sys.exit(0 if answer["passed"] is True else REFUSED)
