"""The production setup of ``deploy/`` (nginx in front of gunicorn with the deploy config) started on
free loopback ports, for the serving tests and the load test (``bench/load_test.py``).

The nginx site file is used as shipped; only its addresses and paths are rewritten (listen port, the
upstream's port, the checkout's path, the log files), and it is wrapped in a minimal nginx.conf that keeps
every file nginx writes in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "ioc-dashboard.conf"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


def nginx_binary() -> str | None:
    """Debian's nginx (``/usr/sbin`` is not always on a user's PATH)."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_conf(front_port: int, app_port: int, workdir: Path) -> str:
    """A whole nginx.conf around the shipped site file, listening on ``front_port`` of loopback."""
    site = SITE.read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{front_port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
        ("/opt/ioc-dashboard/", f"{ROOT}/"),
        ("/var/log/nginx/ioc-dashboard.access.log", str(workdir / "access.log")),
        ("/var/log/nginx/ioc-dashboard.error.log", str(workdir / "error.log")),
    ):
        assert old in site, f"{SITE} no longer contains {old!r}: update tests/serving/stack.py"
        site = site.replace(old, new)
    temp = "\n".join(f"    {kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the temporary folder
    return f"""{user}daemon off;
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    types {{ application/geo+json geojson; }}
{temp}
{site}
}}
"""


@dataclass
class Stack:
    """Running processes and their addresses."""

    app_port: int
    front_port: int | None
    workdir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where clients go: the front when there is one, else gunicorn itself."""
        return f"http://127.0.0.1:{self.front_port or self.app_port}"

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def gunicorn(self) -> subprocess.Popen:
        return self.procs[0]

    def worker_pids(self) -> list[int]:
        """gunicorn's worker processes (children of the master)."""
        master = self.gunicorn().pid
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def log_text(self) -> str:
        """gunicorn's stderr so far (the app's JSON log lines)."""
        path = self.workdir / "gunicorn.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _wait_ready(url: str, procs: list[subprocess.Popen], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"process {p.args[0]} exited with {p.returncode}:\n{log.read_text()[-3000:]}")
        with suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
            if resp.status == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url}/healthz did not answer 200 within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def production_stack(
    database_url: str, workdir: Path, *, front: bool = True, workers: int | None = None, threads: int | None = None,
    env: dict[str, str] | None = None, ready_timeout: float = 90,
) -> Iterator[Stack]:
    """gunicorn (deploy/gunicorn.conf.py) on ``database_url`` and, with ``front``, nginx before it; stopped
    (TERM, then KILL) on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(free_port(), free_port() if front else None, workdir)
    environ = {**os.environ, "IOC_DATABASE_URL": database_url, "IOC_PROXIES": "1" if front else "0",
               "IOC_BIND": f"127.0.0.1:{stack.app_port}", "IOC_SECRET_KEY": "serving-test-secret-key-0123456789",
               "PYTHONUNBUFFERED": "1", **(env or {})}
    if workers:
        environ["IOC_WORKERS"] = str(workers)
    if threads:
        environ["IOC_THREADS"] = str(threads)
    log = workdir / "gunicorn.log"
    try:
        with open(log, "wb") as out:
            stack.procs.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--chdir", str(ROOT), "app:create_server()"],
                env=environ, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        if front:
            nginx = nginx_binary()
            if nginx is None:
                raise RuntimeError("nginx is not installed (apt-get install nginx)")
            conf = workdir / "nginx.conf"
            conf.write_text(nginx_conf(stack.front_port, stack.app_port, workdir))
            with open(workdir / "nginx.out", "wb") as out:
                stack.procs.append(subprocess.Popen([nginx, "-c", str(conf), "-p", str(workdir)], stdout=out,
                                                    stderr=subprocess.STDOUT, start_new_session=True))
        _wait_ready(stack.url, stack.procs, ready_timeout, log)
        yield stack
    finally:
        for p in reversed(stack.procs):
            with suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGINT)  # quick shutdown of both (nothing to drain in tests)
        for p in reversed(stack.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
