"""`verify`: what a file says about its origin: C2PA manifest (valid or tampered) and plain tags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from faceweave.errors import UserError
from faceweave.media.decode import open_frames
from faceweave.provenance import SYNTHETIC_NOTE
from faceweave.provenance.manifest import FORMATS, ManifestStatus, read_manifest
from faceweave.provenance.watermark import (
    THRESHOLD,
    Detection,
    Field,
    canonical_face,
    decide,
    describe_payload,
    pair_correlations,
)

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")
# Frames read for the watermark: 10 s at 25 fps is plenty (a 3 s clip decides) and keeps a long
# video to seconds.
WATERMARK_FRAMES = 250


@dataclass(frozen=True)
class Verdict:
    path: Path
    manifest: ManifestStatus
    tagged: bool  # MP4 comment/description says synthetic
    watermark: Detection | None  # None for a picture: the mark is read from frame pairs

    @property
    def labelled(self) -> bool:
        """A manifest (a tampered one still says what the file was) or the watermark."""
        return self.manifest.present or bool(self.watermark and self.watermark.found)


def read_watermark(path: Path, limit: int = WATERMARK_FRAMES) -> Detection:
    """The watermark of a video: the largest face of each of the first `limit` frames, aligned,
    and the differences of consecutive frames correlated with the patterns."""
    from faceweave.extract.detect import MediapipeFaceFinder

    rows = []
    previous: tuple[int, Field] | None = None
    finder = MediapipeFaceFinder(max_faces=1)
    try:
        for frame in open_frames(path, on_error="skip"):
            if frame.index >= limit:
                break
            faces = finder.find(frame.image_bgr_u8)
            if not faces:
                previous = None
                continue
            current = canonical_face(frame.image_bgr_u8, faces[0].landmarks_478)
            if previous is not None and previous[0] == frame.index - 1:
                rows.append(pair_correlations(previous[1], current, frame.index))
            previous = (frame.index, current)
    finally:
        finder.close()
    return decide(rows)


def _tagged(path: Path) -> bool:
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return False
    try:
        with av.open(str(path)) as container:
            values = " ".join(str(v) for v in container.metadata.values())
    except (av.FFmpegError, OSError):
        return False
    return SYNTHETIC_NOTE in values


def verify_file(path: Path) -> Verdict:
    if not path.is_file():
        raise UserError(f"{path} does not exist")
    if path.suffix.lower() not in FORMATS:
        raise UserError(f"cannot verify {path.name}: faceweave reads {', '.join(sorted(FORMATS))} files")
    video = path.suffix.lower() in VIDEO_SUFFIXES
    return Verdict(path, read_manifest(path), _tagged(path), read_watermark(path) if video else None)


def describe(verdict: Verdict) -> list[str]:
    m = verdict.manifest
    if not m.present:
        manifest = "manifest: none"
    elif m.valid:
        kind = "synthetic (trainedAlgorithmicMedia)" if m.synthetic else "no synthetic-media claim"
        manifest = f"manifest: valid, by {m.generator}, {kind}; signer self-made, not publicly trusted"
    else:
        manifest = (
            f"manifest: TAMPERED or damaged ({m.detail}); it claimed {m.generator or 'an unknown tool'}"
        )
    tags = "tags: synthetic-media note present" if verdict.tagged else "tags: none"
    return [f"{verdict.path}:", f"  {manifest}", f"  {tags}", f"  {_watermark_line(verdict.watermark)}"]


def _watermark_line(found: Detection | None) -> str:
    if found is None:
        return "watermark: not read (it is read from video frame pairs, not from one picture)"
    if found.found and found.payload is None:
        return (
            f"watermark: FOUND, score {found.score:.1f} (threshold {THRESHOLD}); payload not readable "
            f"from this clip (its check sum failed; weakest bit {found.weakest_bit:.1f})"
        )
    if found.payload is not None:
        return (
            f"watermark: FOUND, score {found.score:.1f} (threshold {THRESHOLD}), payload "
            + describe_payload(found.payload)
        )
    return (
        f"watermark: none found (score {found.score:.1f}, threshold {THRESHOLD}, {found.pairs} frame pairs)"
    )
