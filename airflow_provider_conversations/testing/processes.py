"""Run the fake API and moto's S3 server as child processes on loopback (demo, benchmarks, crash tests).

Each server runs in its own process group and is stopped (SIGTERM, then SIGKILL) when the context
exits, so nothing is left running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up (401, 404, ...)
    except OSError:
        return False


@contextmanager
def server_process(cmd: Sequence[str], url: str, *, log: Path | None = None, timeout: float = 60.0) -> Iterator[str]:
    """Start ``cmd``, wait until ``url`` answers, yield it; stop the whole process group on exit.

    :param cmd: the command line.
    :param url: a URL that answers once the server is up.
    :param log: file for the server's output (discarded when ``None``).
    :param timeout: seconds to wait for the server to come up.
    """
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(url):
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode} before answering at {url}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[0]} did not answer at {url} within {timeout:.0f}s")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


@contextmanager
def fake_api_process(*args: str, log: Path | None = None) -> Iterator[str]:
    """The fake Conversations API (``python -m airflow_provider_conversations.testing serve *args``)."""
    port = free_port()
    cmd = [sys.executable, "-m", "airflow_provider_conversations.testing", "serve", "--port", str(port), *args]
    with server_process(cmd, f"http://127.0.0.1:{port}/", log=log, timeout=300) as url:
        yield url.rstrip("/")


@contextmanager
def moto_s3_process(log: Path | None = None) -> Iterator[str]:
    """moto's S3-protocol server (``moto_server``, from ``moto[server]``)."""
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    cmd = (
        [str(moto), "-H", "127.0.0.1", "-p", str(port)]
        if moto.exists()
        else [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    )
    with server_process(cmd, f"http://127.0.0.1:{port}/", log=log) as url:
        yield url.rstrip("/")
