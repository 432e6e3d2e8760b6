"""The `gate` CLI against a server (contract 7.4): every command but serve, db, token and rings check works
over the REST API with --url/GATE_URL and --token/GATE_TOKEN, from any machine (a release pipeline's
runner). Standard library only.

Exit codes: 0 done (or the gate passes); 1 refused (a failed gate, a 409, `wait` timed out), with the
checks in words on stderr; 2 anything else (usage, auth, network, an answer that is not Gate's), with
the problem's detail on stderr. `--json` prints the API's JSON answer on stdout. The token never appears
in any output. No redirect is followed: a 3xx is exit 2, naming where it pointed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import click

from gate import httpout
from gate.cli.exits import FAILED, code_for, fail

API = "/api/v1"
MAX_ANSWER = 64 * 1024 * 1024  # a listing of 10,000 features is a few MiB; more is not Gate talking


class Remote:
    """One server and token; each call returns the API's JSON or exits with the contract's code."""

    def __init__(self, url: str, token: str, *, json_output: bool, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            fail(FAILED, f"--url must be an http(s) URL, not {url!r}")
        try:
            self.port = parts.port
        except ValueError:
            fail(FAILED, f"--url has a port that is not a number: {url!r}")
        self.host = parts.hostname
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.token, self.json, self.timeout = token, json_output, timeout

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        content_type: str = "",
        encoding: str | None = None,
        shape: type = dict,
    ) -> Any:
        """Send one request; on a 4xx or 5xx say why (and exit), else return the answer, a `shape`."""
        status, answer = self.request(method, path, body, data=data, content_type=content_type, encoding=encoding)
        if status >= 400:
            self.refuse(status, answer)
        if not isinstance(answer, shape):
            what = "a list" if shape is list else "an object"
            fail(FAILED, f"Gate answered {method} {path} with {_kind(answer)}, not {what}: is GATE_URL a Gate?")
        if self.json:
            click.echo(json.dumps(answer, ensure_ascii=False))
        return answer

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        content_type: str = "",
        encoding: str | None = None,
    ) -> tuple[int, Any]:
        """One request within `timeout` for the whole answer (a server trickling bytes cannot hold the
        CLI); the status and the parsed JSON, or exit 2 saying why."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            data, content_type = json.dumps(body).encode(), "application/json"
        if data is not None:
            headers["Content-Type"] = content_type
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        try:
            answer = httpout.request(
                method, self.base + API + path, body=data, headers=headers, timeout=self.timeout, max_body=MAX_ANSWER
            )
        except httpout.Timeout:
            fail(FAILED, f"Gate at {self.host} did not answer within {self.timeout:g} s")
        except httpout.TooLarge:
            fail(FAILED, f"Gate's answer is over {MAX_ANSWER // 2**20} MiB: not read")
        except httpout.HttpError as exc:
            fail(FAILED, f"cannot reach Gate at {self.host}: {exc}")
        if answer.redirect is not None:
            where = answer.redirect
            fail(FAILED, f"Gate answered {answer.status}, a redirect to {where}: not followed; is --url right?")
        try:
            return answer.status, json.loads(answer.body) if answer.body else None
        except ValueError:
            if answer.status >= 400:  # an error all the same: a proxy's page, say
                return answer.status, None
            kind = answer.headers.get("Content-Type") or "no content type"
            fail(FAILED, f"Gate answered {answer.status} with something that is not JSON ({kind})")

    def refuse(self, status: int, problem: Any) -> NoReturn:
        """A problem answer: 409 (a gate, a race, a state) is a refusal; anything else a failure."""
        if self.json:
            click.echo(json.dumps(problem, ensure_ascii=False))
        detail = problem.get("detail") or problem.get("title") if isinstance(problem, dict) else None
        click.echo(f"{status}: {detail or 'no detail'}", err=True)
        checks = problem.get("checks") if isinstance(problem, dict) else None
        for check in checks if isinstance(checks, list) else []:
            if isinstance(check, dict):
                click.echo(check_line(check), err=True)
        raise SystemExit(code_for(status))


def _kind(answer: Any) -> str:
    return {dict: "an object", list: "a list", type(None): "nothing"}.get(type(answer), "a single value")


def check_line(check: dict[str, Any]) -> str:
    """One gate check as the CLI prints it, from a local store or a server."""
    return f"  [{'x' if check.get('passed') is True else ' '}] {check.get('name')}: {check.get('detail')}"


def exposure_words(state: dict[str, Any]) -> str:
    """Where a feature stands, from the API's `ring`, `percent` and `killed`."""
    where = "off" if state["ring"] is None else f"{state['ring']} at {state['percent']:g}%"
    return where + (" — KILLED" if state["killed"] else "")


def quoted(key: str) -> str:
    """A key or id as one path segment."""
    return quote(key, safe="")


def remote_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--url, --token and --json; the command receives `remote` (None without a URL: work locally)."""

    @click.option("--url", envvar="GATE_URL", default=None, help="Gate's base URL (or GATE_URL): work over its API")
    @click.option("--token", envvar="GATE_TOKEN", default=None, help="an API token (or GATE_TOKEN)")
    @click.option("--json", "json_output", is_flag=True, help="print the API's JSON answer")
    @functools.wraps(command)
    def wrapper(*args: Any, url: str | None, token: str | None, json_output: bool, **kwargs: Any) -> Any:
        remote = None
        if url:
            if not token:
                fail(FAILED, "--token or GATE_TOKEN is needed with --url")
            remote = Remote(url, token, json_output=json_output)
        elif json_output:
            fail(FAILED, "--json needs --url (or GATE_URL)")
        return command(*args, remote=remote, **kwargs)

    return wrapper


def needs_server(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command that only works against a server."""

    @remote_options
    @functools.wraps(command)
    def wrapper(*args: Any, remote: Remote | None, **kwargs: Any) -> Any:
        if remote is None:
            fail(FAILED, "this command works against a server: give --url and --token (or GATE_URL, GATE_TOKEN)")
        return command(*args, remote=remote, **kwargs)

    return wrapper
