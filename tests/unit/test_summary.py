"""extract.json: one typed reader, today's files migrated, damage named by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faceweave.formats.summary import (
    SUMMARY_SCHEMA,
    ExtractSummary,
    SummaryError,
    read_summary,
    write_summary,
)

# What extraction wrote before the summary had a schema version (version 1).
VERSION_1 = {"source": "/work/data_dst.mp4", "frames": 30, "faces": 28,
             "frames_without_faces": [4, 5], "dropped_by_identity": 0, "tracks": 1, "skipped_frames": 0,
             "extract": {"size_px": 256}}  # fmt: skip


def test_a_version_1_summary_is_read_and_rewritten_as_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "extract.json"
    path.write_text(json.dumps(VERSION_1))
    summary = read_summary(path)
    assert summary == ExtractSummary("/work/data_dst.mp4", 30, 28, (4, 5), 0, 1, 0, {"size_px": 256})
    write_summary(path, summary)
    assert json.loads(path.read_text())["schema_version"] == SUMMARY_SCHEMA
    assert read_summary(path) == summary


@pytest.mark.parametrize(
    ("change", "field"),
    [({"frames": "30"}, "frames"), ({"faces": -1}, "faces"), ({"source": ""}, "source"),
     ({"frames_without_faces": [1, "x"]}, "frames_without_faces"), ({"tracks": True}, "tracks"),
     ({"schema_version": 99}, "newer"), ({"extract": []}, "extract")],
)  # fmt: skip
def test_a_damaged_summary_names_the_field(tmp_path: Path, change: dict[str, object], field: str) -> None:
    path = tmp_path / "extract.json"
    path.write_text(json.dumps({**VERSION_1, **change}))
    with pytest.raises(SummaryError, match=field):
        read_summary(path)


def test_missing_and_unreadable_summaries_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SummaryError, match="missing: run `faceweave extract` first"):
        read_summary(tmp_path / "extract.json")
    (tmp_path / "extract.json").write_text("[" * 100_000)
    with pytest.raises(SummaryError, match="cannot be read"):
        read_summary(tmp_path / "extract.json")
