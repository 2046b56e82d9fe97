"""A TCP proxy the test controls, to put outages between the app and its database or cache.

Modes (switch any time with :meth:`TcpProxy.set_mode`):

- ``forward``: bytes pass both ways;
- ``stopped``: open connections are cut and new ones refused at once (a database that went down);
- ``hung``: new connections are accepted but never answered, and open ones stop carrying anything
  (a server that hangs: the kernel still accepts, nothing comes back);
- ``forward`` again: new connections reach the server; open connections that were hung carry on
  (unless the client gave up on them), connections accepted while hung stay unanswered.

Threads, not asyncio: one listener plus two pump threads per connection is plenty for a test.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

MODES = ("forward", "stopped", "hung")


class TcpProxy:
    """Listen on a free loopback port and relay to ``(host, port)`` according to :attr:`mode`."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.mode = "forward"
        self._lock = threading.Lock()
        self._conns: list[tuple[socket.socket, socket.socket | None]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    def url_for(self, url: str) -> str:
        """``url`` (``scheme://user@host:port/...``) with its host and port replaced by the proxy's."""
        host_port = f"{self.target[0]}:{self.target[1]}"
        assert host_port in url, f"{url!r} does not name {host_port}"
        return url.replace(host_port, f"127.0.0.1:{self.port}", 1)

    def set_mode(self, mode: str) -> None:
        """Switch to ``forward``, ``stopped`` or ``hung`` (stopping cuts every open connection)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        with self._lock:
            self.mode = mode
            conns = list(self._conns) if mode == "stopped" else []
            if mode == "stopped":
                self._conns.clear()
        for client, upstream in conns:
            _close(client, upstream)

    def close(self) -> None:
        """Stop listening and cut every connection."""
        self._closed.set()
        self.set_mode("stopped")
        self._listener.close()
        self._thread.join(timeout=2)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            mode = self.mode
            if mode == "stopped":
                _close(client)  # refused: the client sees the connection end at once
                continue
            if mode == "hung":
                with self._lock:
                    self._conns.append((client, None))  # held open, never answered
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._conns.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Relay both ways until either side closes; while ``hung``, relay nothing (and keep both open)."""
        pair = {client: upstream, upstream: client}
        try:
            while not self._closed.is_set():
                if self.mode == "hung":
                    self._closed.wait(0.05)
                    continue
                readable, _, _ = select.select(list(pair), [], [], 0.1)
                for src in readable:
                    data = src.recv(65536)
                    if not data:
                        return
                    pair[src].sendall(data)
        except (OSError, ValueError):  # a socket closed under us (stopped, or the client gave up)
            return
        finally:
            _close(client, upstream)


def _close(*socks: socket.socket | None) -> None:
    for s in socks:
        if s is None:
            continue
        with suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()


@contextmanager
def proxy_to(host: str, port: int) -> Iterator[TcpProxy]:
    """A running proxy to ``host:port``, closed afterwards."""
    proxy = TcpProxy(host, port)
    try:
        yield proxy
    finally:
        proxy.close()
