"""Reading a small JSON file a user or an earlier run wrote: bounded, and every failure one sentence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faceweave.errors import UserError


def read_json(path: Path, max_bytes: int, what: str, missing: str, error: type[UserError] = UserError) -> Any:
    """The parsed document at `path`; `error` says, naming `path`, that it is `missing`, too large,
    or not `what` (a file that is not UTF-8 JSON, or nested deeper than Python parses)."""
    try:
        if path.stat().st_size > max_bytes:
            raise error(f"{path} is larger than {what} can be")
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{path} {missing}") from exc
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"{path} cannot be read as {what} ({type(exc).__name__})") from exc
