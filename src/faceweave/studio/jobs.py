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

import contextlib
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
    "mask-train": ("mask", "train"),
    "mask-apply": ("mask", "apply"),
}
FINAL = ("done", "failed", "cancelled", "interrupted")
DURATION = re.compile(r"^\s*[0-9]*\.?[0-9]+\s*[smh]?\s*$", re.ASCII)
STEPS = re.compile(r"^[0-9]{1,8}$", re.ASCII)


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
    options: dict[str, Any] = field(default_factory=dict)  # as checked; resume rebuilds args from them


def job_args(kind: str, options: dict[str, Any], ws_root: Path) -> list[str]:
    """The command line of a job, from a fixed list of commands and checked options: nothing a
    request sends reaches a shell, and no file name from it is used."""
    if kind not in KINDS:
        raise UserError(f"unknown job {kind!r}; known: {', '.join(KINDS)}")
    args = [*KINDS[kind], "-w", str(ws_root)]
    if kind in ("train", "run"):
        iterations, minutes = options.get("iterations"), options.get("time")
        if iterations not in (None, ""):
            if not STEPS.match(str(iterations)) or not 0 < int(str(iterations)) <= 10_000_000:
                raise UserError("iterations must be a whole number from 1 to 10000000")
            args += ["--iterations", str(int(str(iterations)))]
        elif minutes not in (None, ""):
            if not DURATION.match(str(minutes)):
                raise UserError(f"{str(minutes)[:40]!r} is not a duration like 90s, 10m or 1.5h")
            args += ["--time", str(minutes).strip()]
        # Neither: faceweave.toml's [train] target applies, or the command says what is missing.
    if kind == "mask-train" and options.get("time") not in (None, ""):
        minutes = str(options["time"])
        if not DURATION.match(minutes):
            raise UserError(f"{minutes[:40]!r} is not a duration like 90s, 10m or 1.5h")
        args += ["--time", minutes.strip()]
    if kind == "run":
        for side in ("src", "dst"):
            video = ws_root / f"data_{side}.mp4"  # else the photo folder data_<side>/
            args += [f"--{side}", str(video if video.exists() else ws_root / f"data_{side}")]
    start = options.get("resume_from")
    if kind == "train" and start not in (None, ""):
        if not isinstance(start, str):
            raise UserError("resume_from must name a kept checkpoint")
        from faceweave.formats.checkpoint import list_checkpoints

        kept = {p.name: p for p in list_checkpoints(ws_root / "model")}
        if start not in kept:
            raise UserError(f"there is no kept checkpoint {start!r}; kept: {', '.join(kept) or 'none'}")
        args += ["--resume-from", str(kept[str(start)])]
    if kind in ("extract-src", "extract-dst") and options.get("overwrite"):
        args.append("--overwrite")
    return args


def _job(item: Any) -> Job | None:
    """A job record from the history, or None when any field is not what the studio writes."""
    if not isinstance(item, dict):
        return None
    try:
        job = Job(**item)
    except TypeError:
        return None
    numbers = (job.created, job.started or 0, job.ended or 0)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        return None
    if (
        job.kind not in KINDS
        or job.state not in ("queued", "running", *FINAL)
        or not isinstance(job.options, dict)
        or not isinstance(job.args, list)
        or not all(isinstance(a, str) for a in job.args)
        or not (job.pid is None or (isinstance(job.pid, int) and not isinstance(job.pid, bool)))
    ):
        return None
    return job if isinstance(job.id, str) and isinstance(job.workspace, str) else None


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
            jobs = [_job(item) for item in raw["jobs"]]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return []  # a damaged history is not worth refusing the studio over; it starts again
        return [j for j in jobs if j is not None]

    def save(self, jobs: list[Job]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps({"version": 1, "jobs": [asdict(j) for j in jobs]}, indent=1))

    def events_path(self, job_id: str) -> Path:
        return self.folder / "jobs" / f"{job_id}.events.jsonl"

    def log_path(self, job_id: str) -> Path:
        return self.folder / "jobs" / f"{job_id}.log"


