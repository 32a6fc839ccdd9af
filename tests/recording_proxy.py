"""A small forwarding HTTP proxy on loopback that records what it was asked (for the network-path tests).

It serves plain ``GET`` requests in absolute form (forwarded to the target) and ``CONNECT`` tunnels
(bytes relayed both ways), and records each as ``(method, target, proxy_authorization)``.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        return

    def _record(self, target: str) -> None:
        with self.server.lock:
            self.server.seen.append((self.command, target, self.headers.get("Proxy-Authorization")))

    def do_GET(self) -> None:
        self._record(self.path)
        parts = urlsplit(self.path)
        upstream = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=10)
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "proxy-connection")
        }
        try:
            upstream.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
        except OSError:
            self.send_error(502)
            return
        finally:
            upstream.close()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self) -> None:
        self._record(self.path)
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError:
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        sockets = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 5)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, str | None]] = []


class RecordingProxy:
    """Run the proxy in a thread: ``with RecordingProxy() as proxy: ... proxy.url, proxy.seen``."""

    def __init__(self) -> None:
        self._server = _ProxyServer()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def seen(self) -> list[tuple[str, str, str | None]]:
        with self._server.lock:
            return list(self._server.seen)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


def refused_url() -> str:
    """The URL of a loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
