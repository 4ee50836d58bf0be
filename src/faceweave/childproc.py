"""Helper processes (batch loaders, detection workers) that leave signals to their parent.

`timeout`, `docker stop`, systemd and Slurm send SIGTERM (and a terminal sends SIGINT) to the whole
process group. A worker that dies of it first makes the parent fail with "worker killed" before it
can save, so workers ignore both and the parent alone decides how to stop. A worker whose parent
died (`kill -9`) must not linger holding memory and files, so the kernel kills it with the parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing.process
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_PR_SET_PDEATHSIG = 1


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGTERM/SIGINT while workers are started, so none arrives before they ignore it.

    Children inherit the blocked mask; the parent gets any held signal as soon as the block ends.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop_workers(processes: list[multiprocessing.process.BaseProcess]) -> None:
    """End workers that ignore SIGTERM (so `terminate()` and multiprocessing's own exit handler
    would wait on them forever): SIGKILL, then reap, so none is left to join at exit."""
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(timeout=10)


def _from_fd_server(tb: TracebackType | None) -> bool:
    frames = traceback.extract_tb(tb) if tb is not None else []
    return any(
        Path(f.filename).name == "resource_sharer.py" and "multiprocessing" in f.filename for f in frames
    )


def quiet_fd_server() -> None:
    """Keep multiprocessing's file-descriptor server thread quiet when a stop cuts a hand-over short.

    Batch workers pass tensors to the parent as file descriptors; a thread of multiprocessing's
    resource sharer serves them. When training stops (Ctrl-C, SIGTERM) while one is in flight, that
    thread's accept() fails and it hands the error to sys.excepthook, which prints a traceback,
    though nothing is lost: the batch was being thrown away. Every other error is reported as before."""
    previous = sys.excepthook
    if getattr(previous, "quiet_fd_server", False):
        return

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if not _from_fd_server(tb):
            previous(kind, value, tb)

    hook.quiet_fd_server = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def shield_worker(parent_pid: int) -> None:
    """Run first in every worker: ignore stop signals and die with the parent `parent_pid`. The
    parent stops its workers itself (`stop_workers`), with SIGKILL when they will not finish."""
    quiet_fd_server()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:
        # The parent died before the death signal was armed: nobody is left to serve.
        os._exit(1)
