"""Entry point: the `faceweave` group, global options and the exit-code contract.

Exit codes: 0 ok, 2 bad input or config (one sentence, no traceback), 1 internal error,
130 interrupted.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from types import FrameType
from typing import Any

import click

from faceweave import __version__
from faceweave.cli import (
    demo,
    evaluate,
    extract,
    faceset,
    frames,
    init,
    mask,
    merge,
    probe,
    run,
    studio,
    train,
    verify,
    video,
)
from faceweave.errors import UserError, is_write_failure, user_path, write_error

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


def _disk_failure(exc: Exception) -> UserError | None:
    """A full or read-only disk met where no stage expected a write: the user's to fix, not a bug."""
    if isinstance(exc, OSError) and exc.filename is not None and is_write_failure(exc):
        return write_error(user_path(exc.filename), exc)
    return None


def _quiet_opencv(verbose: bool) -> None:
    """OpenCV warns on stderr about damaged images that faceweave then reports in its own words."""
    if verbose:
        return
    import cv2

    cv2.setLogLevel(2)  # errors only


def _usage_error(ctx: click.Context, exc: click.exceptions.UsageError) -> None:
    """A wrong option, value or command is bad input like any other: one sentence, exit 2, with
    where to look instead of click's usage block. A group given nothing still shows its help."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        raise exc
    where = f"see `{exc.ctx.command_path} --help`" if exc.ctx is not None else "--help lists the options"
    click.secho(f"error: {exc.format_message().rstrip('.')} ({where})", err=True, fg="red")
    ctx.exit(EXIT_USER)


class FaceweaveGroup(click.Group):
    """Turns library exceptions into one message and an exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.UsageError as exc:  # `faceweave --bogus`: the group's own options
            _usage_error(ctx, exc)
            raise  # not reached: ctx.exit raises

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.UsageError as exc:
            _usage_error(ctx, exc)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except UserError as exc:
            click.secho(f"error: {exc}", err=True, fg="red")
            ctx.exit(EXIT_USER)
        except BrokenPipeError:
            # The reader went away (`faceweave ... | head`); nothing left to tell anyone.
            sys.stderr.close()
            ctx.exit(EXIT_OK)
        except KeyboardInterrupt:
            click.secho("interrupted; finished files are kept, unfinished ones removed", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - the last line of defence, by design
            disk = _disk_failure(exc)
            if disk is not None:
                click.secho(f"error: {disk}", err=True, fg="red")
                ctx.exit(EXIT_USER)
            if (ctx.obj or {}).get("verbose"):
                traceback.print_exc()
            click.secho(
                f"internal error: {type(exc).__name__}: {exc} (a bug; rerun with --verbose and report it)",
                err=True, fg="red",
            )  # fmt: skip
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=FaceweaveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="faceweave")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print debug details and tracebacks of internal errors.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """faceweave: swap the face of a src video onto a dst video, in the line of DeepFaceLab."""
    ctx.obj = {"quiet": quiet, "verbose": verbose}
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    _quiet_opencv(verbose)
    if not verbose:  # torch logs cache statistics at INFO when it exits; that is not ours to print
        logging.getLogger("torch").setLevel(logging.WARNING)


for module in (init, extract, faceset, mask, train, merge, evaluate, run, verify, frames, video, probe, demo,
               studio):  # fmt: skip
    cli.add_command(module.command)


def _importing(frame: FrameType | None) -> bool:
    """Whether Python is importing a module where the signal arrived."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Stop signals after the first: ignored, by a handler rather than SIG_IGN, so a signal already
    pending when the first was handled is not reported as a race by Python."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (a job scheduler, `kill`) unwinds like Ctrl-C, so unfinished outputs are removed and
    # training saves.
    if _importing(frame):
        # An exception raised inside an import (numpy, torch) leaves the module half made, and later
        # code fails in odd ways: the signal is delivered again once the import is over.
        threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
        return
    # Once: a second signal (systemd and Slurm repeat theirs) must not cut the save short, so from
    # now on both are ignored; SIGKILL still ends the process at once.
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    cli(prog_name="faceweave")
