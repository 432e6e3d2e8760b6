"""The `gate` CLI against a server (contract 7.4): every command but serve, db, token and rings check works
over the REST API with --url/GATE_URL and --token/GATE_TOKEN, from any machine (a release pipeline's
runner). Standard library only.

Exit codes: 0 done (or the gate passes); 1 refused (a failed gate, a 409, `wait` timed out), with the
checks in words on stderr; 2 anything else (usage, auth, network), with the problem's detail on stderr.
`--json` prints the API's JSON answer on stdout. The token never appears in any output.
"""

from __future__ import annotations

import functools
import http.client
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import click

from gate.domain.words import counted

REFUSED, FAILED = 1, 2
API = "/api/v1"


class Remote:
    """One server and token; each call returns the API's JSON or exits with the contract's code."""

    def __init__(self, url: str, token: str, *, json_output: bool, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            fail(FAILED, f"--url must be an http(s) URL, not {url!r}")
        self.https, self.host, self.port = parts.scheme == "https", parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.token, self.json, self.timeout = token, json_output, timeout

    def call(
        self, method: str, path: str, body: Any = None, *, data: bytes | None = None, content_type: str = ""
    ) -> Any:
        """Send one request; on a 4xx or 5xx say why (and exit), else return the parsed answer."""
        status, answer = self.request(method, path, body, data=data, content_type=content_type)
        if status >= 400:
            self.refuse(status, answer)
        if self.json:
            click.echo(json.dumps(answer, ensure_ascii=False))
        return answer

    def request(
        self, method: str, path: str, body: Any = None, *, data: bytes | None = None, content_type: str = ""
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            data, content_type = json.dumps(body).encode(), "application/json"
        if data is not None:
            headers["Content-Type"] = content_type
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, self.prefix + API + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            fail(FAILED, f"cannot reach Gate at {self.host}: {exc}")
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            fail(FAILED, f"Gate answered {response.status} with something that is not JSON")

    def refuse(self, status: int, problem: Any) -> NoReturn:
        """A problem answer: 409 (a gate, a race, a state) is a refusal; anything else a failure."""
        if self.json:
            click.echo(json.dumps(problem, ensure_ascii=False))
        detail = problem.get("detail") or problem.get("title") if isinstance(problem, dict) else None
        click.echo(f"{status}: {detail or 'no detail'}", err=True)
        for check in problem.get("checks", []) if isinstance(problem, dict) else []:
            click.echo(check_line(check), err=True)
        sys.exit(REFUSED if status == 409 else FAILED)


def check_line(check: dict[str, Any]) -> str:
    """One gate check as the CLI prints it, from a local store or a server."""
    return f"  [{'x' if check['passed'] else ' '}] {check['name']}: {check['detail']}"


def exposure_words(state: dict[str, Any]) -> str:
    """Where a feature stands, from the API's `ring`, `percent` and `killed`."""
    where = "off" if state["ring"] is None else f"{state['ring']} at {state['percent']:g}%"
    return where + (" — KILLED" if state["killed"] else "")


def fail(code: int, message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


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


def _k(key: str) -> str:
    return quote(key, safe="")


DURATION = re.compile(r"^(\d+)(s|m|h)$")


def seconds(text: str) -> float:
    """'90s', '10m', '2h' in seconds."""
    match = DURATION.match(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r}: a number and s, m or h (10s, 30m, 2h)")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]


def _exposure_words(answer: dict[str, Any]) -> str:
    return f"{answer['feature']}: {exposure_words(answer)} (version {answer['version']})"


def _expose(remote: Remote, key: str, action: str, body: dict[str, Any]) -> None:
    answer = remote.call("POST", f"/features/{_k(key)}/{action}", body)
    if not remote.json:
        click.echo(_exposure_words(answer))


def register(main: click.Group, print_gate: Callable[[dict[str, Any], bool], None]) -> None:
    """Add the server-only commands to the `gate` group."""

    @main.command("features")
    @click.option("--owner", default=None, help="only this owner's features")
    @needs_server
    def features(owner: str | None, remote: Remote) -> None:
        """List live features and where each stands."""
        listed = remote.call("GET", "/features" + (f"?owner={quote(owner)}" if owner else ""))
        if not remote.json:
            for f in listed:
                click.echo(f"{f['key']:<32} {exposure_words(f['state']):<28} {f['name']} ({f['owner']})")

    @main.command("show")
    @click.argument("key")
    @needs_server
    def show(key: str, remote: Remote) -> None:
        """A feature, its criteria and their votes."""
        f = remote.call("GET", f"/features/{_k(key)}")
        if remote.json:
            return
        click.echo(f"{f['key']} — {f['name']} (owner {f['owner']}): {exposure_words(f['state'])}")
        for c in f["criteria"]:
            votes = ", ".join(f"{v['voter']} {v['vote']}" for v in c["votes"]) or "no votes"
            mark = "x" if c["passed"] else " "
            click.echo(f"  [{mark}] {c['id']} [{c['ring']}] {c['description']}: {c['detail']} ({votes})")

    @main.command("check")
    @click.argument("key")
    @click.option("--ring", default=None, help="the ring to enter (default: the next)")
    @needs_server
    def check(key: str, ring: str | None, remote: Remote) -> None:
        """Evaluate a gate: exit 0 if it passes, 1 if not (the failed checks on stderr)."""
        gate = remote.call("GET", f"/features/{_k(key)}/gate" + (f"?ring={quote(ring)}" if ring else ""))
        if not remote.json:
            print_gate(gate, not gate["passed"])
        sys.exit(0 if gate["passed"] else REFUSED)

    @main.command("wait")
    @click.argument("key")
    @click.option("--ring", default=None, help="the ring to enter (default: the next)")
    @click.option("--timeout", "timeout", default="30m", show_default=True, help="give up after (10s, 30m, 2h)")
    @click.option("--interval", default="10s", show_default=True, help="ask again every (10s, 1m)")
    @needs_server
    def wait(key: str, ring: str | None, timeout: str, interval: str, remote: Remote) -> None:
        """Wait until a gate passes (exit 0); exit 1 with the failed checks when the time is up."""
        deadline, pause = time.monotonic() + seconds(timeout), seconds(interval)
        path = f"/features/{_k(key)}/gate" + (f"?ring={quote(ring)}" if ring else "")
        while True:
            status, gate = remote.request("GET", path)
            if status >= 400:
                remote.refuse(status, gate)
            if gate["passed"] or time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
        if remote.json:
            click.echo(json.dumps(gate, ensure_ascii=False))
        else:
            print_gate(gate, not gate["passed"])
        if not gate["passed"]:
            click.echo(f"timed out after {timeout}: the gate for {gate['ring']} still refuses", err=True)
        sys.exit(0 if gate["passed"] else REFUSED)

    @main.command("apply")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
    @needs_server
    def apply(paths: tuple[str, ...], remote: Remote) -> None:
        """Apply product YAML files (each names its feature)."""
        from gate.yamlio import load_yaml

        for path in paths:
            with open(path, "rb") as handle:
                data = handle.read()
            try:
                key = load_yaml(data).get("feature")
            except Exception as exc:
                fail(FAILED, f"{path}: {exc}")
            if not isinstance(key, str):
                fail(FAILED, f"{path}: no `feature:` key")
            answer = remote.call("PUT", f"/features/{_k(key)}/criteria", data=data, content_type="application/yaml")
            if not remote.json:
                click.echo(f"{path}: {answer['key']} has {counted(len(answer['criteria']), 'criterion', 'criteria')}")

    @main.command("vote")
    @click.argument("key")
    @click.argument("criterion")
    @click.argument("vote", type=click.Choice(["yes", "no"]))
    @click.option("--comment", default=None)
    @needs_server
    def vote(key: str, criterion: str, vote: str, comment: str | None, remote: Remote) -> None:
        """Vote yes or no on a criterion."""
        body = {"vote": vote, **({"comment": comment} if comment else {})}
        answer = remote.call("POST", f"/features/{_k(key)}/criteria/{_k(criterion)}/votes", body)
        if not remote.json:
            click.echo(f"{answer['voter']} voted {answer['vote']} on {key}/{criterion}")

    @main.command("promote")
    @click.argument("key")
    @click.argument("ring")
    @click.option("--percent", type=float, default=None, help="in the ring (default 100)")
    @click.option("--override-reason", default=None, help="admin: past a failed gate, saying why")
    @needs_server
    def promote(key: str, ring: str, percent: float | None, override_reason: str | None, remote: Remote) -> None:
        """Expose a feature to a ring when its gate passes (exit 1 with the checks when it does not)."""
        body: dict[str, Any] = {"ring": ring}
        if percent is not None:
            body["percent"] = percent
        if override_reason:
            body["override_reason"] = override_reason
        _expose(remote, key, "promote", body)

    @main.command("rollout")
    @click.argument("key")
    @click.argument("percent", type=float)
    @needs_server
    def rollout(key: str, percent: float, remote: Remote) -> None:
        """Change the percent in the current ring."""
        _expose(remote, key, "rollout", {"percent": percent})

    @main.command("rollback")
    @click.argument("key")
    @click.argument("ring")
    @click.option("--reason", default=None)
    @needs_server
    def rollback(key: str, ring: str, reason: str | None, remote: Remote) -> None:
        """Roll back to a ring (at 100%), or to off."""
        _expose(remote, key, "rollback", {"ring": None if ring == "off" else ring, "reason": reason})

    @main.command("kill")
    @click.argument("key")
    @click.option("--reason", default=None)
    @needs_server
    def kill(key: str, reason: str | None, remote: Remote) -> None:
        """Kill a feature's flag everywhere at once."""
        _expose(remote, key, "kill", {"reason": reason})

    @main.command("revive")
    @click.argument("key")
    @needs_server
    def revive(key: str, remote: Remote) -> None:
        """Undo a kill: back where the feature was."""
        _expose(remote, key, "revive", {})

    @main.group("incident")
    def incident() -> None:
        """Incidents: open, acknowledge, resolve (against a server)."""

    @incident.command("open")
    @click.option("--severity", required=True, type=click.IntRange(0, 3))
    @click.option("--title", required=True)
    @click.option("--feature", default=None)
    @click.option("--dedup-key", default=None)
    @needs_server
    def incident_open(severity: int, title: str, feature: str | None, dedup_key: str | None, remote: Remote) -> None:
        """Report an incident; severity 0 or 1 naming a feature kills its flag."""
        body = {"severity": severity, "title": title, "feature": feature, "dedup_key": dedup_key}
        answer = remote.call("POST", "/incidents", body)
        if not remote.json:
            click.echo(f"incident {answer['id']} (severity {answer['severity']}), notified: {answer['notified']}")

    for step in ("ack", "resolve"):

        def step_command(incident_id: int, remote: Remote, step: str = step) -> None:
            answer = remote.call("POST", f"/incidents/{incident_id}/{step}", {})
            if not remote.json:
                click.echo(f"incident {answer['id']}: {answer['status']}")

        step_command.__doc__ = f"{'Acknowledge' if step == 'ack' else 'Resolve'} an incident."
        incident.command(step)(click.argument("incident_id", type=int)(needs_server(step_command)))

    @main.command("change")
    @click.argument("key")
    @click.argument("sha")
    @click.option("--committed-at", required=True, help="ISO 8601, e.g. 2026-11-30T09:00:00Z")
    @needs_server
    def change(key: str, sha: str, committed_at: str, remote: Remote) -> None:
        """Record a commit: its lead time ends at the feature's next deployment."""
        answer = remote.call("POST", f"/features/{_k(key)}/changes", {"sha": sha, "committed_at": committed_at})
        if not remote.json:
            click.echo(f"change {answer['id']} ({answer['sha']}) recorded for {key}")

    @main.group("plan")
    def plan() -> None:
        """Release plans: start, pause, resume, cancel, show (against a server)."""

    for action in ("start", "pause", "resume", "cancel", "show"):

        def plan_command(key: str, remote: Remote, action: str = action) -> None:
            path = f"/features/{_k(key)}/plan"
            answer = remote.call("GET", path) if action == "show" else remote.call("POST", f"{path}/{action}", {})
            if not remote.json:
                print_plan(answer)

        plan_command.__doc__ = PLAN_HELP[action]
        plan.command(action)(click.argument("key")(needs_server(plan_command)))


PLAN_HELP = {
    "start": "Start a feature's release plan from where it stands; its steps act as plan:<you>.",
    "pause": "Pause a running plan: no more steps until resumed.",
    "resume": "Resume a paused or halted plan from where the feature stands now.",
    "cancel": "Cancel the plan's run; the exposure stays where it is.",
    "show": "Show the plan: its steps, its state, the next step and everything that blocks it, its history.",
}


def plan_headline(answer: dict[str, Any]) -> str:
    """'plan running, step 2 of 5', with why it is paused or halted."""
    steps, taken = answer["steps"], answer["step"]
    where = f"step {taken + 1} of {len(steps)}" if taken is not None else f"no step of {len(steps)} taken"
    return f"plan {answer['state']}, {where}" + (f" ({answer['reason']})" if answer["reason"] else "")


def print_plan(answer: dict[str, Any]) -> None:
    """A plan in words: one line per step, the next step and what blocks it, the latest history."""
    steps, taken = answer["steps"], answer["step"]
    click.echo(f"{answer['feature']}: {plan_headline(answer)}")
    for i, step in enumerate(steps):
        mark = (
            "x"
            if taken is not None and i <= taken
            else (">" if answer["next"] and answer["next"]["step"] == i else " ")
        )
        hold = f", hold {step['hold']}" if step["hold"] != "0s" else ""
        click.echo(f"  [{mark}] {i + 1}. {step['ring']} at {step['percent']:g}%{hold}")
    upcoming = answer["next"]
    if upcoming is not None:
        when = f", not before {_utc(upcoming['not_before'])}" if upcoming["not_before"] else ""
        blocked = upcoming["blocked_by"]
        click.echo(f"next: step {upcoming['step'] + 1}{when}" + ("; blocked by:" if blocked else "; ready"))
        for line in blocked:
            click.echo(f"  - {line}")
    for item in answer["history"][-5:]:
        click.echo(f"  {_utc(item['at'])}  {item['action']}  {item['actor']}: {item['detail']}")


def _utc(stamp: str) -> str:
    """An API timestamp (always UTC) to the second: '2026-11-30 21:50:25 UTC'."""
    return stamp[:19].replace("T", " ") + " UTC"
