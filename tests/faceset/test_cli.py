"""The faceset commands from the command line: what they print, and bad input (one sentence,
exit 2, nothing moved)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.workspace import Workspace
from tests.faceset.conftest import add_variant, first_face, snapshot
from tests.helpers import assert_user_error, run


def test_sort_clean_restore_and_coverage_commands(people: Workspace, faceset: Path, tmp_path: Path) -> None:
    before = snapshot(faceset)
    result = run("faceset", "sort", faceset, "--by", "yaw", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "sorted 20 faces" in result.output and "00000-" in result.output
    assert run("faceset", "sort", faceset, "--undo").exit_code == 0
    dry = run("faceset", "clean", faceset, "--dry-run", "--min-score", "1", "--duplicate-bits", "-1")
    assert dry.exit_code == 0, dry.output
    assert "20 of 20 face(s) would move to _rejected/ (20 score)" in dry.output
    done = run("faceset", "clean", faceset, "--min-score", "1", "--duplicate-bits", "-1")
    assert done.exit_code == 0 and not list_face_files(faceset)
    again = run("faceset", "restore", faceset)
    assert "restored 20 face(s)" in again.output
    current = snapshot(faceset)
    current.pop("_sort_log.json")
    assert current == before
    out = tmp_path / "cov"
    shown = run("faceset", "coverage", people.src_aligned, people.dst_aligned, "-o", out)
    assert shown.exit_code == 0, shown.output
    assert (out / "coverage.png").is_file() and (out / "coverage.json").is_file()


def test_bad_input_is_one_sentence_and_moves_nothing(
    people: Workspace, faceset: Path, tmp_path: Path
) -> None:
    assert_user_error(run("faceset", "sort", tmp_path / "nowhere", "--by", "yaw"), "is not a folder")
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(3):
        cv2.imwrite(str(photos / f"p{k}.jpg"), np.full((64, 64, 3), 90 * k, np.uint8))
    for command in (("sort", photos, "--by", "yaw"), ("clean", photos), ("coverage", photos, faceset)):
        assert_user_error(run("faceset", *command), "is not a faceset", "none of its 3 image file(s)")
    # Nothing is written either: no stats cache in a folder that is not a faceset.
    assert sorted(p.name for p in photos.iterdir()) == ["p0.jpg", "p1.jpg", "p2.jpg"]

    untouched = snapshot(faceset)
    assert_user_error(run("faceset", "sort", faceset, "--by", "nonsense"), "'--by'", "nonsense", "--help")
    assert_user_error(run("faceset", "sort", faceset, "--by", "blur", "--count", "3"), "--count")
    assert_user_error(run("faceset", "sort", faceset, "--by", "yaw", "--workers", "nan"), "--workers")
    assert_user_error(run("faceset", "sortt", faceset), "sortt")
    assert snapshot(faceset) == untouched

    before = snapshot(faceset)
    mixed = add_variant(faceset, first_face(faceset), 900, face_type="whole")
    with_mixed = snapshot(faceset)
    for command in (("sort", faceset, "--by", "yaw"), ("clean", faceset), ("coverage", faceset, faceset)):
        assert_user_error(run("faceset", *command), "mixes face types (full, whole)")
        assert snapshot(faceset) == with_mixed
    mixed.unlink()
    (faceset / "000999_0.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert_user_error(
        run("faceset", "sort", faceset, "--by", "yaw"), "1 damaged face file(s)", "faceset clean"
    )
    (faceset / "000999_0.png").unlink()
    assert snapshot(faceset) == before
    (faceset / "_sort_log.json").write_text("{not json")
    assert_user_error(run("faceset", "sort", faceset, "--undo"), "_sort_log.json")


def test_combine_folds_duplicates_across_sources_and_keeps_origins(people: Workspace, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(people.src_aligned, copy)
    out = tmp_path / "combined"
    result = run("faceset", "combine", people.src_aligned, copy, people.root / "dst.mp4", "-o", out,
                 "--set", "extract.size_px=96", "--set", "extract.workers=1")  # fmt: skip
    assert result.exit_code == 0, result.output
    faces = list_face_files(out)
    tags = sorted({p.name.split("_", 1)[0] for p in faces})
    assert tags == ["s1", "s3"]  # the copy folded into the first source
    folded = list_face_files(out / "_rejected" / "duplicate")
    assert len(folded) == 20  # every face of the copy is a face of the first source
    manifest = json.loads((out / "combine.json").read_text())
    assert [s["kind"] for s in manifest["sources"]] == ["faceset", "faceset", "video"]
    assert manifest["folded_duplicates"] == 20
    video_faces = [p for p in faces if p.name.startswith("s3_")]
    assert video_faces and read_face_meta(video_faces[0]).source == "dst.mp4"
    again = run("faceset", "combine", copy, "-o", out)
    assert_user_error(again, "already exists")
    assert_user_error(
        run("faceset", "combine", tmp_path / "missing.mp4", "-o", tmp_path / "x"), "does not exist"
    )
    assert not (tmp_path / "x").exists()


def test_combine_takes_photo_folders_and_refuses_mixed_face_types(people: Workspace, tmp_path: Path) -> None:
    from faceweave.assets import load_sample_face

    photos = tmp_path / "photos"
    photos.mkdir()
    for k in (0, 2):
        cv2.imwrite(str(photos / f"still{k}.jpg"), load_sample_face(k))
    out = tmp_path / "combined"
    extract = ("--set", "extract.size_px=96", "--set", "extract.workers=1")
    result = run("faceset", "combine", people.src_aligned, photos, "-o", out, *extract)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "combine.json").read_text())
    assert [(s["kind"], s["faces"]) for s in manifest["sources"]] == [("faceset", 20), ("images", 2)]
    from_photos = sorted(p for p in list_face_files(out) if p.name.startswith("s2_"))
    photo_of = manifest["sources"][1]["photos"]
    assert [photo_of[read_face_meta(p).frame_index] for p in from_photos] == ["still0.jpg", "still2.jpg"]

    whole = tmp_path / "whole"
    whole.mkdir()
    for k, face in enumerate(list_face_files(people.src_aligned)[:2]):
        add_variant(whole, face, 500 + k, face_type="whole")
    for sources in ((people.src_aligned, whole), (whole, photos)):
        assert_user_error(
            run("faceset", "combine", *sources, "-o", tmp_path / "mixed", *extract), "different face types"
        )
        assert not (tmp_path / "mixed").exists() and not list(tmp_path.glob(".mixed*"))
    mixed = tmp_path / "mixed_in_one"
    shutil.copytree(people.src_aligned, mixed)
    add_variant(mixed, first_face(mixed), 900, face_type="whole")
    assert_user_error(run("faceset", "combine", mixed, "-o", tmp_path / "mixed"), "mixes face types")
    assert not (tmp_path / "mixed").exists()


def test_files_in_the_way_are_one_sentence(people: Workspace, faceset: Path, tmp_path: Path) -> None:
    (faceset / "_rejected").write_text("a file where a folder goes")
    before = snapshot(faceset)
    assert_user_error(run("faceset", "clean", faceset, "--min-score", "1"), "a file where a folder goes")
    assert snapshot(faceset) == before
    blocker = tmp_path / "out.txt"
    blocker.write_text("x")
    assert_user_error(
        run("faceset", "coverage", people.src_aligned, people.dst_aligned, "-o", blocker), "is a file"
    )
    target = tmp_path / "empty"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    assert_user_error(
        run("faceset", "combine", people.src_aligned, "-o", tmp_path / "link"), "already exists"
    )
