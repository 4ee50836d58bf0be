"""The studio's pages: plain HTML skeletons (templates/) that static/app.js fills from the API."""

from __future__ import annotations

import html
import json
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).with_name("templates")


def _template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.html").read_text(encoding="utf-8"))


def _page(title: str, body: str, script: str, token: str) -> str:
    return _template("page").substitute(title=html.escape(title), body=body, script=script,
                                        token=html.escape(token))  # fmt: skip


def _js(text: str) -> str:
    """A JavaScript string literal that is safe inside a <script> element."""
    return json.dumps(text).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def index(names: list[str], root: Path, token: str) -> str:
    rows = "".join(f'<li><a href="/w/{html.escape(n)}">{html.escape(n)}</a></li>' for n in names)
    body = _template("index").substitute(root=html.escape(str(root)), rows=rows or "<li>none yet</li>")
    return _page("faceweave studio", body, "studio.index();", token)


def workspace(name: str, token: str) -> str:
    sides = {f"side_{side}": _template("input_side").substitute(side=side) for side in ("src", "dst")}
    body = _template("workspace").substitute(name=html.escape(name), **sides)
    return _page(f"faceweave studio: {name}", body, f"studio.workspace({_js(name)});", token)


def options(name: str, token: str) -> str:
    body = _template("options").substitute(name=html.escape(name))
    return _page(f"faceweave studio: {name} options", body, f"studio.options({_js(name)});", token)


TOOLS = {"merger": "interactive merger", "faces": "faceset browser", "masks": "mask editor"}


def tool(kind: str, name: str, token: str) -> str:
    """The merger, faceset browser and mask editor pages: each a template and its script's entry."""
    body = _template(kind).substitute(name=html.escape(name))
    return _page(f"faceweave studio: {name} {TOOLS[kind]}", body, f"studio.{kind}({_js(name)});", token)
