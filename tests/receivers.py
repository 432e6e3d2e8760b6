"""Real receivers on loopback for alert tests: an HTTP pager (PagerDuty-like) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class Pager:
    """An HTTP receiver that records each event; it can fail the first N requests or stall."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []  # each accepted body as sent, with its headers
        self.requests = 0
        self.fail_first = 0
        self.stall_first = 0.0
        self.delay_first = 0.0  # answer the first request, but only after this long
        self.received = threading.Event()
        self.lock = threading.Lock()
        pager = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with pager.lock:
                    pager.requests += 1
                    number = pager.requests
                pager.received.set()
                if number == 1 and pager.delay_first:
                    time.sleep(pager.delay_first)
                if number == 1 and pager.stall_first:
                    time.sleep(pager.stall_first)
                    return  # the connection dies with the worker that was delivering
                if number <= pager.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                with pager.lock:
                    pager.events.append(json.loads(body))
                    pager.raw.append((body, dict(self.headers.items())))
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"success","message":"Event processed"}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.events) < count:
            time.sleep(0.01)
        return list(self.events)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd on loopback, keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                mailbox.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        with socket.socket() as probe:  # aiosmtpd checks its own port after starting, so name a free one
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{port}"

    def wait(self, count: int, timeout: float = 10.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.01)
        return list(self.messages)

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def pager() -> Iterator[Pager]:
    receiver = Pager()
    yield receiver
    receiver.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.close()


class MetricSource:
    """Answers Prometheus' instant-query API with whatever the test sets: a value, no data, an error, or a 500.

    The API tests use it; the integration test reads a real Prometheus scraping a real exporter."""

    def __init__(self) -> None:
        self.value: str | None = "0"  # None: no data
        self.status = 200
        self.queries: list[str] = []
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                from urllib.parse import parse_qs, urlsplit

                parts = urlsplit(self.path)
                source.queries.extend(parse_qs(parts.query).get("query", []))
                if source.status != 200:
                    body = {"status": "error", "errorType": "bad_data", "error": "parse error at char 1"}
                else:
                    result = [] if source.value is None else [{"metric": {}, "value": [1.0, source.value]}]
                    body = {"status": "success", "data": {"resultType": "vector", "result": result}}
                data = json.dumps(body).encode()
                self.send_response(source.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def metric() -> Iterator[MetricSource]:
    source = MetricSource()
    yield source
    source.close()


class Hook:
    """A webhook receiver on loopback that records what it gets and can hang, fail or redirect."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []  # method, body, headers
        self.hang = 0.0  # seconds to sit on each request before answering
        self.status = 200
        self.location: str | None = None  # with a 3xx status: where it points
        self.fail_first = 0
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook.lock:
                    hook.requests.append((self.command, body, dict(self.headers.items())))
                    number = len(hook.requests)
                if hook.hang:
                    time.sleep(hook.hang)
                status = 503 if number <= hook.fail_first else hook.status
                self.send_response(status)
                if hook.location:
                    self.send_header("Location", hook.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait(self, count: int, timeout: float = 10.0) -> list[tuple[str, bytes, dict[str, str]]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.requests) < count:
            time.sleep(0.01)
        return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[list[Hook]]:
    """Four webhook receivers: tests make them hang, fail or redirect."""
    made = [Hook() for _ in range(4)]
    yield made
    for hook in made:
        hook.close()


class SlowPrometheus:
    """Answers Prometheus' query API one byte every `pause` seconds (a Prometheus under load, or a hostile
    one), or redirects elsewhere."""

    def __init__(self) -> None:
        self.pause = 0.5
        self.location: str | None = None
        self.queries = 0
        slow = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                slow.queries += 1
                if slow.location:
                    self.send_response(302)
                    self.send_header("Location", slow.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"status": "success", "data": {"resultType": "scalar", "result": [1, "0"]}})
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for byte in body.encode():
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(slow.pause)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_prometheus() -> Iterator[SlowPrometheus]:
    source = SlowPrometheus()
    yield source
    source.close()
