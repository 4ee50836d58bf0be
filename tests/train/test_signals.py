"""Stop signals sent to the whole process group (timeout, docker stop, systemd, Slurm) save the model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faceweave.formats.checkpoint import load_checkpoint
from faceweave.workspace import Workspace
from tests.train.conftest import TINY, fresh_workspace

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process groups and /proc are Linux's")


def _start_training(ws: Workspace) -> subprocess.Popen[bytes]:
    settings = [f"--set=train.{key}={value}" for key, value in {**TINY, "loader_workers": 1}.items()]
    command = [sys.executable, "-m", "faceweave", "train", "-w", str(ws.root), "--iterations", "1000000",
               *settings]  # fmt: skip
    # A session of its own, so the group signal reaches only this run and its loader worker.
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _logged_iterations(ws: Workspace) -> int:
    log = ws.model / "train_log.jsonl"
    if not log.is_file():
        return 0
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return max((row["iteration"] for row in rows if "iteration" in row), default=0)


def _wait_for_steps(ws: Workspace, run: subprocess.Popen[bytes], steps: int) -> None:
    deadline = time.monotonic() + 120
    while _logged_iterations(ws) < steps:
        assert run.poll() is None, run.communicate()[1].decode()
        assert time.monotonic() < deadline, "training made no progress"
        time.sleep(0.2)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_to_the_process_group_saves_a_new_checkpoint(facesets: Workspace, tmp_path: Path) -> None:
    ws = fresh_workspace(facesets, tmp_path / "ws")
    run = _start_training(ws)
    _wait_for_steps(ws, run, 30)
    os.killpg(run.pid, signal.SIGTERM)
    _, err = run.communicate(timeout=120)
    stderr = err.decode()
    assert run.returncode in (130, 143), stderr
    assert "Traceback" not in stderr and "killed by signal" not in stderr, stderr
    saved = load_checkpoint(ws.model)
    assert saved.state.iteration >= 30  # the steps since the first save were kept
    assert saved.state.iteration == _logged_iterations(ws)


def test_a_loader_worker_exits_when_its_parent_is_killed(facesets: Workspace, tmp_path: Path) -> None:
    ws = fresh_workspace(facesets, tmp_path / "ws")
    run = _start_training(ws)
    _wait_for_steps(ws, run, 5)
    workers = _children(run.pid)
    assert workers, "the run has no loader worker to test"
    run.kill()
    run.communicate(timeout=60)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


def test_a_finished_run_with_loader_workers_exits_at_once(facesets: Workspace, tmp_path: Path) -> None:
    ws = fresh_workspace(facesets, tmp_path / "ws")
    settings = [f"--set=train.{key}={value}" for key, value in {**TINY, "loader_workers": 2}.items()]
    start = time.monotonic()
    command = [sys.executable, "-m", "faceweave", "train", "-w", str(ws.root), "--iterations", "3", *settings]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start < 90
    assert load_checkpoint(ws.model).state.iteration == 3


def test_a_second_sigterm_does_not_cut_the_save_short(facesets: Workspace, tmp_path: Path) -> None:
    ws = fresh_workspace(facesets, tmp_path / "ws")
    run = _start_training(ws)
    _wait_for_steps(ws, run, 30)
    os.killpg(run.pid, signal.SIGTERM)
    time.sleep(0.05)
    os.killpg(run.pid, signal.SIGTERM)  # as systemd and Slurm repeat theirs
    _, err = run.communicate(timeout=120)
    assert run.returncode in (130, 143), err.decode()
    assert "interrupted: saved iteration" in err.decode() and "Traceback" not in err.decode()
    assert load_checkpoint(ws.model).state.iteration == _logged_iterations(ws) >= 30


def test_sigterm_to_the_group_stops_a_parallel_extraction(tmp_path: Path) -> None:
    from faceweave.assets import load_sample_face
    from faceweave.media.synth import ClipSpec
    from faceweave.pseudovideo import FacePuppet, write_puppet_clip

    clip = tmp_path / "long.mp4"
    spec = ClipSpec(seconds=8, fps=25, width=320, height=240, seed=0, audio=False)
    write_puppet_clip(clip, FacePuppet.from_image(load_sample_face(0)), spec, 0)
    ws = tmp_path / "ws"
    command = [sys.executable, "-m", "faceweave", "extract", "dst", "-w", str(ws), "--input", str(clip),
               "--workers", "2", "--size", "64"]  # fmt: skip
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while not any(len(list(p.iterdir())) >= 5 for p in (ws / "data_dst").glob(".aligned.partial-*")):
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()[1].decode()
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGTERM)
    _, err = run.communicate(timeout=60)  # a hang fails here
    assert run.returncode in (130, 143), err.decode()
    assert "Traceback" not in err.decode()
    assert not list((ws / "data_dst").glob(".aligned.partial-*"))  # nothing half-built is left
    assert not (ws / "data_dst" / "aligned").exists() or not any((ws / "data_dst" / "aligned").iterdir())


@pytest.mark.parametrize("delay_s", [0.2, 0.35, 0.5])
def test_a_signal_while_the_libraries_load_stops_cleanly(
    facesets: Workspace, tmp_path: Path, delay_s: float
) -> None:
    """Interrupted inside `import torch`, a half-made module would break later code: the signal
    waits for the import to finish, then stops the run as usual."""
    ws = fresh_workspace(facesets, tmp_path / "ws")
    run = _start_training(ws)
    time.sleep(delay_s)
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode in (130, 143), err.decode()
    assert "Traceback" not in err.decode() and "internal error" not in err.decode()
