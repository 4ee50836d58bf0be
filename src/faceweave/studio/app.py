"""The studio's web app. Routes are thin: they check, then call the workspace, job and form
modules; pages are plain HTML with a little JavaScript (static/app.js)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse

from faceweave.errors import UserError, user_path
from faceweave.studio import pages
from faceweave.studio.inputs import (
    PHOTO_MAX_BYTES,
    copy_photos,
    keep_photo,
    photo_folder,
    photo_name,
    refuse_mixed,
    remove_input,
    side_photos,
    side_video,
)
from faceweave.studio.jobs import JobStore, Runner
from faceweave.studio.security import (
    TOKEN_HEADER,
    Forbidden,
    host_ok,
    inside,
    token_ok,
    workspace_name,
)
from faceweave.studio.state import losses, workspace_state

STATIC = Path(__file__).with_name("static")
UPLOAD_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


class Studio:
    """The studio's root folder, its workspaces (folders right under it), token and job runner."""

    def __init__(self, root: Path, token: str, hosts: tuple[str, ...], only: str | None = None,
                 max_upload_mb: int = 8192) -> None:  # fmt: skip
        self.root, self.token, self.hosts, self.only = root.resolve(), token, hosts, only
        self.max_upload = max_upload_mb << 20
        self.runner = Runner({name: self.root / name for name in self.names()})

    def names(self) -> list[str]:
        if self.only is not None:
            return [self.only]
        return sorted(p.name for p in self.root.iterdir() if (p / "faceweave.toml").is_file())

    @property
    def link_root(self) -> Path:
        """Where `link` may take inputs from: the root, or with -w the one workspace."""
        return self.root / self.only if self.only is not None else self.root

    def refuse_busy(self, name: str) -> None:
        """Inputs do not change under a job that reads them (or is about to)."""
        if any(j.state in ("queued", "running") for j in self.runner.history(name)):
            raise UserError("a job of this workspace is queued or running; change its inputs when it is done")

    def workspace(self, name: str) -> Path:
        workspace_name(name)
        if name not in self.names():
            raise Forbidden(f"there is no workspace {name!r}")
        self.runner.add_workspace(name, self.root / name)  # one made by `faceweave init` meanwhile
        return self.root / name


CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self'; img-src 'self' blob:; "
       "media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")  # fmt: skip
JSON_MAX_BYTES = 1 << 20


