"""A workspace side's input from the studio: a video (`data_<side>.mp4`) or photos in
`data_<side>/` (DeepFaceLab's photo input), never both. Pictures are checked before they are kept
(the size from the header first, so a small file that would decode to gigabytes is refused
unread), never written over another, and an input the user removes is moved aside, not deleted."""

from __future__ import annotations

import errno
import os
import shutil
import time
import unicodedata
import uuid
import warnings
from pathlib import Path
from urllib.parse import unquote

from faceweave.atomic import discard
from faceweave.errors import UserError

SIDES = ("src", "dst")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")  # what the studio takes (extraction reads more kinds)
PHOTO_MAX_BYTES = 64 << 20
PHOTO_MAX_PIXELS = 64_000_000  # about 8K x 8K, more than cameras give; decoded RGBA, 256 MB at most
PHOTO_NAME_MAX_BYTES = 200  # with a temporary name's extra characters, inside any file system's 255
REMOVED_DIR = Path("studio") / "removed"


def side_video(root: Path, side: str) -> Path:
    if side not in SIDES:
        raise UserError("side must be src or dst")
    return root / f"data_{side}.mp4"


def _own_folder(root: Path, relative: Path) -> Path:
    """`root/relative`, refused when it (or a folder on the way) is a symlink: what the studio
    writes into or moves out of stays inside the workspace."""
    path = root
    for part in relative.parts:
        path = path / part
        if path.is_symlink():
            raise UserError(f"{relative} in the workspace is a symbolic link; the studio does not follow it")
    return path


def photo_folder(root: Path, side: str) -> Path:
    return _own_folder(root, Path(side_video(root, side).stem))


def side_photos(folder: Path) -> list[Path]:
    """The pictures extraction would read from a data_<side>/ folder, in its order."""
    from faceweave.media.decode import list_images

    return list_images(folder) if folder.is_dir() else []


def _plain_photos(folder: Path) -> list[Path]:
    """The photos the studio copies from a folder: plain, visible .jpg/.png files at its top."""
    return sorted(p for p in folder.iterdir() if is_photo_name(p.name) and p.is_file() and not p.is_symlink())


def is_photo_name(name: str) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in PHOTO_SUFFIXES


def photo_name(raw: str) -> str:
    """A picture's file name as the page sends it (percent-encoded, so any language travels in a
    header), if it names one plain file: no folder, no control character, not hidden, a .jpg,
    .jpeg or .png."""
    try:
        name = unquote(raw, errors="strict").strip()
    except UnicodeDecodeError:
        name = ""
    plain = (
        name
        and len(name) <= 150
        and len(name.encode()) <= PHOTO_NAME_MAX_BYTES
        and not any(c in name for c in "/\\") and name not in (".", "..")
        and not any(unicodedata.category(c).startswith("C") for c in name)
        and not name.startswith("-")
    )  # fmt: skip
    if not plain or not is_photo_name(name):
        raise UserError(
            f"{name[:60]!r} is not a picture name the studio takes (one file name, not hidden, "
            "up to 150 characters, ending .jpg, .jpeg or .png)"
        )
    return name


def check_picture(data: bytes, name: str) -> None:
    """Refuse, in one sentence, what is not a picture faceweave can read, or one too big to decode."""
    import io

    import cv2
    import numpy as np
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, in our words
            with Image.open(io.BytesIO(data)) as header:  # reads the header only
                width, height = header.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UserError(
            f"{name} is not a picture that can be read ({type(exc).__name__}); it was not kept"
        ) from None
    if width * height > PHOTO_MAX_PIXELS:
        raise UserError(
            f"{name} is {width}x{height} pixels, more than the {PHOTO_MAX_PIXELS // 10**6} MP a photo may be"
        )
    try:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    except cv2.error:
        decoded = None
    if decoded is None:
        raise UserError(f"{name} is not a picture that can be read; it was not kept")


def refuse_mixed(root: Path, side: str, adding: str) -> None:
    """A side takes a video or photos, never both: the other must be removed first."""
    video, photos = side_video(root, side), side_photos(photo_folder(root, side))
    if adding == "photos" and (video.exists() or video.is_symlink()):
        raise UserError(f"{video.name} is this side's input; remove it to use photos instead")
    if adding == "video" and photos:
        raise UserError(
            f"this side's input is {len(photos)} photo(s) in data_{side}/; remove them to use a video"
        )


def keep_photo(data: bytes, target: Path) -> None:
    """`data` as the new photo `target`, written whole and never over a file of that name, even
    when two uploads of one name race."""
    check_picture(data, target.name)
    target.parent.mkdir(exist_ok=True)
    temp = target.with_name(f".upload-{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
    taken = UserError(f"{target.name} is already among this side's photos; rename it to add it too")
    try:
        with temp.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, target)  # fails when the name exists: no check-then-write gap
        except FileExistsError:
            raise taken from None
        except OSError as exc:  # a file system without hard links: an exclusive create instead
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            try:
                descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                raise taken from None
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
    finally:
        discard(temp)


def copy_photos(source: Path, root: Path, side: str, link_root: Path) -> int:
    """The photos of folder `source` into the side's data_<side>/: plain files inside `link_root`
    only (no symlink followed out), every one checked and no name taken before any is copied."""
    folder = photo_folder(root, side)
    refuse_mixed(root, side, "photos")
    if folder.exists() and source.resolve() == folder.resolve():
        raise UserError(f"that folder is this side's own data_{side}/; its photos are already the input")
    photos = [p for p in _plain_photos(source) if p.resolve().is_relative_to(link_root)]
    if not photos:
        raise UserError("that folder holds no .jpg or .png pictures")
    taken = [p.name for p in photos if (folder / p.name).exists() or (folder / p.name).is_symlink()]
    if taken:
        raise UserError(
            f"{taken[0]} ({len(taken)} in all) is already among this side's photos; nothing was copied"
        )
    for photo in photos:
        check_picture(photo.read_bytes(), photo.name)
    for photo in photos:
        keep_photo(photo.read_bytes(), folder / photo.name)
    return len(photos)


def remove_input(root: Path, side: str) -> int:
    """Move the side's video and photos to studio/removed/<side>-<time>/ (kept, never deleted),
    so another input can take their place; how many files moved."""
    video, photos = side_video(root, side), side_photos(photo_folder(root, side))
    moving = ([video] if video.exists() or video.is_symlink() else []) + photos
    if not moving:
        raise UserError("this side has no input to remove")
    removed = _own_folder(root, REMOVED_DIR)
    aside = removed / f"{side}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    aside.mkdir(parents=True)
    for path in moving:
        shutil.move(str(path), aside / path.name)
    return len(moving)
