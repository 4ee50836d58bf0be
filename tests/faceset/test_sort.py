"""Every sort method on a constructed faceset where the right order is known; undo, masks,
crash recovery and the statistics cache."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from faceweave.assets import load_sample_face
from faceweave.config import FacesetConfig
from faceweave.errors import UserError
from faceweave.faceset import moves
from faceweave.faceset import stats as stats_module
from faceweave.faceset.moves import JOURNAL_NAME, Move, apply_moves, base_name, recover, undo_last
from faceweave.faceset.sort import run_sort
from faceweave.faceset.sorts import SortInputs
from faceweave.faceset.stats import CACHE_NAME, faceset_stats
from faceweave.formats.aligned import Pose, list_face_files, read_face_meta, rewrite_face_meta
from faceweave.quality.features import STABLE_POINTS, inter_ocular
from faceweave.records import ImageBGR
from faceweave.registries import SORTS
from faceweave.workspace import Workspace
from tests.faceset.conftest import add_variant, first_face, snapshot

CFG = FacesetConfig(workers=1)


def fail_rename(monkeypatch: pytest.MonkeyPatch, at: int, error: BaseException) -> None:
    """Make the `at`-th rename of the sort machinery fail with `error` (a disk fault, a kill)."""
    real, calls = moves._rename, {"n": 0}

    def failing(folder: Path, old: str, new: str) -> None:
        calls["n"] += 1
        if calls["n"] == at:
            raise error
        real(folder, old, new)

    monkeypatch.setattr(moves, "_rename", failing)


def order(folder: Path) -> list[str]:
    """The faces' names before any sort, in their current (sorted) order."""
    return [base_name(p.name) for p in list_face_files(folder)]


def test_blurred_copy_sorts_last_and_smeared_copy_last_by_motion(faceset: Path) -> None:
    face = first_face(faceset)
    blurred = add_variant(faceset, face, 900, lambda im: cv2.GaussianBlur(im, (0, 0), 2.0))
    kernel = np.full((1, 9), 1 / 9, np.float32)  # a horizontal smear
    smeared = add_variant(faceset, face, 901, lambda im: cv2.filter2D(im, -1, kernel))
    run_sort(faceset, "blur", CFG)
    assert set(order(faceset)[-2:]) == {blurred.name, smeared.name}
    run_sort(faceset, "motion-blur", CFG)
    ranked = order(faceset)
    assert ranked[-1] == smeared.name
    assert ranked.index(blurred.name) < len(ranked) - 3  # out of focus is not a smear


def test_pose_size_and_score_from_metadata(faceset: Path) -> None:
    face = first_face(faceset)
    meta = read_face_meta(face)
    left = add_variant(faceset, face, 900, pose=Pose(-40.0, 0.0, 0.0))
    right = add_variant(faceset, face, 901, pose=Pose(40.0, 0.0, 0.0))
    up = add_variant(faceset, face, 902, pose=Pose(0.0, -35.0, 0.0))
    x0, y0, x1, y1 = meta.bbox_xyxy
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    small = add_variant(faceset, face, 903, bbox_xyxy=(cx - 5, cy - 5, cx + 5, cy + 5))
    doubtful = add_variant(faceset, face, 904, score=0.05)
    run_sort(faceset, "yaw", CFG)
    assert order(faceset)[0] == left.name and order(faceset)[-1] == right.name
    run_sort(faceset, "pitch", CFG)
    assert order(faceset)[0] == up.name
    run_sort(faceset, "size", CFG)
    assert order(faceset)[-1] == small.name
    run_sort(faceset, "score", CFG)
    assert order(faceset)[-1] == doubtful.name
    run_sort(faceset, "origin", CFG)
    assert order(faceset) == sorted(order(faceset))  # frame order, as extraction named them


