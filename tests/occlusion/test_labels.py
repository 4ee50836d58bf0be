"""Masks a user teaches: labels imported into face files, a model taught on them and resumed, its
masks applied and used, and everything carried over a re-extraction."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner

from faceweave.cli.main import cli
from faceweave.config import load_config
from faceweave.errors import UserError
from faceweave.extract.run import run_extract
from faceweave.formats.aligned import FaceMeta, list_face_files, read_aligned_face, read_face_meta
from faceweave.geometry import invert
from faceweave.merge.run import run_merge
from faceweave.mesh import FACE_OVAL
from faceweave.occlusion.clips import OccludedFrame
from faceweave.occlusion.labels import label_mask, read_mask
from faceweave.occlusion.teach import STATE_NAME
from faceweave.workspace import Workspace
from tests.occlusion.test_occlusion import GreyModel


def _copy(
    occluded: tuple[Workspace, list[OccludedFrame]], target: Path
) -> tuple[Workspace, list[OccludedFrame]]:
    ws, truth = occluded
    shutil.copytree(ws.root, target)
    return Workspace(target), truth


def _true_face(meta: FaceMeta, frame: OccludedFrame) -> npt.NDArray[np.float32]:
    """The face's true visible part in its crop: the landmark hull less the occluder."""
    size = meta.size_px
    hull = np.zeros((size, size), np.float32)
    cv2.fillConvexPoly(
        hull, cv2.convexHull(np.round(meta.landmarks_crop[list(FACE_OVAL)]).astype(np.int32)), (1.0,)
    )
    to_crop = invert(meta.face_to_frame)
    occluder = cv2.warpAffine(frame.occluder, to_crop, (size, size))
    return np.asarray(hull * (occluder < 0.5), np.float32)


def _iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(((a >= 0.5) & (b >= 0.5)).sum() / max(((a >= 0.5) | (b >= 0.5)).sum(), 1))


def run(*args: str | Path) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_labels_import_train_resume_apply_merge_and_survive_reextraction(
    occluded: tuple[Workspace, list[OccludedFrame]], tmp_path: Path
) -> None:
    ws, truth = _copy(occluded, tmp_path / "ws")
    faces = list_face_files(ws.dst_aligned)
    labelled, held = faces[::2], faces[1::2]
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for path in labelled:  # the user's labels: mask pictures of the true visible face
        meta = read_face_meta(path)
        cv2.imwrite(
            str(pictures / f"{path.stem}.png"),
            (_true_face(meta, truth[meta.frame_index]) * 255).astype(np.uint8),
        )
    pixels_before = read_aligned_face(labelled[0])[0]
    result = CliRunner().invoke(cli, ["mask", "import", str(ws.dst_aligned), "--images", str(pictures)])
    assert result.exit_code == 0 and f"labelled {len(labelled)} face(s)" in result.output, result.output
    meta = read_face_meta(labelled[0])
    assert meta.labels and np.array_equal(read_aligned_face(labelled[0])[0], pixels_before)
    assert (
        _iou(label_mask(meta.labels, meta.size_px, meta.size_px), _true_face(meta, truth[meta.frame_index]))
        > 0.95
    )
    # Taught for a short while, then resumed where it stopped.
    first = CliRunner().invoke(cli, ["mask", "train", "-w", str(ws.root), "--time", "20s"])
    assert first.exit_code == 0, first.output
    steps = json.loads((ws.model / "xseg" / STATE_NAME).read_text())["steps"]
    second = CliRunner().invoke(cli, ["mask", "train", "-w", str(ws.root), "--time", "25s"])
    assert second.exit_code == 0 and f"resuming at step {steps}" in second.output, second.output
    assert json.loads((ws.model / "xseg" / STATE_NAME).read_text())["steps"] > steps
    applied = CliRunner().invoke(cli, ["mask", "apply", "-w", str(ws.root), str(ws.dst_aligned)])
    assert (
        applied.exit_code == 0
        and f"{len(labelled)} mask(s) from labels, {len(held)} from the model" in applied.output
    )
    scores = []
    for path in held:  # faces it was never shown
        meta = read_face_meta(path)
        mask = read_mask(path, meta.size_px)
        assert mask is not None
        scores.append(_iou(mask, _true_face(meta, truth[meta.frame_index])))
    assert np.median(scores) > 0.8, np.median(scores)
    config = load_config(overrides={"merge": {"mask": "learned*xseg", "workers": 1}})
    report = run_merge(config, ws, GreyModel())  # every dst face has its user mask now
    assert report.faces == len(faces)
    # Re-extracting the same video keeps every label and mask, moved into the new crops.
    run_extract(load_config(overrides={"extract": {"workers": 1, "size_px": 160}}), ws, "dst", overwrite=True)
    again = list_face_files(ws.dst_aligned)
    carried = [read_face_meta(p) for p in again if read_face_meta(p).labels]
    assert len(carried) == len(labelled)
    moved = carried[0]
    assert moved.size_px == 160
    assert _iou(label_mask(moved.labels, 160, 160), _true_face(moved, truth[moved.frame_index])) > 0.9
    assert all(read_mask(p, 160) is not None for p in again)


def test_bad_labels_change_nothing(occluded: tuple[Workspace, list[OccludedFrame]], tmp_path: Path) -> None:
    ws, _ = _copy(occluded, tmp_path / "ws")
    before = {p.name: p.read_bytes() for p in list_face_files(ws.dst_aligned)}
    first = list_face_files(ws.dst_aligned)[0].name
    square = [[10, 10], [60, 10], [60, 60], [10, 60]]
    cases = [
        ({"faces": {first: {"include": [square]}, "999999_0.png": {"include": [square]}}}, "not in"),
        ({"faces": {first: {"include": [[[10, 10], [9000, 10], [60, 60]]]}}}, "within the 128 px crop"),
        ({"faces": {first: {"include": [[[10, 10], [20, 20]]]}}}, "polygons of 3 to 4096"),
        ({"faces": []}, "no 'faces' table"),
    ]
    for document, message in cases:
        label_file = tmp_path / "labels.json"
        label_file.write_text(json.dumps(document))
        result = CliRunner().invoke(cli, ["mask", "import", str(ws.dst_aligned), "--json", str(label_file)])
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in list_face_files(ws.dst_aligned)} == before
    nothing = CliRunner().invoke(cli, ["mask", "train", "-w", str(ws.root), "--time", "1s"])
    assert nothing.exit_code == 2 and "no labelled face" in nothing.output
    (ws.model / "xseg").mkdir(parents=True)
    (ws.model / "xseg" / "xseg.safetensors").write_bytes(b"x")
    (ws.model / "xseg" / STATE_NAME).write_text(json.dumps({"widths": [4, 8], "input_px": 64, "steps": 3}))
    other = CliRunner().invoke(cli, ["mask", "apply", "-w", str(ws.root)])
    assert other.exit_code == 2 and "a mask model of another size" in other.output, other.output
    with pytest.raises(UserError, match="has no user mask: run `faceweave mask apply`"):
        run_merge(load_config(overrides={"merge": {"mask": "xseg", "workers": 1}}), ws, GreyModel())
