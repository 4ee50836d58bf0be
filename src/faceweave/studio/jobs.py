"""Background jobs: extract, train, merge, eval and the whole run, each the faceweave command line
in a child process, so that cancel is exactly Ctrl-C (SIGINT: the command saves and exits 130)
and a studio crash never leaves a half-written model behind.

Each workspace has one queue; across all workspaces at most one job runs at a time (every kind is
CPU- or GPU-heavy). Jobs are records in `<workspace>/studio/jobs.json`; a job's command line
writes progress events (FACEWEAVE_EVENTS) and its output beside it. A job found `running` when
the studio starts, whose process is gone, is `interrupted` and can be resumed (run again: the
commands resume from what they saved).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from faceweave.atomic import write_text_atomic
from faceweave.cli.common import EVENTS_ENV
from faceweave.errors import UserError

JOBS_DIR = "studio"
KINDS: dict[str, tuple[str, ...]] = {
    "extract-src": ("extract", "src"),
    "extract-dst": ("extract", "dst"),
    "train": ("train",),
    "merge": ("merge",),
    "eval": ("eval",),
    "run": ("run",),
}
FINAL = ("done", "failed", "cancelled", "interrupted")
DURATION = re.compile(r"^\s*[0-9]*\.?[0-9]+\s*[smh]?\s*$")


@dataclass
class Job:
    id: str
    workspace: str
    kind: str
    args: list[str]
    state: str = "queued"  # queued | running | done | failed | cancelled | interrupted
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    returncode: int | None = None
    pid: int | None = None


def job_args(kind: str, options: dict[str, Any], ws_root: Path) -> list[str]:
    """The command line of a job, from a fixed list of commands and checked options: nothing a
    request sends reaches a shell, and no file name from it is used."""
    if kind not in KINDS:
        raise UserError(f"unknown job {kind!r}; known: {', '.join(KINDS)}")
    args = [*KINDS[kind], "-w", str(ws_root)]
    if kind in ("train", "run"):
        iterations, minutes = options.get("iterations"), options.get("time")
        if iterations not in (None, ""):
            if not str(iterations).isdigit() or not 0 < int(str(iterations)) <= 10_000_000:
                raise UserError("iterations must be a whole number from 1 to 10000000")
            args += ["--iterations", str(int(str(iterations)))]
        elif minutes not in (None, ""):
            if not DURATION.match(str(minutes)):
                raise UserError(f"{minutes!r} is not a duration like 90s, 10m or 1.5h")
            args += ["--time", str(minutes).strip()]
        elif kind == "train":
            raise UserError("give iterations or a time so training can end")
    if kind == "run":
        for side in ("src", "dst"):
            video = ws_root / f"data_{side}.mp4"  # else the photo folder data_<side>/
            args += [f"--{side}", str(video if video.exists() else ws_root / f"data_{side}")]
    start = options.get("resume_from")
    if kind == "train" and start not in (None, ""):
        from faceweave.formats.checkpoint import list_checkpoints

        kept = {p.name: p for p in list_checkpoints(ws_root / "model")}
        if start not in kept:
            raise UserError(f"there is no kept checkpoint {start!r}; kept: {', '.join(kept) or 'none'}")
        args += ["--resume-from", str(kept[str(start)])]
    if kind in ("extract-src", "extract-dst") and options.get("overwrite"):
        args.append("--overwrite")
    return args


class JobStore:
    """The job records of one workspace, in `studio/jobs.json` (written atomically)."""

    def __init__(self, ws_root: Path) -> None:
        self.folder = ws_root / JOBS_DIR
        self.path = self.folder / "jobs.json"

    def load(self) -> list[Job]:
        if not self.path.is_file():
            return []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [Job(**item) for item in raw["jobs"]]
        except (OSError, ValueError, KeyError, TypeError):
            return []  # a damaged history is not worth refusing the studio over; it starts again

    def save(self, jobs: list[Job]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps({"version": 1, "jobs": [asdict(j) for j in jobs]}, indent=1))

    def events_path(self, job_id: str) -> Path:
        return self.folder / "jobs" / f"{job_id}.events.jsonl"

    def log_path(self, job_id: str) -> Path:
        return self.folder / "jobs" / f"{job_id}.log"


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Runner:
    """Queues and runs the jobs of every workspace of a studio, one at a time."""

    def __init__(self, workspaces: dict[str, Path]) -> None:
        self.roots = dict(workspaces)
        self.lock = threading.RLock()
        self.queue: deque[str] = deque()
        self.jobs: dict[str, Job] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.wake = threading.Event()
        for name, root in self.roots.items():
            self._adopt(name, root)
        self.thread = threading.Thread(target=self._loop, name="faceweave-jobs", daemon=True)
        self.thread.start()

    def _adopt(self, name: str, root: Path) -> None:
        """Jobs from an earlier studio: one left running by a crash is interrupted."""
        store = JobStore(root)
        jobs = store.load()
        for job in jobs:
            if job.state in ("running", "queued") and not _alive(job.pid):
                job.state, job.ended = "interrupted", job.ended or time.time()
            self.jobs[job.id] = job
        if jobs:
            store.save(jobs)

    def add_workspace(self, name: str, root: Path) -> None:
        with self.lock:
            self.roots[name] = root

    def history(self, workspace: str) -> list[Job]:
        with self.lock:
            return sorted(
                (j for j in self.jobs.values() if j.workspace == workspace), key=lambda j: j.created
            )

    def _save(self, workspace: str) -> None:
        JobStore(self.roots[workspace]).save(self.history(workspace))

    def submit(self, workspace: str, kind: str, options: dict[str, Any]) -> Job:
        root = self.roots[workspace]
        job = Job(uuid.uuid4().hex[:12], workspace, kind, job_args(kind, options, root))
        with self.lock:
            self.jobs[job.id] = job
            self.queue.append(job.id)
            self._save(workspace)
        self.wake.set()
        return job

    def resume(self, job_id: str) -> Job:
        """Run an interrupted or cancelled job again; the command resumes from what it saved."""
        old = self.get(job_id)
        if old.state not in ("interrupted", "cancelled", "failed"):
            raise UserError(f"job {job_id} is {old.state}; only a stopped job can be resumed")
        job = Job(uuid.uuid4().hex[:12], old.workspace, old.kind, list(old.args))
        with self.lock:
            self.jobs[job.id] = job
            self.queue.append(job.id)
            self._save(old.workspace)
        self.wake.set()
        return job

    def get(self, job_id: str) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise UserError(f"there is no job {job_id!r}")
        return job

    def cancel(self, job_id: str) -> Job:
        """A queued job is dropped; a running one gets SIGINT and saves, as on Ctrl-C."""
        job = self.get(job_id)
        with self.lock:
            if job.state == "queued":
                self.queue.remove(job.id)
                job.state, job.ended = "cancelled", time.time()
                self._save(job.workspace)
            elif job.state == "running" and job.id in self.processes:
                self.processes[job.id].send_signal(signal.SIGINT)
        return job

    def _loop(self) -> None:
        while True:
            self.wake.wait(1.0)
            self.wake.clear()
            with self.lock:
                job_id = self.queue.popleft() if self.queue else None
            if job_id is not None:
                self._run(self.jobs[job_id])

    def _run(self, job: Job) -> None:
        store = JobStore(self.roots[job.workspace])
        events, log = store.events_path(job.id), store.log_path(job.id)
        events.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, EVENTS_ENV: str(events), "PYTHONUNBUFFERED": "1"}
        with open(log, "wb") as out:
            process = subprocess.Popen(  # an argument list: no shell, ever
                [sys.executable, "-m", "faceweave", *job.args], stdout=out, stderr=subprocess.STDOUT, env=env
            )
            with self.lock:
                self.processes[job.id] = process
                job.state, job.started, job.pid = "running", time.time(), process.pid
                self._save(job.workspace)
            code = process.wait()
        with self.lock:
            self.processes.pop(job.id, None)
            job.returncode, job.ended = code, time.time()
            job.state = "done" if code == 0 else "cancelled" if code in (130, -signal.SIGINT) else "failed"
            self._save(job.workspace)

    def stop_all(self) -> None:
        """On studio shutdown: every running job saves and stops, as on Ctrl-C."""
        with self.lock:
            running = list(self.processes.values())
        for process in running:
            process.send_signal(signal.SIGINT)
        for process in running:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
