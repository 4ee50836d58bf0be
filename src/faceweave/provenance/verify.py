"""`verify`: what a file says about its origin: C2PA manifest (valid or tampered) and plain tags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from faceweave.errors import UserError
from faceweave.provenance import SYNTHETIC_NOTE
from faceweave.provenance.manifest import FORMATS, ManifestStatus, read_manifest


@dataclass(frozen=True)
class Verdict:
    path: Path
    manifest: ManifestStatus
    tagged: bool  # MP4 comment/description says synthetic

    @property
    def labelled(self) -> bool:
        """The file carries a faceweave label (a tampered manifest still says what it was)."""
        return self.manifest.present or self.tagged


def _tagged(path: Path) -> bool:
    if path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
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
    return Verdict(path, read_manifest(path), _tagged(path))


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
    return [f"{verdict.path}:", f"  {manifest}", f"  {tags}", "  watermark: not checked (not built yet)"]
