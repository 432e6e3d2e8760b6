"""What a stream's bytes go through on their way out, shared by the greenlet-per-stream path (streams.py)
and the worker's send loop (stream_hub.py): HTTP/1.1 chunk framing done once per event, and the system's
own epoll and sockets where gevent would put its cooperative stand-ins in the way."""

from __future__ import annotations

import math
import select
import socket
import sys
from typing import Any


class ChunkFrames:
    """Events framed as HTTP/1.1 chunks, once for all of a worker's streams: the events of one change are
    the same bytes for every stream, so the few most recent are kept by identity."""

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._recent: list[tuple[bytes, bytes]] = []

    def of(self, event: bytes) -> bytes:
        for seen, framed in self._recent:
            if seen is event:
                return framed
        framed = b"%X\r\n%s\r\n" % (len(event), event)
        self._recent = [(event, framed), *self._recent[: self._keep - 1]]
        return framed


def _os_epoll() -> Any:
    """An epoll of the system's: gevent's monkey-patching takes `select.epoll` away (it cannot wait
    cooperatively), but a look that does not wait never blocks the loop."""
    if "gevent.monkey" in sys.modules:
        from gevent import monkey

        return monkey.get_original("select", "epoll")()
    return select.epoll()


def under_gevent() -> bool:
    """Whether gevent has made this process's sockets cooperative (`gate serve`'s default workers)."""
    if "gevent.monkey" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("socket"))


def os_socket(fd: int) -> socket.socket:
    """A socket of the system's over `fd`, not gevent's stand-in: a send that never waits needs no loop."""
    if under_gevent():
        from gevent import monkey

        return monkey.get_original("socket", "socket")(fileno=fd)  # type: ignore[no-any-return]
    return socket.socket(fileno=fd)


def wait_readable(fd: int, timeout: float) -> None:
    """Until `fd` (an epoll's own descriptor, say) is readable or `timeout` seconds pass: under gevent while
    the worker's other connections go on, else blocking this thread only. No limit on the descriptor's
    number, as `select.select` has."""
    if under_gevent():
        from gevent.select import select as cooperative

        cooperative([fd], [], [], timeout)
        return
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.poll(max(0, math.ceil(timeout * 1000)))
