"""Export jobs: a large export runs in a thread of the worker that received the click, writes its file
under the instance folder, and keeps its progress (rows done / total) in the ``export_jobs`` table.

Why a table: the browser polls for progress, and with several gunicorn workers the poll may land on
any of them. A per-process dict (or flask-caching's SimpleCache) would only be seen by the worker
running the job; the database is the one store every worker of the deployment already shares (Redis is
optional config), and a row per job costs nothing. Progress is written at most every
``PROGRESS_SECONDS`` so a million-row export makes a few dozen small updates, not a million.

The file lives in ``Config.export_dir`` (default ``instance/exports/``) on the host's disk, which every worker of one host shares; the
download route streams it with its Content-Length. Jobs expire after ``TTL``: each new job first deletes
the expired rows and their files (and stray files older than the TTL), so nothing needs a cron. A job
belongs to the user who started it: nobody else can poll it or download its file. These rows are
bookkeeping like the audit log, not city data: they do not go through the write layer and bump no
data version."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from datasources.models import ExportJob

log = logging.getLogger(__name__)
_T = ExportJob.__table__
TTL = timedelta(hours=1)
PROGRESS_SECONDS = 0.5

#: work(path, progress) writes the file at ``path`` and returns the number of rows written;
#: progress(rows_done) reports along the way.
Work = Callable[[Path, Callable[[int], None]], int]


@dataclass(frozen=True)
class JobState:
    """What a poll answers."""

    id: str
    status: str  # running | done | failed
    rows_done: int
    rows_total: int
    filename: str
    size: int
    error: str
    path: str

    @property
    def fraction(self) -> float:
        if self.status == "done":
            return 1.0
        return min(1.0, self.rows_done / self.rows_total) if self.rows_total else 0.0


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def export_dir(folder: str | Path) -> Path:
    """The folder job files are written to (created when missing)."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    return d


def cleanup(engine: Engine, folder: str | Path, now: datetime | None = None) -> int:
    """Delete expired jobs and their files (and files no job knows of older than the TTL); returns how many
    jobs were deleted."""
    now = now or _now()
    with engine.begin() as conn:
        old = conn.execute(select(_T.c.id, _T.c.path).where(_T.c.expires_at < now)).all()
        if old:
            conn.execute(delete(_T).where(_T.c.id.in_([r.id for r in old])))
    for r in old:
        if r.path:
            Path(r.path).unlink(missing_ok=True)
    cutoff = (now - TTL).timestamp()
    for f in export_dir(folder).iterdir():
        try:
            if f.is_file() and f.stat().st_mtime < cutoff:
                f.unlink(missing_ok=True)
        except OSError:
            pass  # another worker removed it first
    return len(old)


def start(
    engine: Engine, folder: str | Path, *, username: str, scope: str | None, kind: str, panel: str | None,
    query: str, lang: str, filename: str, rows_total: int, work: Work,
    on_finish: Callable[[JobState], None] | None = None, background: bool = True,
) -> str:
    """Record a job and run ``work`` in a daemon thread (inline when ``background`` is False); returns the
    job id. ``on_finish(state)`` runs when the job is done or failed (the audit entry)."""
    cleanup(engine, folder)
    job_id = uuid.uuid4().hex
    suffix = Path(filename).suffix
    path = export_dir(folder) / f"{job_id}{suffix}"
    now = _now()
    with engine.begin() as conn:
        conn.execute(insert(_T), {
            "id": job_id, "username": username, "scope_code": scope, "kind": kind, "panel": panel, "query": query,
            "lang": lang, "status": "running", "rows_done": 0, "rows_total": rows_total, "filename": filename,
            "path": str(path), "size": 0, "error": "", "created_at": now, "updated_at": now, "expires_at": now + TTL,
        })
    runner = _Runner(engine, job_id, path, work, on_finish)
    if background:
        threading.Thread(target=runner.run, name=f"export-{job_id[:8]}", daemon=True).start()
    else:
        runner.run()
    return job_id


class _Runner:
    def __init__(self, engine: Engine, job_id: str, path: Path, work: Work, on_finish: Callable[[JobState], None] | None):
        self.engine, self.job_id, self.path, self.work, self.on_finish = engine, job_id, path, work, on_finish
        self._last = 0.0

    def progress(self, rows_done: int) -> None:
        t = time.monotonic()
        if t - self._last < PROGRESS_SECONDS:
            return
        self._last = t
        self._set(rows_done=rows_done)

    def _set(self, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(_T).where(_T.c.id == self.job_id).values(updated_at=_now(), **values))

    def run(self) -> None:
        try:
            n = self.work(self.path, self.progress)
            self._set(status="done", rows_done=n, size=self.path.stat().st_size)
        except Exception as exc:  # noqa: BLE001 - the job reports any failure to its poller
            log.exception("export job %s failed", self.job_id)
            self.path.unlink(missing_ok=True)
            self._set(status="failed", error=f"{exc.__class__.__name__}: {exc}"[:500])
        if self.on_finish is not None:
            state = get(self.engine, self.job_id)
            if state is not None:
                try:
                    self.on_finish(state)
                except Exception:  # noqa: BLE001
                    log.exception("export job %s: on_finish failed", self.job_id)


def get(engine: Engine, job_id: str, username: str | None = None) -> JobState | None:
    """The job's state (None when unknown, expired, or started by someone other than ``username``)."""
    where = [_T.c.id == job_id, _T.c.expires_at >= _now()]
    if username is not None:
        where.append(_T.c.username == username)
    with engine.connect() as conn:
        r = conn.execute(select(_T).where(*where)).mappings().first()
    if r is None:
        return None
    return JobState(r["id"], r["status"], r["rows_done"], r["rows_total"], r["filename"], r["size"], r["error"], r["path"])
