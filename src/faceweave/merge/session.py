"""The merge session: merge settings for the whole video, per track and per frame range, kept in
the workspace's `merge_session.json` (DeepFaceLab's merger keeps per-frame settings in a session
too). The studio's interactive merger writes it and `faceweave merge` honours it.

A face's settings are faceweave.toml's [merge] (and command-line flags), then the session's
`all`, then its track's entry, then every range that covers its frame, later ranges winning.
Every value is checked against the one declaration of the option in config.py, with the same
messages as a faceweave.toml value.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faceweave.atomic import write_text_atomic
from faceweave.config import Config, MergeConfig, to_raw, validate
from faceweave.errors import ConfigError
from faceweave.formats.jsonfile import read_json

SESSION_NAME = "merge_session.json"
FORMAT = "faceweave-merge-session"
VERSION = 1
MAX_BYTES = 8 << 20
MAX_RANGES = 2_000
MAX_TRACKS = 256
# What may change from face to face: everything that shapes how one face is finished and pasted.
PER_FACE = ("mask", "erode", "blur", "keep_mouth", "color", "shading", "color_smoothing", "blend",
            "face_scale", "temporal", "sharpen", "degrade_blur", "degrade_noise")  # fmt: skip
WHOLE_VIDEO = (*PER_FACE, "tracks")  # `tracks` picks which faces are swapped at all
Options = dict[str, Any]


@dataclass(frozen=True)
class FrameRange:
    """Settings for frames first..last (inclusive), of one track or (track None) of every track."""

    first: int
    last: int
    options: Options
    track: int | None = None

    def covers(self, frame: int, track: int) -> bool:
        return self.first <= frame <= self.last and self.track in (None, track)


@dataclass(frozen=True)
class MergeSession:
    all: Options = field(default_factory=dict)
    tracks: dict[int, Options] = field(default_factory=dict)
    ranges: tuple[FrameRange, ...] = ()
    frame: int = 0  # where the interactive merger was last: it opens there again

    def __bool__(self) -> bool:
        return bool(self.all or self.tracks or self.ranges)

    def base(self, cfg: MergeConfig) -> MergeConfig:
        """`cfg` with the session's whole-video settings."""
        return dataclasses.replace(cfg, **self.all) if self.all else cfg

    def settings(self, cfg: MergeConfig, frame: int, track: int) -> MergeConfig:
        """The settings of track `track`'s face in frame `frame`, on top of `cfg` (already `base`d)."""
        changes: Options = dict(self.tracks.get(track, {}))
        for span in self.ranges:
            if span.covers(frame, track):
                changes.update(span.options)
        return dataclasses.replace(cfg, **changes) if changes else cfg

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "frame": self.frame,
            "all": self.all,
            "tracks": {str(k): v for k, v in sorted(self.tracks.items())},
            "ranges": [dataclasses.asdict(r) for r in self.ranges],
        }


def check_options(value: object, allowed: tuple[str, ...], where: str) -> Options:
    """`value` as merge options: known names only, each value checked as faceweave.toml's would be
    (an int for a float option becomes a float)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table of merge options")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]!r} is not a merge option a session can set; "
                          f"known: {', '.join(allowed)}")  # fmt: skip
    raw = to_raw(Config())
    raw["merge"].update(value)
    checked = validate(raw, where, {f"merge.{k}": where for k in value}).merge
    return {k: getattr(checked, k) for k in value}


def _index(value: object, where: str, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= 2**31 - 1:
        raise ConfigError(f"{where} must be a whole number from {lo}")
    return value


def session_from(document: object, origin: str) -> MergeSession:
    """A session from its JSON document, every part checked; a ConfigError names what is wrong."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f"{origin} is not a faceweave merge session")
    version = document.get("version")
    if version != VERSION:
        raise ConfigError(f"{origin} is merge session version {version!r}; this faceweave reads {VERSION}")
    known = {"format", "version", "frame", "all", "tracks", "ranges"}
    extra = sorted(set(document) - known)
    if extra:
        raise ConfigError(f"{origin}: unknown field {extra[0]!r}")
    tracks_in = document.get("tracks", {})
    if not isinstance(tracks_in, dict) or len(tracks_in) > MAX_TRACKS:
        raise ConfigError(f"{origin}: tracks must be a table of at most {MAX_TRACKS} track id -> options")
    tracks: dict[int, Options] = {}
    for key, options in tracks_in.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 10):
            raise ConfigError(f"{origin}: track {key!r} is not a track id")
        tracks[int(key)] = check_options(options, PER_FACE, f"{origin} track {key}")
    ranges_in = document.get("ranges", [])
    if not isinstance(ranges_in, list) or len(ranges_in) > MAX_RANGES:
        raise ConfigError(f"{origin}: ranges must be a list of at most {MAX_RANGES}")
    ranges = []
    for k, item in enumerate(ranges_in):
        where = f"{origin} range {k + 1}"
        if not isinstance(item, dict) or set(item) - {"first", "last", "track", "options"}:
            raise ConfigError(f"{where} must be a table with first, last, track and options")
        first, last = _index(item.get("first"), f"{where} first"), _index(item.get("last"), f"{where} last")
        if last < first:
            raise ConfigError(f"{where} ends (frame {last}) before it begins (frame {first})")
        track = item.get("track")
        ranges.append(FrameRange(first, last, check_options(item.get("options"), PER_FACE, where),
                                 None if track is None else _index(track, f"{where} track")))  # fmt: skip
    return MergeSession(
        check_options(document.get("all", {}), WHOLE_VIDEO, f"{origin} all"),
        tracks,
        tuple(ranges),
        _index(document.get("frame", 0), f"{origin} frame"),
    )


def read_session(path: Path) -> MergeSession:
    """The session at `path`; an empty one when there is none."""
    if not path.exists():
        return MergeSession()
    document = read_json(path, MAX_BYTES, "a merge session (JSON)", "does not exist", ConfigError)
    return session_from(document, str(path))


def write_session(path: Path, session: MergeSession) -> None:
    write_text_atomic(path, json.dumps(session.to_json(), indent=1) + "\n")


def describe(session: MergeSession) -> str:
    parts = []
    if session.all:
        parts.append(f"{len(session.all)} whole-video setting(s)")
    if session.tracks:
        parts.append(f"{len(session.tracks)} track override(s)")
    if session.ranges:
        parts.append(f"{len(session.ranges)} frame range(s)")
    return ", ".join(parts) or "no settings"
