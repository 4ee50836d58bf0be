"""The merge session: settings per whole video, track and frame range, checked like faceweave.toml,
and honoured frame by frame by `faceweave merge`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceweave.cli.main import cli
from faceweave.config import load_config
from faceweave.errors import ConfigError
from faceweave.merge.run import run_merge
from faceweave.merge.session import FrameRange, MergeSession, read_session, session_from, write_session
from faceweave.workspace import Workspace
from tests.merge.conftest import copy_workspace, exact_config
from tests.merge.test_merge import MirrorModel, frames_of

BASE = load_config().merge


def document(**parts: object) -> dict[str, object]:
    return {"format": "faceweave-merge-session", "version": 1, **parts}


def test_later_layers_win_and_ranges_cover_only_their_frames() -> None:
    session = MergeSession(
        {"erode": 1.0, "color": "none"},
        {1: {"erode": 2.0}},
        (FrameRange(10, 20, {"erode": 3.0}), FrameRange(15, 15, {"erode": 4.0}, track=0)),
    )
    base = session.base(BASE)
    assert (base.erode, base.color) == (1.0, "none")
    assert session.settings(base, 5, 0).erode == 1.0
    assert session.settings(base, 5, 1).erode == 2.0
    assert session.settings(base, 10, 1).erode == 3.0  # the range over the track's own setting
    assert session.settings(base, 15, 0).erode == 4.0 and session.settings(base, 15, 1).erode == 3.0
    assert session.settings(base, 21, 0).erode == 1.0


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    session = MergeSession(
        {"blend": "seamless"}, {2: {"blur": 9.0}}, (FrameRange(3, 7, {"erode": 5.0}, 2),), 6
    )
    path = tmp_path / "merge_session.json"
    write_session(path, session)
    assert read_session(path) == session
    assert read_session(tmp_path / "absent.json") == MergeSession()


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"all": {"erode": 99}}, "erode"),
        ({"all": {"erode": float("nan")}}, "erode"),
        ({"all": {"colour": "rct"}}, "'colour' is not a merge option"),
        ({"tracks": {"0": {"tracks": "0"}}}, "'tracks' is not a merge option"),
        ({"tracks": {"x": {}}}, "not a track id"),
        ({"ranges": [{"first": 9, "last": 3, "options": {}}]}, "ends (frame 3) before it begins"),
        ({"ranges": [{"first": -1, "last": 3, "options": {}}]}, "first must be a whole number"),
        ({"ranges": [{"first": 1, "last": 3, "options": {"blend": "nope"}}]}, "blend"),
        ({"version": 7}, "version 7"),
        ({"extra": 1}, "unknown field 'extra'"),
    ],
)
def test_bad_sessions_are_named(parts: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        session_from(document(**parts), "merge_session.json")


def test_a_damaged_session_file_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "merge_session.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read as a merge session"):
        read_session(path)


def test_merge_honours_a_frame_range_and_only_there(dst_workspace: Workspace, tmp_path: Path) -> None:
    """A range that turns the swap off (mask shrunk to nothing) changes its frames only."""
    ws = copy_workspace(dst_workspace, tmp_path / "ws")
    plain = frames_of(run_merge(exact_config(), ws, model=MirrorModel()).result)
    session = MergeSession(ranges=(FrameRange(5, 9, {"erode": 20.0, "blur": 0.0}),))
    ranged = frames_of(run_merge(exact_config(), ws, model=MirrorModel(), session=session).result)
    changed = [
        float(np.abs(a.astype(int) - b.astype(int)).mean()) for a, b in zip(ranged, plain, strict=True)
    ]
    inside = changed[5:10]
    outside = changed[:5] + changed[10:]
    # Outside the range only the watermark's random payload differs between the two runs.
    assert min(inside) > 2 * max(outside) and min(inside) > 0.5, (inside, outside)


def test_cli_merge_reads_the_session_and_names_its_errors(dst_workspace: Workspace, tmp_path: Path) -> None:
    ws = copy_workspace(dst_workspace, tmp_path / "ws")
    ws.merge_session.write_text(json.dumps(document(all={"erode": 55})))
    result = CliRunner().invoke(cli, ["merge", "-w", str(ws.root)])
    assert result.exit_code == 2 and "erode" in result.output and "Traceback" not in result.output
