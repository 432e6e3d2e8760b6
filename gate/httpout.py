"""Gate's own outgoing HTTP (webhooks, the pager, Prometheus, the CLI against a server), standard library only.

Three rules for every request, because each receiver is someone else's server: no redirect is ever
followed (a 3xx is an answer like any other, for the caller to refuse); one deadline holds for the whole
answer (a server that trickles bytes cannot hold a worker or a terminal); the body read has a size cap.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

CHUNK = 64 * 1024


class HttpError(Exception):
    """No answer: the URL is not http(s), the connection failed, or the deadline passed."""


class Timeout(HttpError):
    """The whole answer did not arrive within the deadline."""


class TooLarge(HttpError):
    """The answer's body is over the cap."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def redirect(self) -> str | None:
        """Where a 3xx points ('nowhere' without a Location), None for any other status."""
        return self.headers.get("Location", "nowhere") if 300 <= self.status < 400 else None


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float,
    max_body: int = 1 << 20,
) -> Answer:
    """Send one request and read its whole answer within `timeout` seconds; never follow a redirect."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URL: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise HttpError(f"a port that is not a number: {url!r}") from None
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    conn = cls(parts.hostname, port, timeout=timeout)
    response = None
    try:
        conn.request(method, target, body=body, headers=headers or {})
        _shrink(conn, deadline)
        response = conn.getresponse()
        return Answer(response.status, response.msg, _read(response, conn, deadline, max_body))
    except TimeoutError:
        raise Timeout(f"no whole answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise HttpError(f"{type(exc).__name__}: {exc}") from None
    finally:
        if response is not None:
            response.close()
        conn.close()


def _shrink(conn: http.client.HTTPConnection, deadline: float) -> None:
    """Let the next socket read wait only as long as the whole request has left."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    if conn.sock is not None:
        conn.sock.settimeout(left)


def _read(response: http.client.HTTPResponse, conn: http.client.HTTPConnection, deadline: float, cap: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        _shrink(conn, deadline)
        chunk = response.read1(CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > cap:
            raise TooLarge(f"an answer over {cap // 1024} KiB")
        parts.append(chunk)
