"""`data_<side>/extract.json`: what an extraction read, and which frames had no face.

Merge finds the dst video through it, `run` decides whether a faceset is finished with it, and
`faceset info` and `eval` report from it, so it has one typed reader. Version 1 (the files written
before the schema had a number) is migrated on read; writers always write the current version.

{"schema_version": 2, "source": "data_dst.mp4", "frames": 250, "faces": 248,
 "frames_without_faces": [17, 18], "dropped_by_identity": 0, "tracks": 1, "skipped_frames": 0,
 "extract": {...the [extract] options used...}}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from faceweave.atomic import write_text_atomic
from faceweave.errors import UserError
from faceweave.formats.jsonfile import read_json

SUMMARY_NAME = "extract.json"
SUMMARY_SCHEMA = 2
MAX_BYTES = 64 << 20  # a frame index per faceless frame of a very long video still fits


class SummaryError(UserError):
    """extract.json is missing, damaged or from a newer faceweave."""


@dataclass(frozen=True)
class ExtractSummary:
    source: str
    frames: int
    faces: int
    frames_without_faces: tuple[int, ...] = ()
    dropped_by_identity: int = 0
    tracks: int = 0
    skipped_frames: int = 0
    extract: dict[str, Any] = field(default_factory=dict)


def _from_v1(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "schema_version": 2}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_v1}


def summary_path(aligned: Path) -> Path:
    """Where the summary of the faceset in `aligned` lives: beside it."""
    return aligned.parent / SUMMARY_NAME


def write_summary(path: Path, summary: ExtractSummary) -> None:
    document = {"schema_version": SUMMARY_SCHEMA, **asdict(summary)}
    document["frames_without_faces"] = list(summary.frames_without_faces)
    write_text_atomic(path, json.dumps(document, indent=1) + "\n")


def _count(document: dict[str, Any], key: str, path: Path, default: int | None = None) -> int:
    value = document.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise SummaryError(f"{path}: {key!r} must be a count (a whole number of at least 0)")
    return value


def read_summary(path: Path) -> ExtractSummary:
    """The summary at `path`, checked field by field; SummaryError names the file and the field."""
    missing = "is missing: run `faceweave extract` first"
    document = read_json(path, MAX_BYTES, "an extraction summary", missing, SummaryError)
    if not isinstance(document, dict):
        raise SummaryError(f"{path} is not a JSON object")
    version = document.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SummaryError(f"{path}: 'schema_version' must be a whole number")
    if version > SUMMARY_SCHEMA:
        raise SummaryError(
            f"{path} has schema_version {version}, newer than this faceweave ({SUMMARY_SCHEMA})"
        )
    while version < SUMMARY_SCHEMA:
        document, version = MIGRATIONS[version](document), version + 1
    source = document.get("source")
    if not isinstance(source, str) or not source or len(source) > 4096:
        raise SummaryError(f"{path}: 'source' must name the video or folder that was read")
    missing = document.get("frames_without_faces", [])
    if not isinstance(missing, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in missing
    ):
        raise SummaryError(f"{path}: 'frames_without_faces' must be a list of frame indices")
    extract = document.get("extract", {})
    if not isinstance(extract, dict):
        raise SummaryError(f"{path}: 'extract' must be a table of options")
    return ExtractSummary(
        source,
        _count(document, "frames", path),
        _count(document, "faces", path),
        tuple(missing),
        _count(document, "dropped_by_identity", path, 0),
        _count(document, "tracks", path, 0),
        _count(document, "skipped_frames", path, 0),
        extract,
    )