def same_origin(request: Request) -> bool:
    """A state-changing request comes from the studio's own pages (or from no page at all: curl)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"http://{request.headers.get('host', '')}"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(studio: Studio) -> FastAPI:
    app = FastAPI(title="faceweave studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not host_ok(request.headers.get("host"), studio.hosts):
            return _error(403, "forbidden: this studio answers only to its own address")
        # No cookie: a cookie on 127.0.0.1 goes to every port of it, so any local page could ride on
        # it. Pages carry the token in their URL; their script sends it as a header (or in the URL
        # of media and events), which another origin cannot read.
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token")
        if not token_ok(given, studio.token):
            return _error(403, "forbidden: the access token is missing or wrong (open the URL it printed)")
        if request.method not in ("GET", "HEAD") and not same_origin(request):
            return _error(403, "forbidden: a request from another web page")
        try:
            response = await call_next(request)
        except Forbidden as exc:
            return _error(403, str(exc))
        except UserError as exc:
            return _error(400, str(exc))
        except OSError as exc:  # the disk or the file system said no: its words, not a traceback
            where = f"{user_path(exc.filename).name}: " if exc.filename else ""
            return _error(500, f"the studio could not do that ({where}{exc.strerror or type(exc).__name__})")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    from faceweave.studio import faces_routes, merger_routes

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer is a list of dicts; the page shows one sentence.
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "a parameter"
        return _error(400, f"{where} is not valid: {first.get('msg', 'unexpected value')}")

    _pages(app, studio)
    _api(app, studio)
    _media(app, studio)
    merger_routes.register(app, studio)
    faces_routes.register(app, studio)
    return app


def _pages(app: FastAPI, studio: Studio) -> None:
    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return pages.index(studio.names(), studio.root, studio.token)

    @app.get("/w/{name}", response_class=HTMLResponse)
    def workspace_page(name: str) -> str:
        studio.workspace(name)
        return pages.workspace(name, studio.token)

    def tool_page(kind: str) -> Callable[[str], str]:
        def page(name: str) -> str:
            studio.workspace(name)
            return pages.tool(kind, name, studio.token)

        return page

    for kind in pages.TOOLS:  # the interactive merger, the faceset browser, the mask editor
        app.get(f"/w/{{name}}/{kind}", response_class=HTMLResponse)(tool_page(kind))

    @app.get("/w/{name}/options", response_class=HTMLResponse)
    def options_page(name: str) -> str:
        studio.workspace(name)
        return pages.options(name, studio.token)

    @app.get("/static/{file}")
    def static(file: str) -> FileResponse:
        return FileResponse(inside(STATIC, file))


def _api(app: FastAPI, studio: Studio) -> None:
    runner = studio.runner

    @app.get("/api/workspaces")
    def list_workspaces() -> dict[str, Any]:
        return {"workspaces": studio.names(), "root": str(studio.root)}

    @app.post("/api/workspaces")
    async def create_workspace(request: Request) -> dict[str, Any]:
        body = await read_json_body(request)
        if studio.only is not None:
            raise Forbidden("this studio serves one workspace (-w); start it with --root to create more")
        raw = body.get("name")
        name = workspace_name(raw if isinstance(raw, str) else "")
        root = studio.root / name
        if root.exists():
            raise UserError(f"{name} already exists")
        from faceweave.workspace import init_workspace

        ws = init_workspace(root).workspace
        if body.get("demo"):
            await asyncio.to_thread(_demo_clips, ws)
        runner.add_workspace(name, root)
        return {"name": name}

    @app.get("/api/w/{name}/state")
    def state(name: str) -> dict[str, Any]:
        root = studio.workspace(name)
        return {**workspace_state(name, root), "jobs": [j.__dict__ for j in runner.history(name)]}

    @app.put("/api/w/{name}/input/{side}")
    async def upload(name: str, side: str, request: Request) -> dict[str, Any]:
        root = studio.workspace(name)
        target = side_video(root, side)
        studio.refuse_busy(name)
        refuse_mixed(root, side, "video")
        kind = request.headers.get("x-file-suffix", ".mp4").lower()
        if kind not in UPLOAD_SUFFIXES:
            raise UserError(f"{kind} is not a video type the studio takes ({', '.join(UPLOAD_SUFFIXES)})")
        size, limit = int(request.headers.get("content-length") or 0), studio.max_upload >> 20
        if size > studio.max_upload:
            raise UserError(f"the file is larger than the upload limit ({limit} MiB)")
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        written = 0
        try:
            with partial.open("wb") as out:
                async for chunk in request.stream():
                    written += len(chunk)
                    if written > studio.max_upload:
                        raise UserError(f"the file is larger than the upload limit ({limit} MiB)")
                    out.write(chunk)
            await asyncio.to_thread(_check_video, partial)
            refuse_mixed(root, side, "video")  # again: photos may have come while it streamed
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return {"bytes": written}

    @app.put("/api/w/{name}/photos/{side}")
    async def photo(name: str, side: str, request: Request) -> dict[str, Any]:
        """One picture into data_<side>/ (DeepFaceLab's photo input), streamed with the upload cap,
        checked before it is kept, never over a picture already there."""
        root = studio.workspace(name)
        folder = photo_folder(root, side)
        file_name = photo_name(request.headers.get("x-file-name", ""))
        studio.refuse_busy(name)
        refuse_mixed(root, side, "photos")
        cap = min(studio.max_upload, PHOTO_MAX_BYTES)
        if int(request.headers.get("content-length") or 0) > cap:
            raise UserError(f"the picture is larger than the upload limit ({cap >> 20} MiB)")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > cap:
                raise UserError(f"the picture is larger than the upload limit ({cap >> 20} MiB)")
        refuse_mixed(root, side, "photos")  # again: a video may have come while it streamed
        await asyncio.to_thread(keep_photo, bytes(data), folder / file_name)
        return {"photos": len(side_photos(folder))}

    @app.delete("/api/w/{name}/input/{side}")
    async def remove(name: str, side: str) -> dict[str, Any]:
        """The side's video or photos moved to studio/removed/ (kept), so another can be used."""
        root = studio.workspace(name)
        studio.refuse_busy(name)
        return {"moved": await asyncio.to_thread(remove_input, root, side)}

    @app.post("/api/w/{name}/link/{side}")
    async def link(name: str, side: str, request: Request) -> dict[str, Any]:
        """Use a video or photo folder already on the server, inside the studio's root: copied
        in, so the workspace holds its own input."""
        root = studio.workspace(name)
        target = side_video(root, side)
        studio.refuse_busy(name)
        raw = (await read_json_body(request)).get("path")
        source = inside(studio.link_root, raw if isinstance(raw, str) else "")
        if source.is_dir():
            return {"images": await asyncio.to_thread(copy_photos, source, root, side, studio.link_root)}
        if not source.is_file():
            raise UserError("that path is neither a video nor a photo folder inside the studio's folder")
        if target.exists() and source.samefile(target):
            raise UserError("that video is already this side's input")
        refuse_mixed(root, side, "video")
        await asyncio.to_thread(_check_video, source)
        target.unlink(missing_ok=True)  # a symlink left there is replaced, never written through
        await asyncio.to_thread(shutil.copyfile, source, target)
        return {"bytes": target.stat().st_size}

    @app.post("/api/w/{name}/jobs")
    async def submit(name: str, request: Request) -> dict[str, Any]:
        studio.workspace(name)
        body = await read_json_body(request)
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise UserError("options must be a table")
        return runner.submit(name, str(body.get("kind", "")), options).__dict__

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel(job_id: str) -> dict[str, Any]:
        job = runner.get(job_id)
        studio.workspace(job.workspace)
        return runner.cancel(job_id).__dict__

    @app.post("/api/jobs/{job_id}/resume")
    def resume(job_id: str) -> dict[str, Any]:
        studio.workspace(runner.get(job_id).workspace)
        return runner.resume(job_id).__dict__

    @app.get("/api/jobs/{job_id}/log")
    def job_log(job_id: str) -> Response:
        job = runner.get(job_id)
        path = JobStore(studio.workspace(job.workspace)).log_path(job_id)
        text = _tail(path, 20000) if path.is_file() else ""
        return Response(text, media_type="text/plain; charset=utf-8")

    @app.get("/api/w/{name}/losses")
    def loss_curve(name: str) -> dict[str, list[float]]:
        return losses(studio.workspace(name) / "model" / "train_log.jsonl")

    @app.get("/api/w/{name}/options")
    def options(name: str) -> dict[str, Any]:
        from faceweave.studio.forms import current_config, form_fields

        return {"fields": form_fields(current_config(studio.workspace(name) / "faceweave.toml"))}

    @app.put("/api/w/{name}/options")
    async def save(name: str, request: Request) -> dict[str, Any]:
        from faceweave.errors import ConfigError
        from faceweave.studio.forms import save_options

        values = await read_json_body(request)
        try:
            await asyncio.to_thread(save_options, studio.workspace(name) / "faceweave.toml", values)
        except ConfigError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True}

    @app.get("/api/w/{name}/verify")
    async def verify(name: str) -> dict[str, Any]:
        from faceweave.provenance.verify import describe, verify_file

        result = studio.workspace(name) / "result.mp4"
        if not result.is_file():
            return {"lines": [], "verdict": "no result yet"}
        verdict = await asyncio.to_thread(verify_file, result)
        labelled = "labelled synthetic (faceweave)" if verdict.labelled else "NOT labelled"
        return {"lines": describe(verdict), "verdict": labelled}

    @app.get("/api/w/{name}/events")
    async def events(name: str, request: Request) -> StreamingResponse:
        root = studio.workspace(name)
        return StreamingResponse(_event_stream(studio, name, root, request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})  # fmt: skip


