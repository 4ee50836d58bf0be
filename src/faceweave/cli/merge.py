"""`faceweave merge`: the swapped faces back into every dst frame, to result.mp4 with dst's audio."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from faceweave.cli.common import (
    build_config,
    config_flag,
    config_options,
    flag_overrides,
    info,
    progress,
    warn,
    workspace_option,
)  # fmt: skip


@click.command("merge")
@workspace_option("Workspace with data_dst/aligned and a trained model.")
@config_flag("merge.mask", "--mask")
@config_flag("merge.erode", "--erode")
@config_flag("merge.blur", "--blur")
@config_flag("merge.keep_mouth", "--keep-mouth")
@config_flag("merge.color", "--color")
@config_flag("merge.blend", "--blend")
@config_flag("merge.face_scale", "--face-scale")
@config_flag("merge.sharpen", "--sharpen")
@config_flag("merge.tracks", "--tracks")
@config_flag("merge.workers", "--workers")
@config_flag("merge.device", "--device")
@config_flag("merge.dump", "--dump")
@click.option("--preview", "preview_frame", type=int, metavar="N",
              help="Only write preview_N.png comparing the main modes on dst frame N.")  # fmt: skip
@click.option("--no-session", is_flag=True,
              help="Ignore merge_session.json (the studio merger's track and range settings).")  # fmt: skip
@config_options
def command(
    workspace: Path,
    preview_frame: int | None,
    no_session: bool,
    config_path: Path | None,
    preset: str | None,
    set_: tuple[str, ...],
    **flags: Any,
) -> None:
    """Merge the model's swap of every dst face into its frame; every [merge] option applies."""
    from faceweave.merge.preview import write_preview
    from faceweave.merge.run import open_merge, run_merge
    from faceweave.merge.session import MergeSession, describe, read_session
    from faceweave.workspace import Workspace

    ws = Workspace(workspace)
    ws.sweep(info)
    config_file = config_path or (ws.config if ws.config.is_file() else None)
    config = build_config(config_file, preset, set_, flag_overrides(flags))
    session = MergeSession() if no_session else read_session(ws.merge_session)
    if session:
        info(f"merge session {ws.merge_session.name}: {describe(session)} over faceweave.toml and the flags "
             "(--no-session ignores it)")  # fmt: skip
    config = replace(config, merge=session.base(config.merge))
    if preview_frame is not None:
        out = write_preview(
            config, open_merge(config, ws), preview_frame, ws.root / f"preview_{preview_frame}.png"
        )
        click.echo(str(out))
        return
    from faceweave.media.decode import count_frames
    from faceweave.merge.run import dst_source

    with progress(count_frames(dst_source(ws)[0]), "merge") as tick:
        report = run_merge(config, ws, tick=tick, session=session)
    info(
        f"{report.frames} frames ({report.frames_with_faces} with faces, {report.faces} faces) in "
        f"{report.seconds:.1f} s ({report.frames / max(report.seconds, 1e-9):.1f} frames/s); "
        f"audio {report.audio}"
    )
    if report.set_aside:
        warn(f"{report.set_aside} dst face(s) wait in {ws.dst_aligned / '_rejected'}/ and were not swapped; "
             "`faceweave faceset restore` brings them back")  # fmt: skip
    if report.dump_dir:
        info(f"merged frames in {report.dump_dir}/")
    click.echo(str(report.result))
