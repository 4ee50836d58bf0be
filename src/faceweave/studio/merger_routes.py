"""The interactive merger's routes: frames of dst, merged with the page's settings, and the merge
session saved where `faceweave merge` reads it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from faceweave.errors import ConfigError, UserError
from faceweave.merge.run import parse_tracks
from faceweave.merge.session import (
    FORMAT,
    PER_FACE,
    VERSION,
    WHOLE_VIDEO,
    MergeSession,
    read_session,
    session_from,
    write_session,
)
from faceweave.studio.merger import Mergers
from faceweave.workspace import Workspace

if TYPE_CHECKING:
    from faceweave.studio.app import Studio

# DeepFaceLab's merger keys, as the page honours them (the README documents the same map).
KEYS = {
    "1 .. 9": "blend mode, in the order listed",
    "w / s": "erode + / - (shift: 5 steps)",
    "e / d": "blur (feather) + / -",
    "u / j": "face scale + / -",
    "y / h": "sharpen + / -",
    "o / l": "degrade blur + / - (DeepFaceLab's bicubic degrade)",
    "i / k": "grain + / - (DeepFaceLab's i/k denoises; here it adds grain)",
    "x": "next mask source",
    "c": "next colour transfer",
    "m": "keep dst's mouth on / off",
    "left / right or , / .": "previous / next frame (shift: 10 frames)",
    "home / end": "first / last frame",
}


def _session(value: object) -> Any:
    if not isinstance(value, dict):
        raise UserError("session must be a table with all, tracks and ranges")
    try:
        return session_from({**value, "format": FORMAT, "version": VERSION}, "the merger's settings")
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _known_tracks(session: MergeSession, tracks: list[int]) -> None:
    """The session's `tracks` must name dst's tracks, as `faceweave merge` will insist."""
    chosen = parse_tracks(str(session.all.get("tracks", "all")))
    if chosen is not None and not chosen & set(tracks):
        raise UserError(f"merge.tracks names no track of the dst faces; they have {tracks}")


def _frame(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError("frame must be a whole number from 0")
    return value


def register(app: FastAPI, studio: Studio) -> None:
    from faceweave.studio.app import read_json_body

    mergers = Mergers()

    async def merger(name: str) -> Any:
        return await asyncio.to_thread(mergers.get, studio.workspace(name))

    @app.get("/api/w/{name}/merger")
    async def merger_info(name: str) -> dict[str, Any]:
        from faceweave.studio.forms import current_config, form_fields

        root = studio.workspace(name)
        opened = await merger(name)
        fields = [f for f in form_fields(current_config(root / "faceweave.toml"))
                  if f["section"] == "merge" and f["key"].split(".", 1)[1] in WHOLE_VIDEO]  # fmt: skip
        try:
            session = read_session(Workspace(root).merge_session)
        except ConfigError as exc:
            raise UserError(f"{exc}; fix or remove it to use the merger") from None
        document = session.to_json()
        return {**opened.info(), "fields": fields, "per_face": list(PER_FACE), "keys": KEYS,
                "session": {k: document[k] for k in ("all", "tracks", "ranges", "frame")}}  # fmt: skip

    @app.post("/api/w/{name}/merger/render")
    async def render(name: str, request: Request) -> Response:
        body = await read_json_body(request)
        index, session = _frame(body.get("frame")), await asyncio.to_thread(_session, body.get("session", {}))
        opened = await merger(name)
        _known_tracks(session, opened.info()["tracks"])
        rendered = await asyncio.to_thread(opened.render, index, session)
        return Response(rendered.jpeg, media_type="image/jpeg",
                        headers={"x-render-ms": f"{rendered.ms:.1f}", "x-faces": str(rendered.faces),
                                 "Cache-Control": "no-store"})  # fmt: skip

    @app.get("/api/w/{name}/merger/dst/{index}")
    async def dst_frame(name: str, index: int) -> Response:
        opened = await merger(name)
        data = await asyncio.to_thread(opened.dst_jpeg, _frame(index))
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/w/{name}/merger/thumb/{index}")
    async def thumb(name: str, index: int) -> Response:
        opened = await merger(name)
        data = await asyncio.to_thread(opened.thumb, _frame(index))
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=600"})

    @app.put("/api/w/{name}/merger/session")
    async def save_session(name: str, request: Request) -> dict[str, Any]:
        root = studio.workspace(name)
        session = await asyncio.to_thread(_session, await read_json_body(request))
        _known_tracks(session, (await merger(name)).info()["tracks"])
        await asyncio.to_thread(write_session, Workspace(root).merge_session, session)
        return {"ok": True, "ranges": len(session.ranges), "tracks": len(session.tracks)}
