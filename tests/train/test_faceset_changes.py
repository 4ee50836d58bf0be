"""A faceset changed by the faceset tools is picked up by the next training run, which resumes."""

from __future__ import annotations

import json
from pathlib import Path

from faceweave.config import FacesetConfig
from faceweave.faceset.clean import restore, run_clean
from faceweave.faceset.sort import run_sort
from faceweave.formats.aligned import list_face_files
from faceweave.train.run import run_train
from faceweave.workspace import Workspace
from tests.train.conftest import fresh_workspace, tiny_config


def test_training_resumes_on_a_sorted_and_cleaned_faceset(facesets: Workspace, tmp_path: Path) -> None:
    ws = fresh_workspace(facesets, tmp_path)
    first = run_train(tiny_config(iterations=2), ws)
    count = len(list_face_files(ws.src_aligned))
    run_sort(ws.src_aligned, "blur", FacesetConfig(workers=1))
    run_clean(ws.src_aligned, FacesetConfig(workers=1, blur=0.99, identity=0, duplicate_bits=-1))
    left = len(list_face_files(ws.src_aligned))
    assert 0 < left < count
    said: list[str] = []
    second = run_train(tiny_config(iterations=4), ws, say=said.append)
    assert first.iteration == 2 and second.resumed and (second.iteration, second.steps_this_run) == (4, 2)
    assert any(f"{left} src" in line for line in said), said
    # What src lacks (or that it lacks nothing) is said at every start, and logged.
    assert [line for line in said if line.startswith(("src lacks: ", "coverage: src covers"))], said
    logged = [json.loads(line) for line in (ws.model / "train_log.jsonl").read_text().splitlines()]
    assert sum(1 for record in logged if record.get("event") == "coverage") == 2
    assert any(f"{count - left} face(s)" in line and "not trained on" in line for line in said), said
    restore(ws.src_aligned)
    said.clear()
    run_train(tiny_config(iterations=5), ws, say=said.append)
    assert any(f"{count} src" in line for line in said), said
