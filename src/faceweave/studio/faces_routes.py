"""The faceset browser's and the mask editor's routes: faces page by page in any sort order,
thumbnails, one face's details, set aside and restore, coverage, and mask labels."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from faceweave.config import load_config
from faceweave.errors import UserError
from faceweave.faceset.moves import REJECTED_DIR
from faceweave.registries import SORTS
from faceweave.studio import facesets
from faceweave.studio.inputs import SIDES
from faceweave.studio.security import inside

if TYPE_CHECKING:
    from faceweave.studio.app import Studio


NAMES_MAX = 20_000  # faces one request may move
LOCK_WAIT_S = facesets.LOCK_WAIT_S


def _names(value: object, check: Any) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > NAMES_MAX:
        raise UserError(f"names must be a list of 1 to {NAMES_MAX} faces")
    return [check(v) for v in value]


def register(app: FastAPI, studio: Studio) -> None:
    from faceweave.studio.app import read_json_body

    views: dict[Path, facesets.FacesetViews] = {}

    def faceset(name: str, side: str) -> Path:
        if side not in SIDES:
            raise UserError("side must be src or dst")
        return studio.workspace(name) / f"data_{side}" / "aligned"

    def view(name: str) -> facesets.FacesetViews:
        root = studio.workspace(name)
        if root not in views:
            views[root] = facesets.FacesetViews(_config(root).faceset)
        return views[root]

    def face_file(folder: Path, file: str, shelf: str) -> Path:
        if shelf:
            relative = facesets.shelf_name(f"{shelf}/{file}")
            return inside(folder, f"{REJECTED_DIR}/{relative}")
        return inside(folder, facesets.face_name(file))

    @app.get("/api/w/{name}/faces/{side}")
    async def page(name: str, side: str, by: str = "name", reverse: bool = False, offset: int = 0,
                   limit: int = 200, shelf: bool = False) -> dict[str, Any]:  # fmt: skip
        folder = faceset(name, side)
        methods = ["name", *SORTS.names()]  # `best` without a count: its round robin over every face
        if shelf:
            names = await asyncio.to_thread(facesets.set_aside_names, folder)
            start, count = max(0, offset), max(1, min(limit, facesets.PAGE_MAX))
            return {"total": len(names), "offset": start, "names": names[start : start + count],
                    "methods": methods, "rejected": facesets.rejected_counts(folder)}  # fmt: skip
        if by not in methods:
            raise UserError(f"unknown sort {by!r}; the browser sorts by {', '.join(methods)}")
        got = await asyncio.to_thread(view(name).page, folder, by, reverse, max(0, offset), limit)
        return {**got, "methods": methods}

    @app.get("/api/w/{name}/faces/{side}/sheet")
    async def sheet(name: str, side: str, by: str = "name", reverse: bool = False, offset: int = 0,
                    limit: int = 200, shelf: bool = False, version: str = "") -> Response:  # fmt: skip
        folder = faceset(name, side)
        if shelf:
            count = max(1, min(limit, facesets.SHEET_MAX))
            names = (await asyncio.to_thread(facesets.set_aside_names, folder))[max(0, offset) :][:count]
            paths = [folder / REJECTED_DIR / n for n in names]
            data = await asyncio.to_thread(view(name).sheet_of, paths[: facesets.SHEET_MAX])
        else:
            if by != "name" and by not in SORTS.names():
                raise UserError(f"unknown sort {by!r}")
            data = await asyncio.to_thread(
                view(name).sheet, folder, by, reverse, max(0, offset), limit, version
            )
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})

    @app.get("/api/w/{name}/faces/{side}/thumb/{file}")
    async def thumb(name: str, side: str, file: str, shelf: str = "") -> Response:
        path = face_file(faceset(name, side), file, shelf)
        data = await asyncio.to_thread(view(name).thumb, path)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})

    @app.get("/api/w/{name}/faces/{side}/face/{file}")
    async def details(name: str, side: str, file: str, shelf: str = "") -> dict[str, Any]:
        return await asyncio.to_thread(facesets.face_details, face_file(faceset(name, side), file, shelf))

    @app.get("/api/w/{name}/faces/{side}/image/{file}")
    async def image(name: str, side: str, file: str, kind: str = "face", shelf: str = "") -> Response:
        path = face_file(faceset(name, side), file, shelf)
        if kind == "trained":
            data = await asyncio.to_thread(
                facesets.trained_mask_png, path, studio.workspace(name) / "model" / "xseg"
            )
            return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})
        if kind == "mask":
            from faceweave.occlusion.labels import mask_path

            mask = inside(path.parent, str(mask_path(path).relative_to(path.parent)))
            if not mask.is_file():
                raise UserError("this face has no applied mask (run `faceweave mask apply`)")
            return Response(mask.read_bytes(), media_type="image/png", headers={"Cache-Control": "no-store"})
        data = await asyncio.to_thread(facesets.face_jpeg, path)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.post("/api/w/{name}/faces/{side}/reject")
    async def reject(name: str, side: str, request: Request) -> dict[str, Any]:
        folder = faceset(name, side)
        names = _names((await read_json_body(request)).get("names"), facesets.face_name)
        return {"moved": await asyncio.to_thread(facesets.reject, folder, names)}

    @app.post("/api/w/{name}/faces/{side}/restore")
    async def restore(name: str, side: str, request: Request) -> dict[str, Any]:
        folder = faceset(name, side)
        names = _names((await read_json_body(request)).get("names"), facesets.shelf_name)
        return await asyncio.to_thread(facesets.bring_back, folder, names)

    @app.put("/api/w/{name}/faces/{side}/labels/{file}")
    async def save_labels(name: str, side: str, file: str, request: Request) -> dict[str, Any]:
        from faceweave.occlusion.labels import import_labels

        folder = faceset(name, side)
        path = face_file(folder, file, "")
        if not path.is_file():
            raise UserError(f"there is no face {file} in the {side} faceset")
        body = await read_json_body(request)
        labels = {k: body.get(k, []) for k in ("include", "exclude")}
        await asyncio.to_thread(import_labels, folder, {path.name: labels}, LOCK_WAIT_S)
        return {"ok": True}

    @app.post("/api/w/{name}/faces/{side}/labels/{file}/copy")
    async def copy_labels(name: str, side: str, file: str, request: Request) -> dict[str, Any]:
        from faceweave.occlusion.labels import copy_labels

        path = face_file(faceset(name, side), file, "")
        count = (await read_json_body(request)).get("count")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
            raise UserError("count must be a whole number from 1 to 10000")
        workers = view(name).cfg.workers
        return {"labelled": await asyncio.to_thread(copy_labels, path, count, workers, LOCK_WAIT_S)}

    @app.get("/api/w/{name}/coverage")
    async def coverage(name: str) -> dict[str, Any]:
        root = studio.workspace(name)
        config = _config(root)
        return await asyncio.to_thread(facesets.coverage_points, root / "data_src" / "aligned",
                                       root / "data_dst" / "aligned", config.faceset,
                                       config.train.expression_aug > 0)  # fmt: skip


def _config(root: Path) -> Any:
    path = root / "faceweave.toml"
    return load_config(path if path.is_file() else None)
