"""`faceweave faceset ...`: inspect, sort, clean, restore, combine and compare facesets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceweave.cli.common import (
    DeclaredChoice,
    Number,
    config_flag,
    config_options,
    info,
    is_quiet,
    warn,
)
from faceweave.plugins import Choices
from faceweave.registries import SORTS


@click.group("faceset")
def command() -> None:
    """Inspect, sort, clean and combine facesets (folders of aligned faces)."""


@command.command("info")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--decode", is_flag=True, help="Also decode every image (finds damaged pixel data; slower).")
def info_command(folder: Path, decode: bool) -> None:
    """Counts, crop sizes, face types, tracks, pose ranges and frames without faces; each damaged
    file with what is wrong with it."""
    from faceweave.faceset.info import REASON_MAX_CHARS, faceset_info, shown

    info = faceset_info(folder, decode)
    click.echo(f"{folder}: {info.faces} faces")
    if info.unreadable:
        click.echo(f"  {len(info.unreadable)} damaged file(s):")
        for bad in info.unreadable:
            click.echo(f"    {shown(bad.name)}: {shown(bad.reason, REASON_MAX_CHARS)}")
    if info.set_aside:
        shelves = ", ".join(f"{shown(reason)} x{n}" for reason, n in sorted(info.set_aside.items()))
        click.echo(f"  set aside in _rejected/: {shelves} (`faceweave faceset restore` brings them back)")
    if not info.faces:
        return
    click.echo("  sizes: " + ", ".join(f"{s}px x{n}" for s, n in sorted(info.sizes.items())))
    click.echo("  face types: " + ", ".join(f"{t} x{n}" for t, n in sorted(info.face_types.items())))
    if info.bridged:
        click.echo(f"  bridged over a detector miss: {info.bridged} face(s)")
    click.echo("  tracks: " + ", ".join(f"#{t}: {n}" for t, n in sorted(info.tracks.items())))
    click.echo("  sources: " + ", ".join(f"{shown(s)} x{n}" for s, n in sorted(info.sources.items())))
    for name, (lo, hi) in (("yaw", info.yaw), ("pitch", info.pitch), ("roll", info.roll)):
        click.echo(f"  {name}: {lo:+.1f} .. {hi:+.1f} deg")
    if info.frames_read is not None:
        missing = info.frames_without_faces
        listed = ", ".join(str(i) for i in missing[:20]) + (" ..." if len(missing) > 20 else "")
        click.echo(
            f"  frames read: {info.frames_read}; without a face: {len(missing)}"
            + (f" ({listed})" if missing else "")
        )
    if info.summary_problem:
        click.echo(f"  extraction summary: {shown(info.summary_problem, REASON_MAX_CHARS)}")


def _faceset_config(config_path: Path | None, preset: str | None, set_: tuple[str, ...],
                    options: dict[str, Any]) -> Any:  # fmt: skip
    from faceweave.cli.common import build_config, flag_overrides

    return build_config(config_path, preset, set_, flag_overrides(options))


def _measuring(done: int, total: int) -> None:
    """A one-line counter on stderr while faces are measured for the statistics cache."""
    if is_quiet() or total < 200:
        return
    step = max(total // 20, 1)
    if done == total or done % step < max(1, min(step, 64)):
        click.echo(f"\r  measured {done}/{total} faces", err=True, nl=done == total)


_references = click.option(
    "--reference", "references", multiple=True, type=click.Path(path_type=Path), metavar="IMAGE",
    help="A picture of the wanted person (repeatable); identity is measured against it instead of "
    "the faceset's own main identity.",
)  # fmt: skip
_workers = config_flag("faceset.workers", "--workers")


@command.command("sort")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--by", "method", type=DeclaredChoice(Choices(SORTS)), help="The sort method.")
@click.option("--count", type=Number(1, 10_000_000, integer=True),
              help="best: keep this many faces; the others move to FOLDER/_rejected/best/.")  # fmt: skip
@_references
@click.option("--reverse", is_flag=True, help="Reverse the order (the worst first).")
@click.option("--undo", is_flag=True, help="Undo the last sort of FOLDER (repeat to undo earlier ones).")
@_workers
@config_options
def sort_command(folder: Path, method: str | None, count: float | None, references: tuple[Path, ...],
                 reverse: bool, undo: bool, config_path: Path | None, preset: str | None,
                 set_: tuple[str, ...], **options: Any) -> None:  # fmt: skip
    """Rename the faces of FOLDER into the order of a sort method (`00000-000123_0.png`, ...).
    Metadata is untouched, each face's mask moves with it, and every sort is logged in
    FOLDER/_sort_log.json so that --undo can reverse it."""
    from faceweave.faceset.info import shown
    from faceweave.faceset.moves import undo_last
    from faceweave.faceset.sort import run_sort

    if undo:
        if method or count or references or reverse:
            raise click.UsageError("--undo takes no other option")
        undone = undo_last(folder)
        if undone.recovered:
            click.echo(f"{undone.recovered}; no sort was undone (run --undo again to undo the last one)")
            return
        gone = f", {undone.gone} no longer there" if undone.gone else ""
        click.echo(f"undid the {undone.what}: {undone.back} face(s) renamed back{gone}")
        return
    if method is None:
        raise click.UsageError("give --by METHOD (or --undo)")
    cfg = _faceset_config(config_path, preset, set_, options).faceset
    report = run_sort(folder, method, cfg, references, None if count is None else int(count), reverse, info,
                      _measuring)  # fmt: skip
    first = ", ".join(shown(n) for n in report.first) + (" ..." if report.faces > len(report.first) else "")
    click.echo(f"sorted {report.faces} faces of {folder} by {method}: {first}")
    if report.set_aside:
        click.echo(f"  {report.set_aside} face(s) moved to {folder / '_rejected' / method}")


def _clean_flags(func: Any) -> Any:
    for key, flag in reversed((("faceset.min_size", "--min-size"), ("faceset.min_score", "--min-score"),
                               ("faceset.blur", "--blur"), ("faceset.identity", "--identity"),
                               ("faceset.duplicate_bits", "--duplicate-bits"))):  # fmt: skip
        func = config_flag(key, flag)(func)
    return func


@command.command("clean")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="List what would move; move nothing.")
@_references
@_clean_flags
@_workers
@config_options
def clean_command(folder: Path, dry_run: bool, references: tuple[Path, ...], config_path: Path | None,
                  preset: str | None, set_: tuple[str, ...], **options: Any) -> None:  # fmt: skip
    """Move faces below the thresholds (damaged, small, low detector score, blurry, another
    person, near-duplicate) into FOLDER/_rejected/<reason>/. Nothing is deleted; `faceset restore`
    brings them back."""
    from collections import Counter

    from faceweave.faceset.clean import REASONS, run_clean
    from faceweave.faceset.info import shown

    cfg = _faceset_config(config_path, preset, set_, options).faceset
    report = run_clean(folder, cfg, references, dry_run, info, _measuring)
    for rejection in report.rejections:
        if dry_run or not is_quiet():
            click.echo(f"  {rejection.reason:9} {shown(rejection.name)}: {shown(rejection.detail)}")
    counts = Counter(r.reason for r in report.rejections)
    listed = ", ".join(f"{counts[r]} {r}" for r in REASONS if counts[r]) or "none"
    verb = "would move" if dry_run else "moved"
    click.echo(f"{folder}: {len(report.rejections)} of {report.faces + counts['damaged']} face(s) {verb} "
               f"to _rejected/ ({listed})")  # fmt: skip


@command.command("restore")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--reason", "reasons", multiple=True, metavar="REASON",
              help="Only the faces set aside for this reason (repeatable; default: all).")  # fmt: skip
def restore_command(folder: Path, reasons: tuple[str, ...]) -> None:
    """Bring the faces of FOLDER/_rejected/ back into FOLDER, byte for byte."""
    from faceweave.faceset.clean import restore
    from faceweave.faceset.info import shown

    result = restore(folder, reasons)
    click.echo(f"restored {result.restored} face(s) into {folder}")
    if result.left:
        listed = ", ".join(shown(n) for n in result.left[:3]) + (" ..." if len(result.left) > 3 else "")
        warn(f"{len(result.left)} face(s) stay in _rejected/: a face or mask of that name is back ({listed})")


@command.command("combine")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="The new faceset folder.")
@config_options
def combine_command(sources: tuple[Path, ...], out: Path, config_path: Path | None, preset: str | None,
                    set_: tuple[str, ...]) -> None:  # fmt: skip
    """Build one faceset from SOURCES: videos, photo folders and facesets (videos and photos are
    extracted with the [extract] options). Face names start with their source's tag, combine.json
    maps the tags to the sources, and duplicates across sources are folded."""
    from faceweave.faceset.combine import run_combine

    config = _faceset_config(config_path, preset, set_, {})
    report = run_combine(config, sources, out, info)
    for source in report.sources:
        click.echo(f"  {source.tag}: {source.faces} face(s) from {source.kind} {source.path}")
    click.echo(
        f"{out}: {report.faces} face(s); {report.folded} duplicate(s) folded into _rejected/duplicate/"
    )


@command.command("coverage")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder for coverage.png and coverage.json.")  # fmt: skip
@config_flag("faceset.pose_deg", "--pose-deg")
@_workers
@config_options
def coverage_command(src: Path, dst: Path, out: Path, config_path: Path | None, preset: str | None,
                     set_: tuple[str, ...], **options: Any) -> None:  # fmt: skip
    """Which poses and expressions of the DST faceset the SRC faceset lacks: coverage.png (yaw x
    pitch, mouth x eyes), coverage.json and a summary naming the dst frames."""
    from faceweave.faceset.coverage import run_coverage

    config = _faceset_config(config_path, preset, set_, options)
    result = run_coverage(src, dst, config.faceset.pose_deg, out, config.train.expression_aug > 0,
                          config.faceset.workers)  # fmt: skip
    for line in result.lines():
        click.echo(line)
    click.echo(f"picture: {out / 'coverage.png'}")
