"""`faceset clean` and `restore`: each reason on a constructed faceset, a dry run that moves
nothing, and a round trip that gives back every byte."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceweave.config import FacesetConfig
from faceweave.errors import UserError
from faceweave.faceset.clean import duplicate_of, restore, run_clean
from faceweave.faceset.moves import set_aside_faces
from faceweave.formats.aligned import list_face_files
from faceweave.workspace import Workspace
from tests.faceset.conftest import add_variant, first_face, snapshot

# Duplicates off unless a test turns them on: the pseudo-video's frames are near-stills.
CFG = FacesetConfig(workers=1, duplicate_bits=-1)


def _reasons(report: object) -> dict[str, str]:
    return {r.name: r.reason for r in report.rejections}  # type: ignore[attr-defined]


def test_each_reason_and_a_byte_identical_round_trip(people: Workspace, faceset: Path) -> None:
    face = first_face(faceset)
    blurred = add_variant(faceset, face, 900, lambda im: cv2.GaussianBlur(im, (0, 0), 3.0))
    stranger = add_variant(faceset, list_face_files(people.dst_aligned)[0], 901)
    doubtful = add_variant(faceset, face, 902, score=0.2)
    damaged = faceset / "000903_0.png"
    damaged.write_bytes(face.read_bytes()[:300])
    (faceset / "_masks").mkdir()
    cv2.imwrite(str(faceset / "_masks" / f"{blurred.stem}.png"), np.full((96, 96), 255, np.uint8))
    before = snapshot(faceset)

    dry = run_clean(faceset, CFG, dry_run=True)
    assert _reasons(dry) == {blurred.name: "blur", stranger.name: "identity", doubtful.name: "score",
                             damaged.name: "damaged"}  # fmt: skip
    assert snapshot(faceset) == before and not dry.moved

    report = run_clean(faceset, CFG)
    assert report.moved and set_aside_faces(faceset) == 4
    assert (faceset / "_rejected" / "blur" / blurred.name).is_file()
    assert (faceset / "_rejected" / "blur" / "_masks" / f"{blurred.stem}.png").is_file()
    assert (faceset / "_rejected" / "damaged" / damaged.name).is_file()
    assert not any(p.name in _reasons(report) for p in list_face_files(faceset))

    result = restore(faceset)
    assert result.restored == 4 and not result.left
    assert snapshot(faceset) == before  # every name and every byte, masks included
    assert not (faceset / "_rejected").exists()


def test_size_threshold_and_restore_of_one_reason(faceset: Path) -> None:
    face = first_face(faceset)
    tiny = add_variant(faceset, face, 900, bbox_xyxy=(100.0, 100.0, 120.0, 120.0))
    doubtful = add_variant(faceset, face, 901, score=0.1)
    run_clean(faceset, FacesetConfig(workers=1, duplicate_bits=-1, identity=0, blur=0))
    assert (faceset / "_rejected" / "size" / tiny.name).is_file()
    assert restore(faceset, ["size"]).restored == 1
    assert tiny.is_file() and not doubtful.is_file()
    with pytest.raises(UserError, match="has no hair folder; it has: score"):
        restore(faceset, ["hair"])


def test_duplicates_keep_the_sharpest_and_spare_other_expressions(faceset: Path) -> None:
    face = first_face(faceset)
    copy = add_variant(faceset, face, 900, lambda im: cv2.GaussianBlur(im, (3, 3), 0.6))
    cfg = FacesetConfig(workers=1, duplicate_bits=2, identity=0, blur=0)
    report = run_clean(faceset, cfg, dry_run=True)
    assert _reasons(report)[copy.name] == "duplicate"
    assert face.name not in _reasons(report)  # the sharper of the two stays


def test_duplicate_search_is_exact_against_brute_force() -> None:
    rng = np.random.default_rng(3)
    base = [int(v) for v in rng.integers(0, 2**63, 40)]
    hashes = [h ^ (1 << int(rng.integers(0, 64))) if k % 2 else h for k, h in enumerate(base * 3)]
    quality = rng.random(len(hashes))
    for bits in (0, 1, 3, 7):
        found = duplicate_of(hashes, quality, bits)
        kept: list[int] = []
        for i in np.argsort(-quality, kind="stable").tolist():
            near = [j for j in kept if (hashes[i] ^ hashes[j]).bit_count() <= bits]
            assert (found[i] >= 0) == bool(near)
            if not near:
                kept.append(i)


def test_restore_leaves_a_face_whose_name_is_taken(faceset: Path) -> None:
    face = first_face(faceset)
    run_clean(faceset, FacesetConfig(workers=1, duplicate_bits=-1, identity=0, blur=0, min_score=1.0))
    assert not face.exists()
    face.write_bytes(b"a new file of the same name")
    result = restore(faceset)
    assert result.left == [f"_rejected/score/{face.name}"]
    assert face.read_bytes() == b"a new file of the same name"
