"""Every endpoint through FastAPI's test client, with the security cases: token, Host header,
paths outside the root (.., URL-encoding, absolute, symlinks), uploads, jobs and the options form."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from faceweave.config import SECTIONS
from faceweave.media.synth import ClipSpec, write_pattern_clip
from faceweave.studio.app import Studio
from faceweave.studio.jobs import Job, JobStore, Runner
from tests.studio.conftest import TOKEN

ROUTES = ["/", "/w/a", "/w/a/options", "/static/app.js", "/api/workspaces", "/api/w/a/state",
          "/api/w/a/losses", "/api/w/a/options", "/api/w/a/verify", "/media/a/faceweave.toml"]  # fmt: skip


def _workspace(client: TestClient, name: str = "a") -> None:
    response = client.post("/api/workspaces", json={"name": name})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_needs_the_token(client: TestClient, route: str) -> None:
    _workspace(client)
    assert client.get(route).status_code == 200
    bare = TestClient(client.app, base_url="http://127.0.0.1:8484")
    refused = bare.get(route)
    assert refused.status_code == 403 and "token" in refused.json()["error"]
    assert bare.get(route, headers={"x-faceweave-token": "wrong"}).status_code == 403


def test_the_token_is_never_a_cookie(client: TestClient) -> None:
    """A cookie on 127.0.0.1 would reach every local port, and ride along on their requests."""
    bare = TestClient(client.app, base_url="http://127.0.0.1:8484")
    page = bare.get(f"/?token={TOKEN}")
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert f'content="{TOKEN}"' in page.text  # the page's script sends it as a header
    assert bare.get("/api/workspaces").status_code == 403
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_another_local_page_cannot_change_anything(client: TestClient) -> None:
    body = {"name": "csrf"}
    for headers in ({"origin": "http://127.0.0.1:9999"}, {"sec-fetch-site": "same-site"},
                    {"sec-fetch-site": "cross-site", "origin": "http://evil.example"}):  # fmt: skip
        assert client.post("/api/workspaces", json=body, headers=headers).status_code == 403
    plain = client.post("/api/workspaces", content=json.dumps(body), headers={"content-type": "text/plain"})
    assert plain.status_code == 400  # what an HTML form can send across origins
    assert (
        client.post("/api/workspaces", json=body, headers={"origin": "http://127.0.0.1:8484"}).status_code
        == 200
    )


def test_events_need_the_token(client: TestClient) -> None:
    _workspace(client)
    bare = TestClient(client.app, base_url="http://127.0.0.1:8484")
    assert bare.get("/api/w/a/events").status_code == 403


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "attacker:8484", ""])
def test_a_foreign_host_header_is_refused(client: TestClient, host: str) -> None:
    response = client.get("/api/workspaces", headers={"host": host})
    assert response.status_code in (400, 403)


@pytest.mark.parametrize("host", ["localhost:8484", "127.0.0.1", "[::1]:8484"])
def test_loopback_host_headers_are_served(client: TestClient, host: str) -> None:
    assert client.get("/api/workspaces", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("path", ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd",
                                  "/etc/passwd", "%2Fetc%2Fpasswd", "model/../../x"])  # fmt: skip
def test_no_path_outside_the_root(client: TestClient, studio: Studio, path: str) -> None:
    _workspace(client)
    (studio.root / "secret.txt").write_text("outside the workspace")
    response = client.get(f"/media/a/{path}")
    assert response.status_code in (403, 404)
    assert "passwd" not in response.text and "root:" not in response.text


def test_a_symlink_out_of_the_root_is_refused(client: TestClient, studio: Studio, tmp_path: Path) -> None:
    _workspace(client)
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    os.symlink(outside, studio.root / "a" / "link.txt")
    response = client.get("/media/a/link.txt")
    assert response.status_code == 403 and "not yours" not in response.text
    inside = client.post("/api/w/a/link/src", json={"path": str(outside)})
    assert inside.status_code == 403


@pytest.mark.parametrize("name", ["..", ".", "a/b", "-x", "x" * 65, "a b", "%2e%2e"])
def test_workspace_names_are_plain(client: TestClient, name: str) -> None:
    assert client.post("/api/workspaces", json={"name": name}).status_code in (400, 403)


def test_uploads_are_checked_and_capped(client: TestClient, studio: Studio, tmp_path: Path) -> None:
    _workspace(client)
    ws = studio.root / "a"
    bad = client.put("/api/w/a/input/src", content=b"not a video at all", headers={"x-file-suffix": ".mp4"})
    assert bad.status_code == 400 and not (ws / "data_src.mp4").exists()
    assert not [p for p in ws.iterdir() if "partial" in p.name]
    assert (
        client.put("/api/w/a/input/src", content=b"x", headers={"x-file-suffix": ".exe"}).status_code == 400
    )
    assert client.put("/api/w/a/input/left", content=b"x").status_code == 400
    huge = client.put("/api/w/a/input/src", content=b"\0" * (9 << 20), headers={"x-file-suffix": ".mp4"})
    assert huge.status_code == 400 and "upload limit" in huge.json()["error"]
    clip = tmp_path / "clip.mp4"
    write_pattern_clip(clip, ClipSpec(seconds=0.4, fps=25, width=160, height=120, seed=1))
    good = client.put("/api/w/a/input/src", content=clip.read_bytes(), headers={"x-file-suffix": ".mp4"})
    assert good.status_code == 200
    state = client.get("/api/w/a/state").json()
    assert state["inputs"]["src"]["frames"] == 10 and state["inputs"]["dst"] is None


def test_job_requests_are_checked_before_anything_runs(client: TestClient) -> None:
    _workspace(client)
    bodies = [
        {"kind": "rm -rf /"},
        {"kind": "train", "options": {"iterations": "²"}},
        {"kind": "train", "options": {"iterations": "1", "resume_from": ["x"]}},
        {"kind": "train", "options": {"iterations": "5; ls"}},
        {"kind": "train", "options": {"time": "$(reboot)"}},
        {"kind": "run", "options": "x"},
    ]
    for body in bodies:
        response = client.post("/api/w/a/jobs", json=body)
        assert response.status_code == 400, body
    assert client.get("/api/w/a/state").json()["jobs"] == []
    assert client.post("/api/jobs/nope/cancel").status_code == 400


def test_a_job_runs_the_command_line_and_reports(client: TestClient, studio: Studio) -> None:
    _workspace(client)
    job = client.post("/api/w/a/jobs", json={"kind": "extract-src"}).json()
    assert job["args"][:2] == ["extract", "src"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = client.get("/api/w/a/state").json()
        if state["jobs"][0]["state"] not in ("queued", "running"):
            break
        time.sleep(0.3)
    record = state["jobs"][0]
    assert record["state"] == "failed" and record["returncode"] == 2  # no src video yet: a user error
    log = client.get(f"/api/jobs/{job['id']}/log").text
    assert "error:" in log and "Traceback" not in log
    history = json.loads((studio.root / "a" / "studio" / "jobs.json").read_text())
    assert history["jobs"][0]["id"] == job["id"]


def test_a_job_left_running_by_a_crash_is_interrupted_and_resumable(studio: Studio) -> None:
    ws = studio.root / "b"
    ws.mkdir()
    (ws / "faceweave.toml").write_text("")
    store = JobStore(ws)
    store.folder.mkdir()
    args = ["frames", "/etc/passwd", "/tmp/written"]  # a history file from someone else
    dead: dict[str, Any] = {"id": "dead1", "workspace": "b", "kind": "train", "args": args}
    dead |= {"state": "running", "options": {"iterations": "5"}}
    dead |= {"created": 1.0, "started": 2.0, "ended": None, "returncode": None, "pid": 2**22 + 7}
    store.path.write_text(json.dumps({"version": 1, "jobs": [dead]}))
    runner = Runner({"b": ws})
    (job,) = runner.history("b")
    assert job.state == "interrupted"
    again = runner.resume("dead1")
    assert again.args == ["train", "-w", str(ws), "--iterations", "5"]  # rebuilt, never replayed
    assert again.state == "queued"
    runner.cancel(again.id)


def test_the_options_form_covers_every_option_and_keeps_comments(client: TestClient, studio: Studio) -> None:
    _workspace(client)
    fields = client.get("/api/w/a/options").json()["fields"]
    declared = sum(len(dataclasses.fields(cls)) for cls in SECTIONS.values())
    assert len(fields) == declared
    saved = client.put(
        "/api/w/a/options", json={"video.crf": "20", "merge.color": "lct", "train.warp": "false"}
    )
    assert saved.json() == {"ok": True}
    text = (studio.root / "a" / "faceweave.toml").read_text()
    assert "crf = 20" in text and 'color = "lct"' in text and "warp = false" in text
    assert "# x264 constant rate factor" in text  # the comments stay
    bad = client.put("/api/w/a/options", json={"video.crf": "99"}).json()
    assert not bad["ok"] and "video.crf" in bad["error"] and "studio form" in bad["error"]
    assert not client.put("/api/w/a/options", json={"train.learning_rate": "nan"}).json()["ok"]
    assert not client.put("/api/w/a/options", json={"nope.key": "1"}).json()["ok"]
    assert "crf = 20" in (studio.root / "a" / "faceweave.toml").read_text()  # a refused form changes nothing


def test_resume_from_names_a_kept_checkpoint_only(client: TestClient, studio: Studio) -> None:
    _workspace(client)
    (studio.root / "a" / "model" / "ckpt-000010").mkdir(parents=True)
    bad = {"kind": "train", "options": {"iterations": "20", "resume_from": "../../etc"}}
    refused = client.post("/api/w/a/jobs", json=bad)
    assert refused.status_code == 400 and "ckpt-000010" in refused.json()["error"]
    good = {"kind": "train", "options": {"iterations": "20", "resume_from": "ckpt-000010"}}
    job = client.post("/api/w/a/jobs", json=good).json()
    assert job["args"][-2:] == ["--resume-from", str(studio.root / "a" / "model" / "ckpt-000010")]
    client.post(f"/api/jobs/{job['id']}/cancel")


def test_a_photo_folder_inside_the_root_becomes_the_input(client: TestClient, studio: Studio) -> None:
    import cv2

    from faceweave.assets import load_sample_face

    _workspace(client)
    photos = studio.root / "photos"
    photos.mkdir()
    for k in range(3):
        cv2.imwrite(str(photos / f"p{k}.jpg"), load_sample_face(k))
    (photos / "notes.txt").write_text("not a picture")
    assert client.post("/api/w/a/link/src", json={"path": "photos"}).json() == {"images": 3}
    assert client.get("/api/w/a/state").json()["inputs"]["src"] == {"photos": 3, "first": "p0.jpg"}
    job = client.post("/api/w/a/jobs", json={"kind": "run", "options": {"iterations": "1"}}).json()
    assert job["args"][job["args"].index("--src") + 1] == str(studio.root / "a" / "data_src")
    client.post(f"/api/jobs/{job['id']}/cancel")
    assert client.post("/api/w/a/link/dst", json={"path": "nowhere"}).status_code == 400


def test_odd_file_names_in_the_model_folder_do_not_break_the_state(
    client: TestClient, studio: Studio
) -> None:
    _workspace(client)
    model = studio.root / "a" / "model"
    (model / "previews").mkdir(parents=True)
    (model / "previews" / "²3.png").write_bytes(b"x")
    (model / "ckpt-¹").mkdir()
    assert client.get("/api/w/a/state").status_code == 200
    assert client.get("/api/workspaces", headers={"host": "localhost:80@evil.example"}).status_code == 403


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` in its header, with a few bytes of pixel data: what a
    decompression bomb looks like before it is decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_photos_are_uploaded_one_by_one_and_checked(client: TestClient, studio: Studio) -> None:
    import cv2

    from faceweave.assets import load_sample_face

    _workspace(client)
    ws = studio.root / "a"
    folder = ws / "data_src"
    picture = cv2.imencode(".jpg", load_sample_face(0))[1].tobytes()

    def put(name: str, body: bytes = picture, side: str = "src") -> Any:
        return client.put(f"/api/w/a/photos/{side}", content=body, headers={"x-file-name": name})

    assert put("face one.jpg").json() == {"photos": 1}
    assert put("Jos%C3%A9%20(2)%2B.PNG", cv2.imencode(".png", load_sample_face(1))[1].tobytes()).json() == {
        "photos": 2
    }  # the page sends names percent-encoded
    for name in ("../up.jpg", ".hidden.jpg", "a/b.jpg", "a%2Fb.jpg", "x.exe", "", "x%00.jpg", "..jpg",
                 "-x.jpg", "%FF.jpg", "x" * 151 + ".jpg"):  # fmt: skip
        refused = put(name)
        assert refused.status_code == 400 and "picture name" in refused.json()["error"], name
    bombs = ((_png_header(9000, 9000), "9000x9000 pixels"), (_png_header(30000, 30000), ""))
    for body, why in ((b"\xff\xd8 not really a jpeg", "not a picture"), (b"", "not a picture"), *bombs):
        broken = put("broken.png", body)
        assert broken.status_code == 400 and why in broken.json()["error"], broken.text
    again = put("face one.jpg", cv2.imencode(".jpg", load_sample_face(2))[1].tobytes())
    assert again.status_code == 400 and "already" in again.json()["error"]
    assert (folder / "face one.jpg").read_bytes() == picture  # the first stays
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["José (2)+.PNG", "face one.jpg"]
    assert client.get("/api/w/a/state").json()["inputs"]["src"] == {"photos": 2, "first": "face one.jpg"}
    huge = put("big.jpg", b"\0" * (9 << 20), side="dst")
    assert huge.status_code == 400 and "upload limit" in huge.json()["error"]

    # A side takes a video or photos, never both; "remove input" moves them aside, never deletes.
    video = client.put("/api/w/a/input/src", content=b"x", headers={"x-file-suffix": ".mp4"})
    assert video.status_code == 400 and "2 photo(s) in data_src/" in video.json()["error"]
    own = client.post("/api/w/a/link/src", json={"path": "a/data_src"})
    assert own.status_code == 400 and "own data_src/" in own.json()["error"]
    more = studio.root / "more"
    more.mkdir()
    (more / "face one.jpg").write_bytes(cv2.imencode(".jpg", load_sample_face(3))[1].tobytes())
    (more / "new.jpg").write_bytes(picture)
    clash = client.post("/api/w/a/link/src", json={"path": "more"})
    assert clash.status_code == 400 and "face one.jpg (1 in all) is already" in clash.json()["error"]
    assert not (folder / "new.jpg").exists()  # nothing copied
    assert client.delete("/api/w/a/input/src").json() == {"moved": 2}
    assert (
        not [p for p in folder.iterdir() if p.is_file()]
        and client.get("/api/w/a/state").json()["inputs"]["src"] is None
    )
    (removed,) = (ws / "studio" / "removed").iterdir()
    assert sorted(p.name for p in removed.iterdir()) == ["José (2)+.PNG", "face one.jpg"]
    assert client.post("/api/w/a/link/src", json={"path": "more"}).json() == {"images": 2}
    assert client.delete("/api/w/a/input/dst").status_code == 400  # nothing to remove
    (ws / "data_dst.mp4").write_bytes(b"a video")
    taken = put("d.jpg", side="dst")
    assert taken.status_code == 400 and "data_dst.mp4 is this side's input" in taken.json()["error"]


def test_training_time_runs_on_between_saves(client: TestClient, studio: Studio) -> None:
    _workspace(client)
    model = studio.root / "a" / "model"
    (model / "ckpt-000000010").mkdir(parents=True)
    (model / "ckpt-000000010" / "state.json").write_text(json.dumps({"iteration": 10, "elapsed_s": 100.0}))
    (model / "latest").write_text("ckpt-000000010")
    log = model / "train_log.jsonl"
    log.write_text(json.dumps({"iteration": 10, "loss_src": 0.5, "loss_dst": 0.5, "s_per_it": 0.5}) + "\n")
    assert client.get("/api/w/a/state").json()["model"]["elapsed_s"] == 100.0
    with log.open("a") as more:
        more.write(json.dumps({"iteration": 30, "loss_src": 0.4, "loss_dst": 0.4, "s_per_it": 0.5}) + "\n")
    assert client.get("/api/w/a/state").json()["model"]["elapsed_s"] == 110.0  # 20 steps at 0.5 s since


def test_inputs_stay_put_under_a_job_and_never_go_through_a_symlink(
    client: TestClient, studio: Studio, tmp_path: Path
) -> None:
    import cv2

    from faceweave.assets import load_sample_face

    _workspace(client)
    ws = studio.root / "a"
    picture = cv2.imencode(".jpg", load_sample_face(0))[1].tobytes()
    long_name = "é" * 99 + ".jpg"  # 202 bytes: with a temporary name's extra characters, too long
    refused = client.put("/api/w/a/photos/src", content=picture, headers={"x-file-name": quote(long_name)})
    assert refused.status_code == 400 and "picture name" in refused.json()["error"]
    fits = "é" * 95 + ".jpg"
    assert (
        client.put("/api/w/a/photos/src", content=picture, headers={"x-file-name": quote(fits)}).status_code
        == 200
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(ws / "data_dst")
    os.symlink(elsewhere, ws / "data_dst")
    through = client.put("/api/w/a/photos/dst", content=picture, headers={"x-file-name": "x.jpg"})
    assert through.status_code == 400 and "symbolic link" in through.json()["error"]
    assert not list(elsewhere.iterdir())
    job = client.post("/api/w/a/jobs", json={"kind": "train", "options": {"iterations": "5"}}).json()
    try:
        for attempt in (
            client.put("/api/w/a/photos/src", content=picture, headers={"x-file-name": "y.jpg"}),
            client.delete("/api/w/a/input/src"),
            client.put("/api/w/a/input/src", content=b"x", headers={"x-file-suffix": ".mp4"}),
        ):
            assert attempt.status_code == 400 and "queued or running" in attempt.json()["error"]
    finally:
        client.post(f"/api/jobs/{job['id']}/cancel")


def test_a_job_cancelled_before_it_starts_never_starts(tmp_path: Path) -> None:
    ws = tmp_path / "a"
    ws.mkdir()
    (ws / "faceweave.toml").write_text("")
    store = JobStore(ws)
    store.folder.mkdir()
    broken: dict[str, Any] = {"id": "bad1", "workspace": "a", "kind": "train", "args": None}
    broken |= {"state": "running", "options": {}, "created": 1.0, "pid": os.getpid()}
    store.path.write_text(json.dumps({"version": 1, "jobs": [broken]}))
    runner = Runner({"a": ws})  # a damaged record is skipped, not a studio that cannot start
    runner.stop_all()
    assert runner.history("a") == []
    runner.stopping = False
    job = Job("j1", "a", "train", ["train", "-w", str(ws)])
    runner.jobs[job.id] = job  # taken from the queue: in neither the queue nor the processes
    runner.cancel(job.id)
    runner._run(job)
    assert job.state == "cancelled" and job.pid is None and job.started is None
    runner.stopping = True
    late = Job("j2", "a", "train", ["train", "-w", str(ws)])
    runner.jobs[late.id] = late
    runner._run(late)  # after shutdown: nothing starts
    assert late.pid is None
