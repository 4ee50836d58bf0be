"""A read-only or full disk at any write: one sentence naming the path and the cause, exit 2, and every
earlier checkpoint and output intact."""

from __future__ import annotations

import builtins
import errno
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from faceweave.formats.checkpoint import latest_checkpoint, list_checkpoints
from faceweave.workspace import Workspace
from tests.helpers import assert_user_error, run
from tests.train.conftest import TINY, fresh_workspace

TINY_SETTINGS = [f"--set=train.{k}={v}" for k, v in TINY.items()]
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _inside(path: Any, root: Path) -> bool:
    try:
        return Path(os.path.abspath(os.fspath(path))).is_relative_to(root)
    except TypeError:
        return False  # a file descriptor


def make_read_only(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Every write, create, rename and removal under `root` fails with EROFS, as on a read-only mount."""
    root = Path(os.path.abspath(root))

    def refuse(path: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    def on_path(original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
            if _inside(path, root):
                refuse(path)
            return original(path, *args, **kwargs)

        return guarded

    def opener(original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if any(c in mode for c in "wax+") and _inside(file, root):
                refuse(file)
            return original(file, mode, *args, **kwargs)

        return guarded

    real_os_open = os.open

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS and _inside(path, root):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", opener(builtins.open))
    monkeypatch.setattr(io, "open", opener(io.open))
    monkeypatch.setattr(os, "open", os_open)
    for name in ("replace", "rename", "mkdir", "unlink", "remove", "rmdir"):
        monkeypatch.setattr(os, name, on_path(getattr(os, name)))


@pytest.fixture(scope="module")
def trained(facesets: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = fresh_workspace(facesets, tmp_path_factory.mktemp("faults") / "ws")
    assert run("train", "-w", ws.root, "--iterations", "2", *TINY_SETTINGS).exit_code == 0
    assert run("merge", "-w", ws.root).exit_code == 0
    return ws


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "command",
    [
        ["train", "-w", "{ws}", "--iterations", "4", *TINY_SETTINGS],
        ["init", "{ws}", "--force"],
        ["merge", "-w", "{ws}"],
        ["merge", "-w", "{ws}", "--preview", "3"],
        ["video", "{ws}/result.mp4", "{ws}/copy.mp4"],
        ["extract", "-w", "{ws}", "dst", "--overwrite", "--input", "{dst}"],
    ],
    ids=["train", "init-force", "merge", "merge-preview", "video", "extract-overwrite"],
)
def test_a_read_only_workspace_is_one_sentence_and_exit_2(
    trained: Workspace, facesets: Workspace, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(trained.root)
    dst = facesets.root / "dst.mp4"
    args = [part.format(ws=trained.root, dst=dst) for part in command]
    make_read_only(monkeypatch, trained.root)
    result = run(*args)
    monkeypatch.undo()
    assert_user_error(result, "read-only")
    assert "partial" not in result.output  # the user's name for the file, not our temporary one
    after = _snapshot(trained.root)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing earlier was touched


def _limited(limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    """A real process whose file size limit (RLIMIT_FSIZE) runs out, as a full disk does mid-write."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, *args], capture_output=True, text=True, preexec_fn=apply,
                          timeout=300, check=False)  # fmt: skip


@pytest.mark.parametrize("failing", ["model.safetensors", "optimizer.pt"])
def test_a_full_disk_while_saving_a_checkpoint_keeps_the_previous_one(
    trained: Workspace, tmp_path: Path, failing: str
) -> None:
    ws = fresh_workspace(trained, tmp_path / "ws")
    shutil.rmtree(ws.model)
    shutil.copytree(trained.model, ws.model)
    previous = latest_checkpoint(ws.model)
    assert previous is not None
    sizes = {p.name: p.stat().st_size for p in previous.iterdir()}
    assert sizes["optimizer.pt"] > sizes["model.safetensors"]
    # Large enough for the log and the weights but not the optimizer state, or not even the weights.
    weights = sizes["model.safetensors"]
    limit = weights + 4096 if failing == "optimizer.pt" else weights // 2
    proc = _limited(limit, "-m", "faceweave", "train", "-w", str(ws.root), "--iterations", "5",
                    *TINY_SETTINGS)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "cannot write" in proc.stderr and "file size limit" in proc.stderr
    assert latest_checkpoint(ws.model) == ws.model / previous.name
    assert [p.name for p in list_checkpoints(ws.model)] == [p.name for p in list_checkpoints(trained.model)]
    assert not [p for p in ws.model.iterdir() if "partial" in p.name]


def test_a_full_disk_while_signing_keeps_the_earlier_output(facesets: Workspace, tmp_path: Path) -> None:
    unsigned = tmp_path / "plain.mp4"
    unsigned.write_bytes((facesets.root / "dst.mp4").read_bytes())
    out = tmp_path / "signed.mp4"
    out.write_bytes(b"an earlier result")
    script = (
        "import sys; from pathlib import Path; from faceweave.cli.main import main; "
        "from faceweave.provenance.manifest import sign_to\n"
        "from faceweave.errors import UserError\n"
        f"try:\n    sign_to(Path({str(unsigned)!r}), Path({str(out)!r}))\n"
        "except UserError as exc:\n    print(exc); sys.exit(2)\n"
    )
    proc = _limited(unsigned.stat().st_size + 200, "-c", script)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"cannot write {out}: the file size limit was reached" in proc.stdout
    assert out.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.mp4", "signed.mp4"]


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_the_next_run_clears_what_a_killed_run_left_and_says_so(trained: Workspace, tmp_path: Path) -> None:
    ws = fresh_workspace(trained, tmp_path / "ws")
    shutil.rmtree(ws.model)
    shutil.copytree(trained.model, ws.model)
    dead, alive = _dead_pid(), os.getppid()
    stale_ckpt = ws.model / f".ckpt-000000099.partial-{dead}"
    stale_ckpt.mkdir()
    (stale_ckpt / "model.safetensors").write_bytes(b"half a checkpoint")
    stale_result = ws.root / f"..result.unsigned.partial-{dead}.partial-{dead}.mp4"
    stale_result.write_bytes(b"half a video")
    busy = ws.model / f".ckpt-000000100.partial-{alive}"  # another run, still going: not ours to touch
    busy.mkdir()
    aligned = ws.dst_aligned
    aligned.rename(aligned.with_name(f".aligned.old-{dead}"))  # killed between the two renames
    result = run("train", "-w", ws.root, "--iterations", "3", *TINY_SETTINGS)
    assert result.exit_code == 0, result.output
    assert not stale_ckpt.exists() and not stale_result.exists() and busy.is_dir()
    assert "removed 1 unfinished file(s)" in result.output and stale_ckpt.name in result.output
    assert f"put back {aligned}" in result.output and len(list(aligned.iterdir())) > 0
