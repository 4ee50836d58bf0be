"""The studio on a real uvicorn server, reached with raw HTTP: `http.client` sends a path exactly as
written (httpx, under FastAPI's test client, folds `..` away before sending), a body without a
length, and reads the event stream. Then the jobs' queue across studio restarts, and the
`faceweave studio` command itself."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from faceweave.studio.app import Studio
from faceweave.studio.jobs import Job, JobStore, Runner, resumed_options
from tests.studio.conftest import TOKEN, serve_studio


def _request(base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             token: str | None = TOKEN) -> tuple[int, bytes]:  # fmt: skip
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    sent = {**({"x-faceweave-token": token} if token else {}), **(headers or {})}
    chunked = body is not None and not isinstance(body, bytes | str)
    connection.request(method, path, body=body, headers=sent, encode_chunked=chunked)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


@pytest.fixture
def served(studio: Studio) -> Iterator[str]:
    with serve_studio(studio) as base:
        status, _ = _request(base, "POST", "/api/workspaces", json.dumps({"name": "a"}),
                             {"content-type": "application/json"})  # fmt: skip
        assert status == 200
        yield base


@pytest.mark.parametrize(
    "path",
    ["/media/a/../secret.txt", "/media/a/../../outside.txt", "/media/a/model/../../secret.txt",
     "/media/a/./../secret.txt", "/media/a/..%2fsecret.txt", "/media/a/%2e%2e/secret.txt",
     "/media/a//etc/passwd", "/media/a/%2fetc%2fpasswd", "/media/a/data_src/..%5c..%5csecret.txt"],
)  # fmt: skip
def test_dot_dot_paths_reach_the_server_and_are_refused(served: str, studio: Studio, path: str) -> None:
    (studio.root / "secret.txt").write_text("the root, not the workspace")
    (studio.root.parent / "outside.txt").write_text("outside the root")
    status, body = _request(served, "GET", path)
    assert status in (403, 404), (status, body)
    assert b"not the workspace" not in body and b"outside the root" not in body and b"root:" not in body
    assert _request(served, "GET", "/media/a/faceweave.toml")[0] == 200  # the route itself serves


def test_linked_inputs_stay_inside_the_root(served: str, studio: Studio) -> None:
    outside = studio.root.parent / "elsewhere"
    outside.mkdir()
    (outside / "clip.mp4").write_bytes(b"\0" * 64)
    os.symlink(outside, studio.root / "escape")
    for path in ("../elsewhere/clip.mp4", "escape/clip.mp4", "escape", "a/../../elsewhere", str(outside)):
        status, body = _request(served, "POST", "/api/w/a/link/src", json.dumps({"path": path}),
                                {"content-type": "application/json"})  # fmt: skip
        assert status in (400, 403), (path, status, body)
    ws = studio.root / "a"
    assert not (ws / "data_src.mp4").exists() and not [p for p in (ws / "data_src").iterdir() if p.is_file()]


def test_an_upload_without_a_length_is_capped_while_it_streams(served: str, studio: Studio) -> None:
    chunks = (b"\0" * (1 << 20) for _ in range(9))  # 9 MiB against the fixture's 8 MiB cap
    try:
        status, body = _request(served, "PUT", "/api/w/a/input/src", chunks, {"x-file-suffix": ".mp4"})
        assert status == 400 and b"upload limit" in body
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server may answer and close before the client has sent the rest: refused as well
    ws = studio.root / "a"
    assert not (ws / "data_src.mp4").exists() and not [p for p in ws.iterdir() if "partial" in p.name]


def test_events_stream_the_state_with_the_token(served: str) -> None:
    url = urlsplit(served)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    connection.request("GET", "/api/w/a/events", headers={"x-faceweave-token": TOKEN})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("content-type", "").startswith("text/event-stream")
    lines: list[bytes] = []
    while not lines or lines[-1] != b"\n" or not any(line.startswith(b"data: ") for line in lines):
        lines.append(response.readline())
    connection.close()
    assert b"event: state\n" in lines
    state = json.loads(next(line for line in lines if line.startswith(b"data: "))[6:])
    assert state["jobs"] == [] and "inputs" in state
    assert _request(served, "GET", "/api/w/a/events", token=None)[0] == 403


def _wait(runner: Runner, workspace: str, count: int, timeout_s: float = 120) -> list[Job]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs = runner.history(workspace)
        if len(jobs) >= count and all(j.state not in ("queued", "running") for j in jobs):
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"jobs still running: {runner.history(workspace)}")


def _workspace(root: Path, name: str) -> Path:
    ws = root / name
    ws.mkdir()
    (ws / "faceweave.toml").write_text("")
    return ws


def test_jobs_run_one_at_a_time_in_the_order_asked(tmp_path: Path) -> None:
    roots = {name: _workspace(tmp_path, name) for name in ("a", "b")}
    runner = Runner(roots)
    try:
        asked = [runner.submit("a", "extract-src", {}), runner.submit("b", "extract-dst", {}),
                 runner.submit("a", "merge", {})]  # fmt: skip
        assert [j.state for j in asked[1:]] == ["queued", "queued"]
        done = sorted(_wait(runner, "a", 2) + _wait(runner, "b", 1), key=lambda j: j.started or 0)
    finally:
        runner.stop_all()
    assert [j.id for j in done] == [j.id for j in asked]
    again = Runner(roots)  # a studio started later reads the same history
    try:
        assert [(j.id, j.state) for j in again.history("a")] == [
            (j.id, j.state) for j in done if j.workspace == "a"
        ]
    finally:
        again.stop_all()
    for first, second in itertools.pairwise(done):
        assert first.ended is not None and second.started is not None and first.ended <= second.started


def test_a_resumed_training_goes_on_from_its_save_not_from_the_old_checkpoint(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "a")
    model = ws / "model"
    old = model / "ckpt-000000010"
    old.mkdir(parents=True)
    os.utime(old, (1000.0, 1000.0))
    options = {"iterations": "50", "resume_from": "ckpt-000000010"}
    now = time.time()
    job = Job(
        "j1", "a", "train", [], state="cancelled", started=now - 60, ended=now - 30, options=dict(options)
    )
    assert resumed_options(job, ws) == options  # stopped before it saved: from the choice again
    later = model / "ckpt-000000090"
    later.mkdir()  # saved now, after the job ended: another run's, not this job's
    assert resumed_options(job, ws) == options
    own = model / "ckpt-000000030"
    own.mkdir()
    os.utime(own, (now - 31, now - 31))  # the save of its cancel
    assert resumed_options(job, ws) == {"iterations": "50", "resume_from": "ckpt-000000030"}
    JobStore(ws).save([job])
    runner = Runner({"a": ws})
    try:
        again = runner.resume("j1")
        assert again.args[-2:] == ["--resume-from", str(own)]
        runner.cancel(again.id)
    finally:
        runner.stop_all()


def test_an_earlier_studios_job_still_saving_holds_the_queue_then_reads_interrupted(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "a")
    # A long-running faceweave command stands in for a training an earlier studio started.
    args = ["studio", "--root", str(tmp_path / "elsewhere"), "--port", "0"]
    (tmp_path / "elsewhere").mkdir()
    saving = subprocess.Popen([sys.executable, "-m", "faceweave", *args], stdout=subprocess.DEVNULL)
    started = time.time()
    try:
        record = Job("old1", "a", "train", args, state="running", started=started, pid=saving.pid)
        impostors = [
            Job(
                "old2", "a", "train", ["train"], state="running", started=started, pid=saving.pid
            ),  # other args
            Job(
                "old3", "a", "train", args, state="running", started=started - 3600, pid=saving.pid
            ),  # reused pid
            Job("old4", "a", "train", args, state="running", started=started, pid=os.getpid()),  # the studio
            Job("old5", "b", "train", ["train"], state="done", started=1.0),  # from a's folder when named b
        ]
        JobStore(ws).save([record, *impostors])
        runner = Runner({"a": ws})
        try:
            states = {j.id: j.state for j in runner.history("a")}
            assert states == {"old1": "running", "old2": "interrupted", "old3": "interrupted",
                              "old4": "interrupted", "old5": "done"}  # fmt: skip
            waiting = runner.submit("a", "extract-src", {})
            time.sleep(2.5)
            assert runner.get(waiting.id).state == "queued"  # one heavy job at a time, across studios
            runner.cancel("old1")  # SIGINT to the old command, as its own studio would send
            saving.wait(30)
            jobs = _wait(runner, "a", 6, timeout_s=60)
            assert {j.id: j.state for j in jobs}["old1"] == "interrupted"
            assert runner.get(waiting.id).state == "failed"  # it ran: no src video, exit 2
            assert json.loads(JobStore(ws).path.read_text())["jobs"][0]["state"] == "interrupted"
        finally:
            runner.stop_all()
    finally:
        saving.kill()
        saving.wait()


def _studio(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "faceweave", "studio", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


def test_the_studio_command_prints_a_token_url_that_opens_it(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "faceweave.toml").write_text("")
    process = _studio("--root", str(tmp_path), "--port", "0")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=([\w-]{20,})", line)
        assert found, line
        base, token = found.groups()
        status, body = _request(base, "GET", "/api/workspaces", token=token)
        assert status == 200 and "one" in body.decode()
        assert _request(base, "GET", "/api/workspaces", token=None)[0] == 403
        assert _request(base, "GET", f"/?token={token}", token=None)[0] == 200
    finally:
        err = _stop(process)
    assert process.returncode in (0, 130, -signal.SIGINT) and "Traceback" not in err


def test_the_studio_command_warns_off_loopback_and_refuses_bad_input(tmp_path: Path) -> None:
    process = _studio("--root", str(tmp_path), "--port", "0", "--host", "0.0.0.0")
    try:
        assert process.stdout is not None
        assert "http://0.0.0.0:" in process.stdout.readline()
    finally:
        err = _stop(process)
    assert "other machines can reach the studio" in err
    for args in (["-w", str(tmp_path), "--root", str(tmp_path)], ["-w", str(tmp_path / "none")],
                 ["--root", str(tmp_path / "none")], ["--port", "70000"]):  # fmt: skip
        refused = subprocess.run([sys.executable, "-m", "faceweave", "studio", *args], capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
        errors = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
        assert refused.returncode == 2 and len(errors) == 1 and "Traceback" not in refused.stderr, (
            refused.stderr
        )


def test_uploads_racing_for_one_photo_name_keep_exactly_one(served: str, studio: Studio) -> None:
    import cv2

    from faceweave.assets import load_sample_face

    bodies = [cv2.imencode(".png", load_sample_face(k))[1].tobytes() for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda body: _request(served, "PUT", "/api/w/a/photos/src", body,
                                                      {"x-file-name": "same.png"}), bodies))  # fmt: skip
    assert sorted(status for status, _ in answers) == [200, 400, 400, 400]
    kept = (studio.root / "a" / "data_src" / "same.png").read_bytes()
    assert kept == bodies[[status for status, _ in answers].index(200)]  # whole, and the winner's
    assert [p.name for p in (studio.root / "a" / "data_src").iterdir() if p.is_file()] == ["same.png"]
