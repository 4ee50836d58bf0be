"""What every command shares: config options, progress bars, messages."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
FLAG_PREFIX = "config__"


class DeclaredChoice(click.Choice[str]):
    """The allowed values of a config option, read from its declaration (a plugin registry's names
    are read only when help is shown or a value is checked)."""

    def __init__(self, choices: Any) -> None:
        self._declared = choices
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from faceweave.plugins import choice_names

        return choice_names(self._declared)

    @choices.setter
    def choices(self, _: Any) -> None:
        pass  # click's __init__ assigns; the declaration is the source


class Number(click.ParamType[float]):
    """A finite number in [lo, hi] (NaN and infinity refused), for flags that are not config options."""

    name = "number"

    def __init__(self, lo: float, hi: float, integer: bool = False) -> None:
        self.lo, self.hi, self.integer = lo, hi, integer
        self.name = "integer" if integer else "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = int(value) if self.integer else float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{value!r} is not {'a whole number' if self.integer else 'a number'}", param, ctx)
        if not math.isfinite(number) or not self.lo <= number <= self.hi:
            self.fail(f"{value!r}: give a finite number from {self.lo:g} to {self.hi:g}", param, ctx)
        return number


def config_flag(key: str, *names: str) -> Callable[[F], F]:
    """A command-line flag that sets the faceweave.toml option `key` (section.name) for one run.
    Its type, allowed values and help come from the option's one declaration in config.py."""
    from faceweave.config import declaration

    kind, meta = declaration(key)
    dest = FLAG_PREFIX + key.replace(".", "__")
    text = f"{meta['help'][:1].upper()}{meta['help'][1:]} ({key})."
    if kind is bool:
        long = names[0].removeprefix("--")
        return click.option(f"--{long}/--no-{long}", dest, default=None, help=text)
    combined = getattr(meta["choices"], "combine", False)
    kind_type: Any = DeclaredChoice(meta["choices"]) if meta["choices"] and not combined else kind
    if combined:
        return click.option(*names, dest, type=str, help=text, cls=ProductOption, declared=meta["choices"])
    return click.option(*names, dest, type=kind_type, help=text)


class ProductOption(click.Option):
    """An option whose value multiplies names of a registry ("learned*dst"); its help lists the names,
    read when help is shown."""

    def __init__(self, *args: Any, declared: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declared = declared

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        names = "|".join(self.declared.names())
        return record[0].replace("TEXT", f"[{names}][*...]"), record[1]


def flag_overrides(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The values of `config_flag` flags given on the command line, as config overrides."""
    found: dict[str, dict[str, Any]] = {}
    for dest, value in options.items():
        if dest.startswith(FLAG_PREFIX) and value is not None:
            section, name = dest.removeprefix(FLAG_PREFIX).split("__", 1)
            found.setdefault(section, {})[name] = value
    return found


def config_options(func: F) -> F:
    """--config, --preset and --set, in that order of precedence (later wins)."""
    func = click.option(
        "--set", "set_", multiple=True, metavar="SECTION.KEY=VALUE",
        help="Override one option of faceweave.toml, e.g. --set video.crf=20 (repeatable).",
    )(func)  # fmt: skip
    func = click.option(
        "--preset",
        metavar="NAME",
        help="Apply a preset (quick, balanced, hd) on top of the config; "
        "without a config file, the one that suits this machine.",
    )(func)
    func = click.option(
        "--config", "config_path", type=click.Path(path_type=Path), metavar="FILE",
        help="A faceweave.toml to read (default: built-in defaults).",
    )(func)  # fmt: skip
    return func


def build_config(config_path: Path | None, preset: str | None, set_: tuple[str, ...],
                 flags: dict[str, dict[str, Any]] | None = None) -> Any:  # fmt: skip
    """Load and validate the config; explicit command flags win over --set. Without a config file
    or a preset, the preset that suits this machine applies (quick on a CPU, hd on a GPU)."""
    from faceweave.config import load_config, parse_override
    from faceweave.presets import device_preset

    overrides: dict[str, dict[str, Any]] = {}
    for item in set_:
        section, key, value = parse_override(item)
        overrides.setdefault(section, {})[key] = value
    for section, values in (flags or {}).items():
        for key, value in values.items():
            if value is not None:
                overrides.setdefault(section, {})[key] = value
    if config_path is None and preset is None:
        preset = device_preset()
    return load_config(config_path, preset, overrides)


def is_quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().obj and ctx.find_root().obj.get("quiet"))


EVENTS_ENV = "FACEWEAVE_EVENTS"  # a file the studio reads: progress and messages as JSON lines


def event(kind: str, **data: Any) -> None:
    """One JSON line for a watcher (the studio) when FACEWEAVE_EVENTS names a file; else nothing."""
    import json
    import os
    import time

    path = os.environ.get(EVENTS_ENV)
    if not path:
        return
    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"kind": kind, "time": round(time.time(), 2), **data}) + "\n")


def info(message: str) -> None:
    """A status line on stderr, hidden by --quiet (and an event for a watcher)."""
    event("message", text=message)
    if not is_quiet():
        click.echo(message, err=True)


def warn(message: str) -> None:
    click.secho(f"warning: {message}", err=True, fg="yellow")


@contextlib.contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[], None]]:
    """A progress bar with ETA on stderr (silent under --quiet); yields a tick function. A watcher
    (FACEWEAVE_EVENTS) gets a progress event about twice a second."""
    import time

    done, last = [0], [0.0]

    def told() -> None:
        done[0] += 1
        now = time.monotonic()
        if now - last[0] >= 0.5 or done[0] >= total:
            last[0] = now
            event("progress", label=label, done=done[0], total=total)

    event("progress", label=label, done=0, total=total)
    if is_quiet():
        yield told
        return
    with click.progressbar(length=max(total, 1), label=label, show_eta=True, show_pos=True,
                           file=sys.stderr) as bar:  # fmt: skip

        def tick() -> None:
            bar.update(1)
            told()

        yield tick


def print_eval(evaluation: Any, report_dir: Path) -> None:
    """`faceweave eval`'s one-screen summary (an EvalReport, or None when it could not score)."""
    from faceweave.quality.report import summary_lines

    if evaluation is None:
        return
    for line in summary_lines(evaluation):
        click.echo(line)
    click.echo(f"report:     {report_dir / 'report.html'}")


def workspace_option(help_text: str, default: str = ".") -> Callable[[F], F]:
    """The -w/--workspace option every stage command takes, with its own help and default."""
    return click.option(
        "-w", "--workspace", type=click.Path(path_type=Path), default=Path(default), show_default=True,
        help=help_text,
    )  # fmt: skip
