"""`faceset combine`: several src sources (videos, photo folders, facesets) into one new faceset.

Each face keeps its origin: its metadata names its source file and frame as extraction wrote them,
its name starts with its input's tag (`s2_000345_0.png`), and `combine.json` maps each tag to its
input. Faces of different inputs whose perceptual hashes differ in at most `faceset.duplicate_bits` bits
are folded:
the sharpest stays, the others wait in `_rejected/duplicate/` (`faceset restore` brings them in).
The new faceset is built in a hidden folder beside OUT and appears whole, or not at all.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceweave.atomic import discard, write_text_atomic
from faceweave.config import Config
from faceweave.errors import UserError
from faceweave.faceset.clean import Rejection, alike_measures, duplicate_of, move_rejected
from faceweave.faceset.moves import folder_lock
from faceweave.faceset.stats import check_faceset, faceset_stats
from faceweave.formats.aligned import FaceFileError, list_face_files, read_face_meta
from faceweave.occlusion.labels import mask_path

Say = Callable[[str], None]
MANIFEST = "combine.json"


@dataclass(frozen=True)
class Source:
    path: Path
    kind: str  # faceset | video | images
    tag: str
    faces: int = 0


@dataclass(frozen=True)
class CombineReport:
    out: Path
    sources: list[Source]
    faces: int
    folded: int


def source_kind(path: Path) -> str:
    if path.is_file():
        return "video"
    if not path.is_dir():
        raise UserError(f"{path} does not exist")
    for face in list_face_files(path)[:5]:  # a damaged first face does not make it a photo folder
        try:
            read_face_meta(face)
            return "faceset"
        except FaceFileError:
            continue  # photos, not aligned faces, or a damaged one
    return "images"


def _face_type(folder: Path) -> str | None:
    for face in list_face_files(folder):
        try:
            return read_face_meta(face).face_type
        except FaceFileError:
            continue
    return None


def check_one_face_type(sources: Sequence[Source], extracted: str) -> None:
    """Refuse sources whose faces would not make one faceset: facesets of different face types, or
    one whose type differs from what the videos and photos are extracted as (`extract.face_type`)."""
    types = {s.path: _face_type(s.path) if s.kind == "faceset" else extracted for s in sources}
    if len(set(types.values()) - {None}) > 1:
        listed = ", ".join(f"{path} ({kind})" for path, kind in types.items() if kind)
        raise UserError(
            f"the sources hold different face types: {listed}; a faceset keeps one type (`--set "
            "extract.face_type=...` sets the type videos and photos are extracted as; nothing was written)"
        )


def _take_faceset(folder: Path, building: Path, tag: str) -> int:
    with folder_lock(folder):  # no sort renames the source while it is copied
        return _copy_faceset(folder, building, tag)


def _copy_faceset(folder: Path, building: Path, tag: str) -> int:
    stats = faceset_stats(folder, ("meta",))
    check_faceset(stats)
    for name in stats.names:
        face = folder / name
        target = building / f"{tag}_{name}"  # names are unique in a folder, so tagged ones are too
        shutil.copy2(face, target)
        if mask_path(face).is_file():
            mask_path(target).parent.mkdir(exist_ok=True)
            shutil.copy2(mask_path(face), mask_path(target))
    return len(stats)


def _extract_source(config: Config, source: Path, building: Path, tag: str, say: Say) -> int:
    from faceweave.extract.run import run_extract
    from faceweave.workspace import Workspace

    scratch = building / f".extract-{tag}"
    ws = Workspace(scratch)
    say(f"extracting faces from {source} ...")
    report = run_extract(config, ws, "src", source=source)
    for face in list_face_files(ws.src_aligned):
        os.replace(face, building / f"{tag}_{face.name}")
    shutil.rmtree(scratch, ignore_errors=True)
    return report.faces


def _listed(source: Source) -> dict[str, object]:
    """A source in combine.json. A face from a photo names the folder and the photo's place in
    it (its `frame_index`), so the photos are listed in that order: each face's own file."""
    entry: dict[str, object] = {"tag": source.tag, "kind": source.kind, "path": str(source.path.resolve()),
                                "faces": source.faces}  # fmt: skip
    if source.kind == "images":
        from faceweave.media.decode import list_images

        entry["photos"] = [p.name for p in list_images(source.path)]
    return entry


def run_combine(
    config: Config, inputs: Sequence[Path], out: Path, say: Say = lambda _: None
) -> CombineReport:
    if len(inputs) < 1:
        raise UserError("give at least one source to combine")
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise UserError(f"{out} already exists; combine writes a new faceset, so name a new folder")
    sources = [Source(p, source_kind(p), f"s{k}") for k, p in enumerate(inputs, 1)]
    check_one_face_type(sources, config.extract.face_type)
    out.parent.mkdir(parents=True, exist_ok=True)
    building = out.with_name(f".{out.name}.partial-{os.getpid()}")
    building.mkdir()
    try:
        counted = []
        for source in sources:
            if source.kind == "faceset":
                faces = _take_faceset(source.path, building, source.tag)
            else:
                faces = _extract_source(config, source.path, building, source.tag, say)
            counted.append(Source(source.path, source.kind, source.tag, faces))
        folded = _fold_duplicates(building, config, counted, say)
        listed = [_listed(s) for s in counted]
        manifest = {
            "version": 1,
            "time": round(time.time(), 1),
            "folded_duplicates": folded,
            "sources": listed,
        }
        write_text_atomic(building / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        if out.is_dir():
            out.rmdir()  # empty, checked above
        os.rename(building, out)
    except BaseException:
        discard(building)
        raise
    return CombineReport(out, counted, sum(s.faces for s in counted) - folded, folded)


def _fold_duplicates(building: Path, config: Config, sources: list[Source], say: Say) -> int:
    cfg = config.faceset
    stats = faceset_stats(building, ("meta", "pixels"), cfg.workers, say)
    types: dict[str, set[str]] = {}
    for name, face_type in zip(stats.names, stats["face_type"].tolist(), strict=True):
        types.setdefault(face_type, set()).add(name.split("_", 1)[0])
    if len(types) > 1:
        by_tag = {s.tag: s.path for s in sources}
        listed = "; ".join(
            f"{t}: {', '.join(str(by_tag[g]) for g in sorted(tags))}" for t, tags in types.items()
        )
        raise UserError(f"the sources hold different face types ({listed}); combine sources of one type")
    if cfg.duplicate_bits < 0:
        return 0
    origins = [int(name.split("_", 1)[0][1:]) for name in stats.names]  # the input's tag, s<k>_
    quality = np.asarray(stats["blur"], np.float64)
    twins = duplicate_of(stats["phash"].tolist(), quality, cfg.duplicate_bits, alike_measures(stats), origins)
    folded = [
        Rejection(stats.names[i], "duplicate", f"like {stats.names[t]}")
        for i, t in enumerate(twins)
        if t >= 0
    ]
    return move_rejected(building, folded)
