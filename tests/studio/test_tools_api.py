"""The studio's tools through the API: the interactive merger, the faceset browser and the mask
editor, on a workspace with two extracted people and a tiny trained model."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient

from faceweave.formats.aligned import list_face_files, read_face_meta
from faceweave.merge.session import read_session
from faceweave.studio.app import Studio, create_app
from faceweave.studio.security import LOOPBACK
from faceweave.workspace import Workspace
from tests.faceset.conftest import snapshot
from tests.helpers import extract_two_people, train_tiny
from tests.studio.conftest import TOKEN


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = extract_two_people(tmp_path_factory.mktemp("tools") / "ws", clip_s=1.2)
    train_tiny(ws)
    return ws


@pytest.fixture
def tools(trained: Workspace, tmp_path: Path) -> Iterator[tuple[TestClient, Workspace]]:
    root = tmp_path / "root"
    root.mkdir()
    ws = Workspace(root / "ws")
    shutil.copytree(trained.root, ws.root, symlinks=True)
    _point_at_copy(ws)
    studio = Studio(root, TOKEN, LOOPBACK)
    with TestClient(create_app(studio), base_url="http://127.0.0.1:8484") as client:
        client.headers["x-faceweave-token"] = TOKEN
        yield client, ws


def _point_at_copy(ws: Workspace) -> None:
    from dataclasses import replace

    from faceweave.formats.summary import read_summary, summary_path, write_summary

    for side in ("src", "dst"):
        path = summary_path(ws.root / f"data_{side}" / "aligned")
        write_summary(path, replace(read_summary(path), source=str(ws.root / f"{side}.mp4")))


def _decoded(data: bytes) -> npt.NDArray[np.int16]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, np.int16)


# --- the interactive merger ----------------------------------------------------------------


def test_merger_redraws_a_frame_for_each_setting(tools: tuple[TestClient, Workspace]) -> None:
    client, _ws = tools
    info = client.get("/api/w/ws/merger").json()
    frame = info["with_faces"][3]
    assert info["frames"] >= 20 and info["tracks"] == [0] and info["session"]["ranges"] == []
    assert {f["key"] for f in info["fields"]} >= {"merge.erode", "merge.blend", "merge.mask", "merge.tracks"}

    def render(session: dict[str, object]) -> npt.NDArray[np.int16]:
        response = client.post("/api/w/ws/merger/render", json={"frame": frame, "session": session})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/jpeg" and float(response.headers["x-render-ms"]) > 0
        return _decoded(response.content)

    plain = render({})
    dst = _decoded(client.get(f"/api/w/ws/merger/dst/{frame}").content)
    eroded = render({"all": {"erode": 15.0}})
    assert plain.shape == dst.shape == eroded.shape
    assert np.abs(plain - dst).mean() > 0.5  # the swap shows
    assert np.abs(eroded - plain).mean() > 0.2  # and the setting changes it
    assert np.abs(eroded - dst).mean() < np.abs(plain - dst).mean()  # less of the swap shows
    assert np.abs(render({}) - plain).mean() < 1.5  # the same settings, the same frame (bar JPEG)
    off = render({"ranges": [{"first": frame, "last": frame, "track": 0, "options": {"erode": 15.0}}]})
    assert np.abs(off - eroded).mean() < 1.5  # a range over this frame does what the whole-video setting did
    thumb = _decoded(client.get(f"/api/w/ws/merger/thumb/{frame}").content)
    assert thumb.shape[0] == 72


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"frame": 99999, "session": {}}, "there is no frame 99999"),
        ({"frame": -1, "session": {}}, "whole number"),
        ({"frame": 0, "session": {"all": {"erode": 99}}}, "erode"),
        ({"frame": 0, "session": {"all": {"workers": 3}}}, "'workers' is not a merge option"),
        ({"frame": 0, "session": []}, "session must be a table"),
    ],
)
def test_merger_refuses_bad_requests(tools: tuple[TestClient, Workspace], body: object, message: str) -> None:
    client, _ = tools
    response = client.post("/api/w/ws/merger/render", json=body)
    assert response.status_code == 400 and message in response.json()["error"]


def test_the_saved_session_is_what_merge_reads(tools: tuple[TestClient, Workspace]) -> None:
    client, ws = tools
    session = {
        "all": {"blend": "seamless"},
        "tracks": {"0": {"blur": 9}},
        "ranges": [{"first": 2, "last": 5, "track": None, "options": {"erode": 4}}],
        "frame": 3,
    }
    assert client.put("/api/w/ws/merger/session", json=session).json()["ok"]
    saved = read_session(ws.merge_session)
    assert saved.all == {"blend": "seamless"} and saved.tracks == {0: {"blur": 9.0}} and saved.frame == 3
    assert saved.ranges[0].first == 2 and saved.ranges[0].options == {"erode": 4.0}
    assert client.get("/api/w/ws/merger").json()["session"]["ranges"][0]["last"] == 5
    bad = client.put("/api/w/ws/merger/session", json={"ranges": [{"first": 5, "last": 2, "options": {}}]})
    assert bad.status_code == 400 and "before it begins" in bad.json()["error"]
    assert read_session(ws.merge_session) == saved  # a refused session leaves the file alone
    ws.merge_session.write_text("{broken")
    assert "merge session" in client.get("/api/w/ws/merger").json()["error"]


# --- the faceset browser -----------------------------------------------------------------------


def test_pages_in_any_sort_order(tools: tuple[TestClient, Workspace]) -> None:
    client, ws = tools
    files = [p.name for p in list_face_files(ws.src_aligned)]
    first = client.get("/api/w/ws/faces/src?limit=7").json()
    assert first["total"] == len(files) and first["names"] == files[:7]
    assert {"blur", "yaw", "histogram", "identity", "landmarks", "best"} <= set(first["methods"])
    rest = client.get("/api/w/ws/faces/src?offset=7&limit=1000").json()["names"]
    assert first["names"] + rest == files
    by_yaw = client.get("/api/w/ws/faces/src?by=yaw&limit=1000").json()["names"]
    reverse = client.get("/api/w/ws/faces/src?by=yaw&reverse=true&limit=1000").json()["names"]
    yaws = [read_face_meta(ws.src_aligned / n).pose.yaw for n in by_yaw]
    assert sorted(by_yaw) == files and reverse == by_yaw[::-1]
    assert yaws == sorted(yaws, key=abs) or yaws == sorted(yaws)
    assert [p.name for p in list_face_files(ws.src_aligned)] == files  # nothing renamed
    assert client.get("/api/w/ws/faces/src?by=nope").status_code == 400
    for method in first["methods"]:
        assert sorted(client.get(f"/api/w/ws/faces/src?by={method}&limit=1000").json()["names"]) == files, (
            method
        )
    thumb = _decoded(client.get(f"/api/w/ws/faces/src/thumb/{files[0]}").content)
    assert thumb.shape == (96, 96, 3)


def test_set_aside_and_restore_round_trip(tools: tuple[TestClient, Workspace]) -> None:
    client, ws = tools
    before = snapshot(ws.dst_aligned)
    names = [p.name for p in list_face_files(ws.dst_aligned)][2:5]
    assert client.post("/api/w/ws/faces/dst/reject", json={"names": names}).json() == {"moved": 3}
    assert all((ws.dst_aligned / "_rejected" / "manual" / n).is_file() for n in names)
    shelf = client.get("/api/w/ws/faces/dst?shelf=true").json()
    assert shelf["names"] == [f"manual/{n}" for n in names] and shelf["rejected"] == {"manual": 3}
    details = client.get(f"/api/w/ws/faces/dst/face/{names[0]}?shelf=manual").json()
    assert (
        details["frame_index"]
        == read_face_meta(ws.dst_aligned / "_rejected" / "manual" / names[0]).frame_index
    )
    restored = client.post("/api/w/ws/faces/dst/restore", json={"names": shelf["names"]}).json()
    assert restored == {"restored": 3, "left": []}
    assert snapshot(ws.dst_aligned) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("reject", {"names": ["../faceweave.toml"]}),
        ("reject", {"names": ["000001_0.png/../../x.png"]}),
        ("reject", {"names": ["absent_0.png"]}),
        ("reject", {"names": []}),
        ("restore", {"names": ["../../x/000001_0.png"]}),
        ("restore", {"names": ["000001_0.png"]}),
    ],
)
def test_moves_refuse_names_outside_the_faceset(
    tools: tuple[TestClient, Workspace], path: str, body: object
) -> None:
    client, ws = tools
    before = snapshot(ws.root)
    response = client.post(f"/api/w/ws/faces/dst/{path}", json=body)
    assert response.status_code in (400, 403), response.text
    assert snapshot(ws.root) == before


def test_face_details_image_and_traversal(tools: tuple[TestClient, Workspace]) -> None:
    client, ws = tools
    name = list_face_files(ws.src_aligned)[0].name
    details = client.get(f"/api/w/ws/faces/src/face/{name}").json()
    assert len(details["landmarks"]) == 478 and details["size_px"] == 96 and details["has_mask"] is False
    assert _decoded(client.get(f"/api/w/ws/faces/src/image/{name}").content).shape == (96, 96, 3)
    trained_mask = cv2.imdecode(
        np.frombuffer(client.get(f"/api/w/ws/faces/src/image/{name}?kind=trained").content, np.uint8),
        cv2.IMREAD_GRAYSCALE,
    )
    assert trained_mask.shape == (96, 96) and trained_mask.mean() > 128  # nothing covers this face
    for bad in ("..%2Ffaceweave.toml", "%2E%2E", "x.txt"):
        assert client.get(f"/api/w/ws/faces/src/face/{bad}").status_code in (400, 403, 404)
    assert client.get(f"/api/w/ws/faces/src/face/{name}?shelf=..").status_code in (400, 403)


def test_coverage_names_the_dst_faces_src_lacks(tools: tuple[TestClient, Workspace]) -> None:
    client, ws = tools
    data = client.get("/api/w/ws/coverage").json()
    assert len(data["dst"]["names"]) == len(list_face_files(ws.dst_aligned)) == len(data["dst"]["yaw"])
    assert len(data["src"]["yaw"]) == len(list_face_files(ws.src_aligned))
    for gap in data["gaps"]:
        lacking = data["beyond"][gap["measure"]]
        assert sorted({data["dst"]["frames"][i] for i in lacking}) == gap["frames"]


# --- the mask editor -------------------------------------------------------------------------


def test_labels_saved_in_the_face_file_and_copied_forward(tools: tuple[TestClient, Workspace]) -> None:
    client, ws = tools
    files = list_face_files(ws.dst_aligned)
    square = [[20.0, 20.0], [70.0, 20.0], [70.0, 70.0], [20.0, 70.0]]
    response = client.put(
        f"/api/w/ws/faces/dst/labels/{files[0].name}", json={"include": [square], "exclude": []}
    )
    assert response.json() == {"ok": True}
    labels = read_face_meta(files[0]).labels
    assert len(labels.include) == 1 and np.allclose(labels.include[0], square)
    copied = client.post(f"/api/w/ws/faces/dst/labels/{files[0].name}/copy", json={"count": 3}).json()
    assert copied["labelled"] == [p.name for p in files[1:4]]
    moved = read_face_meta(files[1]).labels.include[0]
    assert np.abs(moved - np.asarray(square)).max() < 20  # the face moved little between frames
    assert not read_face_meta(files[4]).labels
    bad = client.put(f"/api/w/ws/faces/dst/labels/{files[5].name}", json={"include": [[[1, 2], [3, 4]]]})
    assert bad.status_code == 400 and "3 to 4096" in bad.json()["error"]
    assert not read_face_meta(files[5]).labels


def test_mask_jobs_are_known_commands(tools: tuple[TestClient, Workspace]) -> None:
    from faceweave.studio.jobs import job_args

    _, ws = tools
    assert job_args("mask-train", {"time": "2m"}, ws.root)[:3] == ["mask", "train", "-w"]
    assert job_args("mask-apply", {}, ws.root)[:2] == ["mask", "apply"]
    with pytest.raises(Exception, match="duration"):
        job_args("mask-train", {"time": "; rm -rf /"}, ws.root)
    assert json.dumps(job_args("mask-train", {}, ws.root))


def test_what_a_hostile_tester_found_is_one_sentence(tools: tuple[TestClient, Workspace]) -> None:
    client, ws = tools
    face = list_face_files(ws.dst_aligned)[0]
    # Within every count limit and the request size cap, but too long for a face file's metadata.
    points = [[10 + x % 80, 10 + (x * 7) % 80] for x in range(4000)]
    huge = client.put(f"/api/w/ws/faces/dst/labels/{face.name}", json={"include": [points] * 22})
    assert huge.status_code == 400 and "nothing was changed" in huge.json()["error"]
    other = client.put(f"/api/w/ws/faces/dst/labels/{face.stem}.jpg", json={"include": []})
    assert other.status_code == 400 and not read_face_meta(face).labels
    nobody = client.put("/api/w/ws/merger/session", json={"all": {"tracks": "7"}})
    assert nobody.status_code == 400 and "names no track" in nobody.json()["error"]
    assert not ws.merge_session.exists()
    typed = client.get("/api/w/ws/merger/dst/abc")
    assert typed.status_code == 400 and "index" in typed.json()["error"]
    names = [p.name for p in list_face_files(ws.dst_aligned)][:5]
    client.post("/api/w/ws/faces/dst/reject", json={"names": names})
    shelf = client.get("/api/w/ws/faces/dst?shelf=true&offset=1&limit=2").json()
    assert shelf["total"] == 5 and shelf["names"] == [f"manual/{n}" for n in names[1:3]]


def test_parallel_saves_do_not_collide(tools: tuple[TestClient, Workspace]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client, ws = tools
    face = list_face_files(ws.dst_aligned)[1].name

    def save(k: int) -> object:
        if k % 2:
            return client.put("/api/w/ws/merger/session", json={"all": {"erode": float(k % 20)}}).status_code
        square = [[10.0 + k, 10.0], [60.0, 10.0], [60.0, 60.0]]
        response = client.put(f"/api/w/ws/faces/dst/labels/{face}", json={"include": [square]})
        return response.status_code if response.status_code == 200 else response.json()["error"]

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(save, range(24)))
    assert set(codes) == {200}, codes
    assert read_session(ws.merge_session).all["erode"] in {float(k % 20) for k in range(1, 24, 2)}
    assert len(read_face_meta(ws.dst_aligned / face).labels.include) == 1
