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

from faceweave.formats.aligned import FaceMeta, list_face_files, read_aligned_face, write_aligned_face
from faceweave.records import ImageBGR
from faceweave.workspace import Workspace
from tests.helpers import extract_two_people


@pytest.fixture(scope="session")
def people(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """src: 20 faces of person 0; dst: 20 faces of person 1 (96 px crops)."""
    return extract_two_people(tmp_path_factory.mktemp("faceset") / "ws")


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