def resumed_options(old: Job, ws_root: Path) -> dict[str, Any]:
    """The options to run a stopped job again with. A training started from a kept checkpoint
    goes on from its own last save, named explicitly: starting over from the old checkpoint would
    throw away what it trained since, and the model's newest checkpoint may be another run's."""
    options = dict(old.options)
    if old.kind == "train" and options.get("resume_from") and old.started is not None:
        from faceweave.formats.checkpoint import list_checkpoints

        until = (old.ended or time.time()) + 1
        own = [p for p in list_checkpoints(ws_root / "model") if old.started <= p.stat().st_mtime <= until]
        if own:
            options["resume_from"] = max(own, key=lambda p: p.stat().st_mtime).name
    return options


def _started_at(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), from /proc; None when it is gone, a
    zombie or a thread rather than a process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
        boot = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
    except (OSError, StopIteration):
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    tgid = next((line.split()[1] for line in status.splitlines() if line.startswith("Tgid:")), "")
    if fields[0] == "Z" or tgid != str(pid):
        return None
    return int(boot.split()[1]) + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _job_process(job: Job) -> bool:
    """Whether `job`'s command still runs: the process its record names is `python -m faceweave`
    with the job's arguments, started when the job did (a reused number, another program, or
    this studio itself never passes), so that only that command is ever waited on or signalled."""
    pid = job.pid
    if not isinstance(pid, int) or pid <= 1 or pid == os.getpid() or job.started is None:
        return False
    started = _started_at(pid)
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except OSError:
        return False
    ours = argv[1:3] == [b"-m", b"faceweave"] and argv[3:] == [a.encode() for a in job.args]
    return ours and started is not None and job.started - 30 <= started <= job.started + 1


