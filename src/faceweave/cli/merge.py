"""`faceweave merge`: the swapped faces back into every dst frame, to result.mp4 with dst's audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from faceweave.cli.common import build_config, config_options, info, progress, workspace_option


@click.command("merge")
@workspace_option("Workspace with data_dst/aligned and a trained model.")
@click.option("--mask", type=click.Choice(["dst", "learned", "learned*dst", "full"]), help="Mask mode.")
@click.option("--erode", type=float, help="Shrink (+) or grow (-) the mask, % of the face.")
@click.option("--blur", type=float, help="Feather the mask edge, % of the face.")
@click.option("--keep-mouth/--no-keep-mouth", default=None, help="Keep dst's mouth interior.")
@click.option(
    "--color", type=click.Choice(["none", "rct", "lct", "mkl", "idt", "sot"]), help="Colour transfer."
)
@click.option("--blend", type=click.Choice(["overlay", "seamless", "hist-match"]), help="Blend mode.")
@click.option("--face-scale", type=float, help="Grow (+) or shrink (-) the face, %.")
@click.option("--sharpen", type=float, help="Unsharp-mask amount (0 = off).")
@click.option("--tracks", help="Face tracks to swap: all, or ids like 0,2.")
@click.option("--workers", type=int, help="Threads merging frames.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where the model runs.")
@click.option("--dump", is_flag=True, default=None, help="Also write merged frames and masks as PNG.")
@click.option("--preview", "preview_frame", type=int, metavar="N",
              help="Only write preview_N.png comparing the main modes on dst frame N.")  # fmt: skip
@config_options
def command(
    workspace: Path,
    mask: str | None,
    erode: float | None,
    blur: float | None,
    keep_mouth: bool | None,
    color: str | None,
    blend: str | None,
    face_scale: float | None,
    sharpen: float | None,
    tracks: str | None,
    workers: int | None,
    device: str | None,
    dump: bool | None,
    preview_frame: int | None,
    config_path: Path | None,
    preset: str | None,
    set_: tuple[str, ...],
) -> None:
    """Merge the model's swap of every dst face into its frame; every [merge] option applies."""
    from faceweave.merge.preview import write_preview
    from faceweave.merge.run import open_merge, run_merge
    from faceweave.workspace import Workspace

    ws = Workspace(workspace)
    ws.sweep(info)
    flags: dict[str, dict[str, Any]] = {"merge": {
        "mask": mask, "erode": erode, "blur": blur, "keep_mouth": keep_mouth, "color": color, "blend": blend,
        "face_scale": face_scale, "sharpen": sharpen, "tracks": tracks, "workers": workers, "device": device,
        "dump": dump}}  # fmt: skip
    config_file = config_path or (ws.config if ws.config.is_file() else None)
    config = build_config(config_file, preset, set_, flags)
    if preview_frame is not None:
        out = write_preview(
            config, open_merge(config, ws), preview_frame, ws.root / f"preview_{preview_frame}.png"
        )
        click.echo(str(out))
        return
    from faceweave.media.decode import count_frames
    from faceweave.merge.run import dst_source

    with progress(count_frames(dst_source(ws)[0]), "merge") as tick:
        report = run_merge(config, ws, tick=tick)
    info(
        f"{report.frames} frames ({report.frames_with_faces} with faces, {report.faces} faces) in "
        f"{report.seconds:.1f} s ({report.frames / max(report.seconds, 1e-9):.1f} frames/s); "
        f"audio {report.audio}"
    )
    if report.dump_dir:
        info(f"merged frames in {report.dump_dir}/")
    click.echo(str(report.result))
