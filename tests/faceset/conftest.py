"""Small facesets of two synthetic people, extracted once per session, and helpers that make
faces whose right place in an order is known (a blurred copy, a turned head, a darker copy)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from faceweave.assets import load_sample_face
from faceweave.config import load_config
from faceweave.extract.run import run_extract
from faceweave.formats.aligned import FaceMeta, list_face_files, read_aligned_face, write_aligned_face
from faceweave.media.synth import ClipSpec
from faceweave.pseudovideo import FacePuppet, write_puppet_clip
from faceweave.records import ImageBGR
from faceweave.workspace import Workspace, init_workspace


@pytest.fixture(scope="session")
def people(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """src: 20 faces of person 0; dst: 20 faces of person 1 (96 px crops)."""
    ws = init_workspace(tmp_path_factory.mktemp("faceset") / "ws").workspace
    extract = load_config(overrides={"extract": {"workers": 1, "size_px": 96}})
    for side, face in (("src", 0), ("dst", 1)):
        clip = ws.root / f"{side}.mp4"
        spec = ClipSpec(seconds=0.8, fps=25, width=320, height=240, seed=face, audio=False)
        write_puppet_clip(clip, FacePuppet.from_image(load_sample_face(face)), spec, face)
        run_extract(extract, ws, side, source=clip)
    return ws


@pytest.fixture
def faceset(people: Workspace, tmp_path: Path) -> Path:
    """A private copy of person 0's faceset."""
    target = tmp_path / "aligned"
    shutil.copytree(people.src_aligned, target)
    return target


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes), the statistics cache and lock file left out."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in (".faceweave-stats.npz", ".faceweave-lock")
    }


def add_variant(
    folder: Path,
    source: Path,
    frame_index: int,
    pixels: Callable[[ImageBGR], Any] = lambda i: i,
    **meta: Any,
) -> Path:
    """A new face in `folder` made from the face file `source`: its pixels through `pixels`, its
    metadata with `meta` replaced, under frame `frame_index` (so under a new name)."""
    image, old = read_aligned_face(source)
    new: FaceMeta = dataclasses.replace(old, frame_index=frame_index, **meta)
    return write_aligned_face(folder, np.ascontiguousarray(pixels(image)), new)


def first_face(folder: Path) -> Path:
    return list_face_files(folder)[0]