def _media(app: FastAPI, studio: Studio) -> None:
    @app.get("/media/{name}/{path:path}")
    def media(name: str, path: str) -> FileResponse:
        root = studio.workspace(name)
        file = inside(root, path)
        if not _is_file(file):
            raise Forbidden("there is no such file in the workspace")
        return FileResponse(file, headers={"Cache-Control": "no-store"})


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


async def _event_stream(studio: Studio, name: str, root: Path, request: Request) -> AsyncIterator[bytes]:
    """Server-sent events: the workspace's state whenever it changes, and each running job's
    newest progress and messages, checked twice a second."""
    last = ""
    offsets: dict[str, int] = {}
    yield b"retry: 1000\n\n"
    while not await request.is_disconnected():
        snapshot = await asyncio.to_thread(_snapshot, studio, name, root, offsets)
        text = json.dumps(_finite(snapshot), default=str, allow_nan=False)
        if text != last:
            last = text
            yield f"event: state\ndata: {text}\n\n".encode()
        await asyncio.sleep(0.5)


def _finite(value: Any) -> Any:
    """JSON without NaN or Infinity, which a browser's JSON.parse refuses (a NaN loss, say)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _snapshot(studio: Studio, name: str, root: Path, offsets: dict[str, int]) -> dict[str, Any]:
    jobs = studio.runner.history(name)
    running = [j for j in jobs if j.state == "running"]
    progress, messages = None, []
    if running:
        path = JobStore(root).events_path(running[0].id)
        for record in _new_records(path, offsets):
            if record.get("kind") == "progress":
                progress = record
            elif record.get("kind") == "message":
                messages.append(str(record.get("text", "")))
        progress = progress or offsets.get(f"{running[0].id}:progress")  # type: ignore[assignment]
        if progress:
            offsets[f"{running[0].id}:progress"] = progress  # type: ignore[assignment]
    return {**workspace_state(name, root), "jobs": [j.__dict__ for j in jobs], "progress": progress,
            "messages": messages[-20:]}  # fmt: skip


def _new_records(path: Path, offsets: dict[str, int]) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    start = offsets.get(str(path), 0)
    with path.open("rb") as events:
        events.seek(start)
        data = events.read(1 << 20)
    end = data.rfind(b"\n") + 1
    offsets[str(path)] = start + end
    out = []
    for line in data[:end].decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def _tail(path: Path, limit: int) -> str:
    with path.open("rb") as log:
        size = log.seek(0, 2)
        log.seek(max(0, size - limit))
        return log.read().decode("utf-8", "replace")


async def read_json_body(request: Request) -> dict[str, Any]:
    if "json" not in request.headers.get("content-type", ""):
        raise UserError("send the request body as application/json")
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > JSON_MAX_BYTES:
            raise UserError("the request body is larger than the studio takes (1 MiB)")
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise UserError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise UserError("the request body must be a JSON object")
    return body


def _check_video(path: Path) -> None:
    from faceweave.media.probe import probe_video

    info = probe_video(path)  # a UserError names what is wrong with it
    if not info.frame_count or info.container == "image2" or info.container.endswith("_pipe"):
        raise UserError("the file is not a video (a still picture, or no frames)")


def _demo_clips(ws: Any) -> None:
    from faceweave.config import load_config
    from faceweave.demo import make_demo_videos

    make_demo_videos(ws, load_config(), 4.0, lambda _: None)