def test_another_person_sorts_last_by_identity_and_first_by_reference(people: Workspace, faceset: Path,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    others = list_face_files(people.dst_aligned)[:4]
    strangers = [add_variant(faceset, p, 800 + k).name for k, p in enumerate(others)]
    run_sort(faceset, "identity", CFG)
    assert set(order(faceset)[-4:]) == set(strangers)
    reference = tmp_path / "person1.png"
    cv2.imwrite(str(reference), load_sample_face(1))
    run_sort(faceset, "identity", CFG, references=[reference])
    assert set(order(faceset)[:4]) == set(strangers)


def test_colour_sorts(people: Workspace, faceset: Path) -> None:
    face = first_face(faceset)
    dark = add_variant(faceset, face, 900, lambda im: (im * 0.5).astype(np.uint8))
    tint = np.array([0.6, 1.0, 0.6])  # BGR: green

    def green(image: ImageBGR) -> Any:
        return np.clip(image * tint, 0, 255).astype(np.uint8)

    def blue(image: ImageBGR) -> Any:
        return np.clip(image * tint[::-1] * np.array([1.6, 0.6, 1.0]), 0, 255).astype(np.uint8)

    greened, blued = add_variant(faceset, face, 901, green), add_variant(faceset, face, 902, blue)
    run_sort(faceset, "brightness", CFG)
    assert order(faceset)[-1] == dark.name
    run_sort(faceset, "hue", CFG)
    assert order(faceset)[-2:] == [greened.name, blued.name]  # skin (orange) < green < blue


def test_histogram_keeps_look_alikes_together(people: Workspace, faceset: Path) -> None:
    others = {
        add_variant(faceset, p, 800 + k).name for k, p in enumerate(list_face_files(people.dst_aligned))
    }
    run_sort(faceset, "histogram", CFG)
    person = [name in others for name in order(faceset)]
    changes = sum(a != b for a, b in itertools.pairwise(person))
    assert changes <= 2, person


def test_landmark_doubt_sorts_misfits_last(faceset: Path) -> None:
    face = first_face(faceset)
    meta = read_face_meta(face)
    bent = meta.landmarks_frame.copy()
    bent[list(STABLE_POINTS[:4]), 1] += 0.8 * inter_ocular(meta.landmarks_frame)  # eye corners dropped
    misfit = add_variant(faceset, face, 900, landmarks_frame=bent, landmarks_frame_raw=bent)
    bridged = add_variant(faceset, face, 901, bridged=True)
    # A face the extractor itself bridged over a detector miss rightly sorts last too.
    bridged_names = {base_name(p.name) for p in list_face_files(faceset) if read_face_meta(p).bridged}
    assert bridged.name in bridged_names
    run_sort(faceset, "landmarks", CFG)
    ranked = order(faceset)
    after_misfit = ranked[ranked.index(misfit.name) + 1 :]
    assert set(after_misfit) == bridged_names, ranked


def test_best_keeps_the_sharpest_face_of_every_pose_cell(faceset: Path, tmp_path: Path) -> None:
    folder = tmp_path / "grid"
    folder.mkdir()
    face = first_face(faceset)
    sharpest = set()
    for cell, (yaw, pitch) in enumerate([(y, p) for y in (-25, 0, 25) for p in (-25, 0, 25)]):
        for k, sigma in enumerate((0.0, 1.2, 2.5)):

            def soften(image: ImageBGR, s: float = sigma) -> Any:
                return cv2.GaussianBlur(image, (0, 0), s) if s else image

            made = add_variant(folder, face, cell * 10 + k, soften, pose=Pose(float(yaw), float(pitch), 0.0))
            if k == 0:
                sharpest.add(made.name)
    report = run_sort(folder, "best", CFG, count=9)
    assert report.set_aside == 18
    assert set(order(folder)) == sharpest
    assert len(list_face_files(folder / "_rejected" / "best")) == 18
    undo_last(folder)
    assert len(list_face_files(folder)) == 27 and not list_face_files(folder / "_rejected" / "best")


def test_sort_and_undo_round_trip_with_masks(faceset: Path) -> None:
    masks = faceset / "_masks"
    masks.mkdir()
    face = list_face_files(faceset)[3]
    frame = read_face_meta(face).frame_index
    cv2.imwrite(str(masks / f"{face.stem}.png"), np.full((96, 96), 200, np.uint8))
    before = snapshot(faceset)
    run_sort(faceset, "blur", CFG)
    run_sort(faceset, "yaw", CFG, reverse=True)
    renamed = next(p for p in list_face_files(faceset) if base_name(p.name) == face.name)
    assert (masks / f"{renamed.stem}.png").is_file()  # the mask moved with its face
    assert read_face_meta(renamed).frame_index == frame  # metadata untouched
    assert undo_last(faceset).what == "sort by yaw"
    assert undo_last(faceset).what == "sort by blur"
    after = snapshot(faceset)
    after.pop(JOURNAL_NAME)
    assert after == before
    with pytest.raises(UserError, match="no sort to undo"):
        undo_last(faceset)


@pytest.mark.parametrize("phase", ["first", "second"])
def test_a_crash_during_the_renames_is_rolled_back_or_finished(
    faceset: Path, phase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [p.name for p in list_face_files(faceset)]
    before = snapshot(faceset)
    plan = [Move(n, f"{k:05d}-{n}") for k, n in enumerate(reversed(names))]
    # What a kill between two renames leaves.
    fail_rename(monkeypatch, 5 if phase == "first" else len(plan) + 5, KeyboardInterrupt())
    monkeypatch.setattr(moves, "recover", lambda folder: "")  # SIGKILL: no handler runs
    with pytest.raises(KeyboardInterrupt):
        apply_moves(faceset, plan, "sort by test")
    monkeypatch.undo()
    assert any(p.name.startswith(".faceweave-moving-") for p in faceset.iterdir())
    said = recover(faceset)
    files = snapshot(faceset)
    journal = json.loads(files.pop(JOURNAL_NAME))
    if phase == "first":
        assert "rolled back" in said and files == before and journal["entries"] == []
    else:
        assert "finished" in said and sorted(files.values()) == sorted(before.values())
        assert sorted(files) == sorted(m.new for m in plan)
        assert journal["entries"][-1]["state"] == "done"


def test_the_cache_is_used_renames_keep_it_and_changed_files_are_measured_again(faceset: Path) -> None:
    count = len(list_face_files(faceset))
    assert faceset_stats(faceset, ("meta", "pixels"), 1).measured == count
    assert faceset_stats(faceset, ("meta", "pixels"), 1).measured == 0
    run_sort(faceset, "blur", CFG)
    assert faceset_stats(faceset, ("meta", "pixels"), 1).measured == 0
    face = list_face_files(faceset)[0]
    rewrite_face_meta(face, read_face_meta(face))  # same content, a new file
    assert faceset_stats(faceset, ("meta", "pixels"), 1).measured == 1
    (faceset / CACHE_NAME).write_bytes(b"PK\x03\x04 not a real archive")
    again = faceset_stats(faceset, ("meta", "pixels"), 1)
    assert again.measured == count and len(again) == count


def test_cached_values_equal_fresh_ones(faceset: Path, tmp_path: Path) -> None:
    cached = faceset_stats(faceset, ("meta", "pixels"), 1)
    cached = faceset_stats(faceset, ("meta", "pixels"), 1)
    fresh_dir = tmp_path / "fresh"
    shutil.copytree(faceset, fresh_dir, ignore=shutil.ignore_patterns(CACHE_NAME))
    fresh = faceset_stats(fresh_dir, ("meta", "pixels"), 1)
    for name in ("blur", "gradient", "hist", "phash", "yaw", "mouth_open"):
        np.testing.assert_array_equal(cached[name], fresh[name])


def test_workers_measure_what_this_process_measures(faceset: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    local = faceset_stats(faceset, ("meta", "pixels"), 1)
    copy = tmp_path / "copy"
    shutil.copytree(faceset, copy, ignore=shutil.ignore_patterns(CACHE_NAME))
    monkeypatch.setattr(stats_module, "PARALLEL_FROM", 4)
    pooled = faceset_stats(copy, ("meta", "pixels"), 2)
    assert pooled.measured == len(local) and pooled.names == local.names
    for name in ("blur", "hist", "phash", "shape"):
        np.testing.assert_array_equal(pooled[name], local[name])


@pytest.mark.parametrize("name", SORTS.names())
def test_every_sort_method_orders_every_face_once_and_the_same_each_time(
    name: str, people: Workspace
) -> None:
    method = SORTS.get(name)
    stats = faceset_stats(people.src_aligned, method.needs, 1)
    first = method.order(SortInputs(stats, None, 5 if method.uses_count else None)).tolist()
    assert sorted(first) == list(range(len(stats)))
    assert method.order(SortInputs(stats, None, 5 if method.uses_count else None)).tolist() == first
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert f"`{name}`" in readme.split("**Sort methods**")[1].split("**Clean**")[0]


def test_a_failure_part_way_is_undone_before_the_error_is_raised(
    faceset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(faceset)
    fail_rename(monkeypatch, 7, OSError(5, "Input/output error"))
    names = [p.name for p in list_face_files(faceset)]
    with pytest.raises(UserError, match=r"could not be moved .Input/output error.; rolled back"):
        apply_moves(faceset, [Move(n, f"{k:05d}-{n}") for k, n in enumerate(names)], "sort by test")
    after = snapshot(faceset)
    assert json.loads(after.pop(JOURNAL_NAME))["entries"] == []
    assert after == before


def test_a_plan_that_would_overwrite_is_refused_before_anything_moves(faceset: Path) -> None:
    a, b = (p.name for p in list_face_files(faceset)[:2])
    before = snapshot(faceset)
    for plan in ([Move(a, "x.png"), Move(b, "x.png")], [Move(a, b)], [Move(a, "../escaped.png")]):
        with pytest.raises(UserError):
            apply_moves(faceset, plan, "sort by test")
        assert snapshot(faceset) == before


def test_set_aside_faces_keep_their_full_names(faceset: Path) -> None:
    run_sort(faceset, "yaw", CFG)
    add_variant(faceset, list_face_files(faceset)[0], 0)  # 000000_0.png beside <rank>-000000_0.png
    total = len(list_face_files(faceset))
    run_sort(faceset, "best", CFG, count=2)
    shelved = list_face_files(faceset / "_rejected" / "best")
    assert len(list_face_files(faceset)) == 2 and len(shelved) == total - 2  # no face lost


def test_undo_takes_along_a_mask_applied_after_the_sort(faceset: Path) -> None:
    run_sort(faceset, "blur", CFG)
    face = list_face_files(faceset)[0]
    (faceset / "_masks").mkdir()
    cv2.imwrite(str(faceset / "_masks" / f"{face.stem}.png"), np.full((96, 96), 255, np.uint8))
    undo_last(faceset)
    original = base_name(face.name)
    assert (faceset / original).is_file()
    assert (faceset / "_masks" / f"{Path(original).stem}.png").is_file()


def test_a_journal_pointing_outside_the_faceset_is_refused(faceset: Path) -> None:
    run_sort(faceset, "yaw", CFG)
    journal = json.loads((faceset / JOURNAL_NAME).read_text())
    journal["entries"][-1]["moves"][0][0] = "../../outside.png"
    (faceset / JOURNAL_NAME).write_text(json.dumps(journal))
    with pytest.raises(UserError, match="is damaged"):
        undo_last(faceset)


def test_another_command_on_the_same_faceset_waits_its_turn(faceset: Path) -> None:
    import subprocess
    import sys

    with moves.folder_lock(faceset):
        command = ["faceset", "sort", str(faceset), "--by", "yaw", "--workers", "1"]
        result = subprocess.run(
            [sys.executable, "-m", "faceweave", *command], capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 2 and "another faceweave command is changing" in result.stderr


def test_another_thread_finds_the_faceset_busy_and_the_holder_keeps_its_lock(faceset: Path) -> None:
    """The studio moves faces from worker threads: only the thread holding the lock re-enters it."""
    import threading

    seen: list[BaseException | None] = []

    def other() -> None:
        try:
            with moves.folder_lock(faceset):
                seen.append(None)
        except BaseException as exc:  # noqa: BLE001  the test reports whatever it was
            seen.append(exc)

    with moves.folder_lock(faceset):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(30)
        with moves.folder_lock(faceset):  # re-entered by its holder
            pass
    assert isinstance(seen[0], UserError) and "another faceweave command" in str(seen[0])
    with moves.folder_lock(faceset):  # released whole
        pass


def test_a_studio_change_waits_for_the_lock_to_be_free(faceset: Path) -> None:
    import threading
    import time

    order: list[str] = []

    def holder() -> None:
        with moves.folder_lock(faceset):
            order.append("held")
            time.sleep(0.5)
            order.append("released")

    thread = threading.Thread(target=holder)
    thread.start()
    while not order:
        time.sleep(0.01)
    with moves.folder_lock(faceset, wait_s=10):
        order.append("waited")
    thread.join()
    assert order == ["held", "released", "waited"]


def test_a_damaged_or_unwritable_cache_never_stops_a_sort(
    faceset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = len(list_face_files(faceset))
    faceset_stats(faceset, ("meta",), 1)
    with np.load(faceset / CACHE_NAME) as archive:
        arrays = dict(archive)
    arrays["signature"] = arrays["signature"][:, 0]  # one column instead of four
    np.savez(faceset / CACHE_NAME, **arrays)
    assert faceset_stats(faceset, ("meta",), 1).measured == count
    (faceset / CACHE_NAME).write_bytes(b"\x93NUMPY not an archive")
    assert faceset_stats(faceset, ("meta",), 1).measured == count

    def refuse(path: Path, data: bytes) -> None:
        raise UserError(f"cannot write {path} (Read-only file system)")

    (faceset / CACHE_NAME).unlink()
    monkeypatch.setattr(stats_module, "write_bytes_atomic", refuse)
    run_sort(faceset, "blur", CFG)
    assert not (faceset / CACHE_NAME).exists() and len(list_face_files(faceset)) == count


def test_leftover_hidden_files_without_a_log_stop_every_change(faceset: Path) -> None:
    face = list_face_files(faceset)[0]
    hidden = faceset / ".faceweave-moving-0123456789ab-0"
    face.rename(hidden)  # what a killed sort leaves when its log was then removed
    with pytest.raises(UserError, match="wait under hidden names"):
        run_sort(faceset, "yaw", CFG)
    assert hidden.is_file()  # never overwritten, never dropped


def test_a_failed_undo_keeps_the_sort_in_the_log(faceset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_sort(faceset, "blur", CFG)
    sorted_names = order(faceset)
    fail_rename(monkeypatch, 3, PermissionError(1, "Operation not permitted"))
    with pytest.raises(UserError, match="could not be moved"):
        undo_last(faceset)
    monkeypatch.undo()
    assert order(faceset) == sorted_names  # rolled back: still sorted
    assert undo_last(faceset).what == "sort by blur"  # and the sort can still be undone
    assert (
        not (faceset / JOURNAL_NAME).exists()
        or json.loads((faceset / JOURNAL_NAME).read_text())["entries"] == []
    )


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_cache_member_claiming_a_huge_size_is_not_read(faceset: Path) -> None:
    import zipfile

    count = len(list_face_files(faceset))
    faceset_stats(faceset, ("meta",), 1)
    with zipfile.ZipFile(faceset / CACHE_NAME, "a") as archive:
        header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }"
        archive.writestr("blur.npy", header.ljust(128, b" ") + b"\n")
    assert faceset_stats(faceset, ("meta",), 1).measured == count


def test_an_undo_killed_after_its_renames_is_not_undone_again(faceset: Path) -> None:
    before = order(faceset)
    run_sort(faceset, "blur", CFG)
    journal = faceset / JOURNAL_NAME
    logged = json.loads(journal.read_text())
    undo_last(faceset)
    # What a kill between the undo's last rename and its log update leaves: sort + finished undo.
    entries = json.loads(journal.read_text())["entries"]
    undo_entry = {
        **logged["entries"][-1],
        "what": "undo of sort by blur",
        "undo": True,
        "tag": "0123456789ab",
    }
    undo_entry["moves"] = [[new, old] for old, new in logged["entries"][-1]["moves"]]
    journal.write_text(json.dumps({"version": 1, "entries": [*entries, logged["entries"][-1], undo_entry]}))
    assert "finished an interrupted undo" in recover(faceset)
    assert order(faceset) == before and json.loads(journal.read_text())["entries"] == []