def _stop_with_parent() -> None:
    """In the job's process: a SIGINT (a clean save) when the studio dies, even by kill -9, so no
    job outlives it unseen."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGINT), 0, 0, 0)  # PR_SET_PDEATHSIG


class Runner:
    """Queues and runs the jobs of every workspace of a studio, one at a time."""

    def __init__(self, workspaces: dict[str, Path]) -> None:
        self.roots = dict(workspaces)
        self.lock = threading.RLock()
        self.queue: deque[str] = deque()
        self.jobs: dict[str, Job] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.orphans: dict[str, Job] = {}
        self.wake = threading.Event()
        self.stopping = False
        for name, root in self.roots.items():
            self._adopt(name, root)
        self.thread = threading.Thread(target=self._loop, name="faceweave-jobs", daemon=True)
        self.thread.start()

    def _adopt(self, name: str, root: Path) -> None:
        """Jobs from an earlier studio: one left running by a crash is interrupted."""
        store = JobStore(root)
        jobs = store.load()
        for job in jobs:
            job.workspace = name  # the folder's name now: a renamed workspace keeps its history
            if job.state == "running" and _job_process(job):
                # An earlier studio's job still saving: watched until it ends, and it holds the
                # queue meanwhile (one heavy job at a time).
                self.orphans[job.id] = job
            elif job.state in ("running", "queued"):
                job.state, job.ended = "interrupted", job.ended or time.time()
            self.jobs[job.id] = job
        if jobs:
            store.save(jobs)

    def add_workspace(self, name: str, root: Path) -> None:
        with self.lock:
            if name not in self.roots:
                self.roots[name] = root
                self._adopt(name, root)

    def history(self, workspace: str) -> list[Job]:
        with self.lock:
            return sorted(
                (j for j in self.jobs.values() if j.workspace == workspace), key=lambda j: j.created
            )

    def _save(self, workspace: str) -> None:
        JobStore(self.roots[workspace]).save(self.history(workspace))

    def submit(self, workspace: str, kind: str, options: dict[str, Any]) -> Job:
        root = self.roots[workspace]
        job = Job(
            uuid.uuid4().hex[:12], workspace, kind, job_args(kind, options, root), options=dict(options)
        )
        return self._enqueue(job)

    def _enqueue(self, job: Job) -> Job:
        """Record the job, then queue it: one that cannot be recorded is not run."""
        with self.lock:
            self.jobs[job.id] = job
            try:
                self._save(job.workspace)
            except (OSError, UserError):
                del self.jobs[job.id]
                raise UserError(
                    f"the job history in {self.roots[job.workspace] / JOBS_DIR} cannot be written"
                ) from None
            self.queue.append(job.id)
        self.wake.set()
        return job

    def resume(self, job_id: str) -> Job:
        """Run an interrupted or cancelled job again; the command resumes from what it saved."""
        old = self.get(job_id)
        if old.state not in ("interrupted", "cancelled", "failed"):
            raise UserError(f"job {job_id} is {old.state}; only a stopped job can be resumed")
        if old.workspace not in self.roots:
            raise UserError(f"the workspace of job {job_id} is gone")
        # The command line is built again from the checked options, never taken from the history
        # file (a workspace from someone else could hold any arguments there).
        options = resumed_options(old, self.roots[old.workspace])
        args = job_args(old.kind, options, self.roots[old.workspace])
        return self._enqueue(Job(uuid.uuid4().hex[:12], old.workspace, old.kind, args, options=options))

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
            if job.state == "queued":  # in the queue, or taken from it and not started yet
                if job.id in self.queue:
                    self.queue.remove(job.id)
                job.state, job.ended = "cancelled", time.time()
                self._save(job.workspace)
            elif job.state == "running" and job.id in self.processes:
                self.processes[job.id].send_signal(signal.SIGINT)
            elif job.state == "running" and job.id in self.orphans and _job_process(job) and job.pid:
                with contextlib.suppress(OSError):
                    os.kill(job.pid, signal.SIGINT)
        return job

    def _watch_orphans(self) -> bool:
        """Whether an earlier studio's job still runs; one that ended is `interrupted` (its exit
        status went to the studio that started it), so it can be resumed."""
        with self.lock:
            for job_id, job in list(self.orphans.items()):
                if not _job_process(job):
                    del self.orphans[job_id]
                    job.state, job.ended = "interrupted", time.time()
                    with contextlib.suppress(OSError, UserError):
                        self._save(job.workspace)
            return bool(self.orphans)

    def _loop(self) -> None:
        while not self.stopping:
            self.wake.wait(1.0)
            self.wake.clear()
            if self._watch_orphans():
                continue
            with self.lock:
                job_id = self.queue.popleft() if self.queue and not self.stopping else None
            if job_id is None:
                continue
            job = self.jobs[job_id]
            try:
                self._run(job)
            except Exception as exc:  # noqa: BLE001 - one broken job must not stop the queue
                with self.lock:
                    job.state, job.ended = "failed", time.time()
                    self.processes.pop(job.id, None)
                with contextlib.suppress(OSError, UserError):
                    JobStore(self.roots[job.workspace]).log_path(job.id).write_text(
                        f"the studio could not run it: {exc}\n"
                    )

    def _run(self, job: Job) -> None:
        store = JobStore(self.roots[job.workspace])
        events, log = store.events_path(job.id), store.log_path(job.id)
        events.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, EVENTS_ENV: str(events), "PYTHONUNBUFFERED": "1"}
        with open(log, "wb") as out:
            with self.lock:  # a cancel or a shutdown between the queue and here wins: nothing starts
                if job.state != "queued" or self.stopping:
                    return
                process = subprocess.Popen(  # an argument list: no shell, ever
                    [sys.executable, "-m", "faceweave", *job.args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=_stop_with_parent,
                )
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
        """On studio shutdown: no queued job starts, every running job saves and stops, as on Ctrl-C."""
        with self.lock:
            self.stopping = True
            running = list(self.processes.values())
        for process in running:
            process.send_signal(signal.SIGINT)
        for process in running:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
