"""GateClient: evaluates in-process against the newest snapshot, kept fresh by one background thread."""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any

from gate_sdk._evaluate import evaluate
from gate_sdk._result import EvaluationDetails, tally
from gate_sdk._snapshot import PatchGap, Snapshot, SnapshotError, etag_for
from gate_sdk._transport import StreamUnavailable, Transport, TransportError

log = logging.getLogger("gate_sdk")
_CLIENTS: weakref.WeakSet[GateClient] = weakref.WeakSet()


RECONNECT_CAP = 5.0
_MISCONFIGURED = {
    401: "Gate refused the SDK key (401): check it, or whether it was revoked",
    403: "the SDK key may not read flags (403): use a token with the sdk role",
    404: "no Gate API at this URL (404): check the client's URL",
}


@dataclass(frozen=True)
class ClientStatus:
    """Why the client answers as it does: whether it has flags, and whether Gate is answering it."""

    ready: bool  # a snapshot is loaded (from Gate, the disk cache or a bootstrap)
    version: int | None  # the snapshot's version
    connected: bool  # the last contact with Gate succeeded
    error: str | None  # why it did not, in words
    http_status: int | None  # the status of that refusal, if Gate answered one


def _shown(url: str) -> str:
    """The URL as logs may show it: without any user or password in it."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "the configured URL"


class Backoff:
    """Exponential backoff with jitter: each delay doubles up to `cap`, scaled by a random 50 to 100%."""

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        return float(delay * random.uniform(0.5, 1.0))

    def reset(self) -> None:
        self.attempt = 0


class GateClient:
    """Gate's flags, evaluated locally; safe across threads and across fork().

    Construction returns at once: a background thread follows the server's event stream (falling back
    to ETag polling), and a second one sends exposure counts. `is_enabled` and `evaluate` never raise and
    never touch the network; until a snapshot is in they answer from the bootstrap or the on-disk cache,
    else with the default.
    """

    def __init__(  # noqa: PLR0913 - the SDK's public options, each keyword-only with a default
        self,
        url: str,
        sdk_key: str,
        *,
        cache_path: str | os.PathLike[str] | None = None,
        bootstrap: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        stream: bool = True,
        poll_interval: float = 5.0,
        flush_interval: float = 10.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 40.0,
        transport: Transport | None = None,
    ) -> None:
        if transport is None:
            from gate_sdk._http import HttpTransport  # http.client is heavy to import; only real clients need it

            transport = HttpTransport(url, sdk_key, connect_timeout=connect_timeout, read_timeout=read_timeout)
        self._transport: Transport = transport
        self._url = _shown(url)
        self._cache_path = os.fspath(cache_path) if cache_path is not None else None
        self._use_stream = stream
        self._poll_interval = poll_interval
        self._flush_interval = flush_interval
        self._snapshot: Snapshot | None = None
        self._etag: str | None = None
        self._stream_advice: float | None = None  # Retry-After of a stream refused at the server's cap
        self._failure: tuple[int | None, str] | None = None  # the last failed contact: status and words
        self._contacted = False
        self._role_said: str | None = None  # the non-sdk role last warned about
        self._flushed: dict[count[int], int] = {}  # each tally's value at the last send
        self._pending: dict[tuple[str, bool], int] = {}
        self._closed = False
        self._ready = threading.Event()
        if bootstrap is not None:
            self._load_local(bootstrap)
        elif self._cache_path is not None and os.path.exists(self._cache_path):
            self._load_local(self._cache_path)
        self._start()
        _CLIENTS.add(self)

    # ---- evaluation: no lock, no I/O -------------------------------------------------------------

    def evaluate(self, flag: str, context: Mapping[str, Any] | None = None, default: bool = False) -> EvaluationDetails:
        """Evaluate `flag` for `context`: enabled, reason, ring and snapshot version. Never raises."""
        result = evaluate(self._snapshot, flag, context, default)
        next(result._hits)
        return result

    def is_enabled(self, flag: str, context: Mapping[str, Any] | None = None, default: bool = False) -> bool:
        """Whether `flag` is on for `context`. Never raises."""
        result = evaluate(self._snapshot, flag, context, default)
        next(result._hits)
        return result.enabled

    @property
    def snapshot(self) -> Snapshot | None:
        """The snapshot evaluations run against now."""
        return self._snapshot

    def status(self) -> ClientStatus:
        """Whether the client has flags and whether Gate answers it; `error` says what is wrong."""
        snapshot, failure = self._snapshot, self._failure
        return ClientStatus(
            ready=snapshot is not None,
            version=snapshot.version if snapshot is not None else None,
            connected=self._contacted and failure is None,
            error=failure[1] if failure is not None else (None if self._contacted else "not in contact with Gate yet"),
            http_status=failure[0] if failure is not None else None,
        )

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        """Wait until a snapshot is in; True once it is."""
        return self._ready.wait(timeout)

    # ---- lifecycle ---------------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Stop the background threads and send the last exposure counts; bounded and idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._transport.abort()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> GateClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._follow, args=(self._stop,), name="gate-sdk-updates", daemon=True),
            threading.Thread(target=self._send_exposures, args=(self._stop,), name="gate-sdk-exposures", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _after_fork(self) -> None:
        """In a forked child: fresh locks and threads, so pre-fork workers keep getting updates."""
        self._mark_flushed()  # what the parent counted is the parent's to send
        self._pending = {}
        reset = getattr(self._transport, "after_fork", None)
        if reset is not None:
            reset()
        if not self._closed:
            self._start()

    # ---- updates -----------------------------------------------------------------------------------

    def _install(self, snapshot: Snapshot, body: bytes | None, etag: str | None) -> None:
        self._snapshot = snapshot  # one reference swap: evaluations see the old or the new, never a mix
        self._etag = etag or etag_for(snapshot.version)
        self._ready.set()
        if body is not None and self._cache_path is not None:
            self._persist(body)
        self._say_role()

    def _say_role(self) -> None:
        """Warn once (and again if it changes) when Gate says the key is not an sdk token."""
        role = getattr(self._transport, "role", None)
        if role and role != "sdk" and role != self._role_said:
            self._role_said = role
            log.warning(
                "the SDK key is a token of role %s, not sdk: give services a key of role sdk, "
                "which reads flags and can change nothing",
                role,
            )

    def _persist(self, body: bytes) -> None:
        """Write the on-disk cache atomically: a reader sees the old file or the new one."""
        import tempfile  # only clients with a cache write one, from the background thread

        assert self._cache_path is not None
        folder = os.path.dirname(os.path.abspath(self._cache_path))
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".gate-cache-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            os.replace(tmp, self._cache_path)
        except OSError:
            log.warning("cannot write the snapshot cache %s", self._cache_path, exc_info=True)

    def _load_local(self, source: Mapping[str, Any] | str | os.PathLike[str]) -> None:
        try:
            if isinstance(source, Mapping):
                data = source
            else:
                with open(source, "rb") as handle:
                    data = json.loads(handle.read())
            self._install(Snapshot.from_dict(data), None, None)
        except (OSError, ValueError, SnapshotError):
            log.warning("ignoring an unreadable bootstrap or cache", exc_info=True)

    def _apply(self, body: bytes, etag: str | None) -> None:
        self._install(Snapshot.from_dict(json.loads(body), previous=self._snapshot), body, etag)

    def _patch(self, data: str) -> None:
        """Apply a patch event on the version it starts from; after a gap, fetch the whole snapshot."""
        current = self._snapshot
        try:
            if current is None:
                raise PatchGap("a patch before any snapshot")
            patched = current.apply_patch(json.loads(data))
        except PatchGap as gap:
            log.info("%s: fetching the snapshot", gap)
            fetched = self._transport.fetch(None)
            if fetched.body is not None:
                self._apply(fetched.body, fetched.etag)
            return
        body = json.dumps(patched.to_dict(), separators=(",", ":")).encode() if self._cache_path else None
        self._install(patched, body, None)

    def _follow(self, stop: threading.Event) -> None:
        # capped at 5 s: a client is back within about 5 s of the server being healthy again
        stream_backoff, poll_backoff = Backoff(1.0, RECONNECT_CAP), Backoff(0.5, RECONNECT_CAP)
        next_stream = 0.0
        while not stop.is_set():
            if self._use_stream and time.monotonic() >= next_stream:
                if self._stream_once(stop):
                    stream_backoff.reset()
                    stop.wait(random.uniform(0.02, 0.25))  # a healthy stream ended: come back soon, not all at once
                    continue
                # a server at its stream cap says when to come back; spread the fleet over a little more
                advice, self._stream_advice = self._stream_advice, None
                wait = advice * random.uniform(1.0, 1.5) if advice is not None else stream_backoff.next()
                next_stream = time.monotonic() + wait
            try:
                fetched = self._transport.fetch(self._etag)
                if fetched.body is not None:
                    self._apply(fetched.body, fetched.etag)
                self._succeeded()
                poll_backoff.reset()
                delay = self._poll_interval
            except (TransportError, ValueError, SnapshotError) as exc:
                self._failed(exc)
                delay = poll_backoff.next()
                advice = getattr(exc, "retry_after", None)
                if advice is not None:  # the server said when: follow it, spread a little so a fleet does not stampede
                    delay = advice * random.uniform(1.0, 1.25)
            if self._use_stream:
                delay = min(delay, max(0.0, next_stream - time.monotonic()))
            stop.wait(delay)

    def _stream_once(self, stop: threading.Event) -> bool:
        """Follow the stream until it ends; True if it delivered anything (it was healthy)."""
        delivered = False
        last = str(self._snapshot.version) if self._snapshot is not None and self._etag else None
        try:
            for event in self._transport.stream(last):
                if not delivered:
                    self._succeeded()
                delivered = True
                if stop.is_set():
                    return True
                if event.event == "snapshot":
                    self._apply(event.data.encode(), f'"{event.id}"' if event.id else None)
                elif event.event == "patch":
                    self._patch(event.data)
        except StreamUnavailable as exc:
            if exc.status in _MISCONFIGURED:
                self._failed(exc)
            else:
                log.info("stream unavailable (%s); polling", exc)
            self._stream_advice = exc.retry_after
        except (TransportError, ValueError, SnapshotError) as exc:
            self._failed(exc)  # refused, timed out or broken: said once, retried quietly
        return delivered

    def _failed(self, exc: Exception) -> None:
        """Record why Gate did not answer, and say it once: a wrong key or URL (401, 403, 404) at ERROR,
        naming the URL and the status, again only when that changes; the first failure to reach Gate at
        all (refused, timed out, a broken stream) at WARNING. The retries after it are DEBUG."""
        status = getattr(exc, "status", None)
        words = _MISCONFIGURED.get(status, str(exc)) if status is not None else str(exc)
        failure = (status, words)
        answering = "the last snapshot" if self._snapshot else "defaults"
        if status in _MISCONFIGURED:
            if failure != self._failure:
                log.error("%s at %s; answering from %s", words, self._url, answering)
        elif self._failure is None:
            log.warning(
                "cannot reach Gate at %s (%s); answering from %s, retrying with backoff", self._url, exc, answering
            )
        else:
            log.debug("contact with Gate failed again: %s", exc)
        self._failure = failure

    def _succeeded(self) -> None:
        if self._failure is not None:
            log.info("Gate at %s answers again", self._url)
        self._failure, self._contacted = None, True

    # ---- exposures ---------------------------------------------------------------------------------

    def _send_exposures(self, stop: threading.Event) -> None:
        while not stop.wait(self._flush_interval):
            self._flush()
        self._flush()

    def _tallies(self) -> list[tuple[str, bool, count[int]]]:
        snapshot = self._snapshot
        if snapshot is None:
            return []
        return [(key, enabled, hits[enabled]) for key, hits in snapshot.tallies.items() for enabled in (False, True)]

    def _mark_flushed(self) -> None:
        self._flushed = {hits: tally(hits) for _, _, hits in self._tallies()}

    def _flush(self) -> None:
        """Send what each flag's tallies counted since the last send (tallies only grow: nothing to reset)."""
        batch = self._pending
        flushed: dict[count[int], int] = {}
        for key, enabled, hits in self._tallies():
            now = flushed[hits] = tally(hits)
            delta = now - self._flushed.get(hits, 0)
            if delta:
                batch[(key, enabled)] = batch.get((key, enabled), 0) + delta
        self._flushed = flushed
        if not batch:
            return
        payload = {"exposures": [{"flag": f, "enabled": e, "count": n} for (f, e), n in sorted(batch.items())]}
        try:
            self._transport.post_exposures(payload)
            self._pending = {}
        except TransportError as exc:
            log.debug("exposures not sent: %s", exc)
            self._pending = batch if len(batch) <= 10000 else {}


def _after_fork_in_child() -> None:
    for client in list(_CLIENTS):
        client._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
