"""JSON metadata inside an image file: a PNG iTXt chunk or a JPEG APP11 segment.

Written and read with a few lines of byte handling so that the pixels stay exactly as OpenCV
encoded them and nothing executable is ever loaded from a shared file.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"faceweave"
JPEG_APP11 = 0xEB
# Real metadata (two 478x3 and one 478x2 landmark arrays as JSON) is about 40 KB; the cap bounds
# what a hostile file can make us inflate and parse, both compressed and stored.
MAX_TEXT_BYTES = 1 << 20
_CAP = f"{MAX_TEXT_BYTES >> 20} MiB"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG and DAC share the range


class EmbedError(ValueError):
    """The image has no faceweave metadata, or it is damaged."""


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_text(png: bytes, text: str) -> bytes:
    """Insert a compressed iTXt chunk (keyword faceweave) just before IEND."""
    if not png.startswith(PNG_SIGNATURE) or png[-12:-8] != b"\x00\x00\x00\x00" or png[-8:-4] != b"IEND":
        raise EmbedError("not a complete PNG stream")
    body = KEYWORD + b"\x00\x01\x00" + b"\x00" + b"\x00" + zlib.compress(text.encode("utf-8"), 1)
    return png[:-12] + _png_chunk(b"iTXt", body) + png[-12:]


def _png_chunks(png: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(kind, data, stored crc) of each chunk up to IEND; EmbedError if the stream is cut short."""
    if not png.startswith(PNG_SIGNATURE):
        raise EmbedError("not a PNG file")
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if pos + 12 + length > len(png):
            raise EmbedError("the PNG is truncated")
        yield kind, png[pos + 8 : pos + 8 + length], png[pos + 8 + length : pos + 12 + length]
        if kind == b"IEND":
            return
        pos += 12 + length


def png_text(png: bytes) -> str:
    """The faceweave iTXt text of a PNG; EmbedError if it is absent or damaged."""
    for kind, data, crc in _png_chunks(png):
        if kind == b"iTXt" and data.startswith(KEYWORD + b"\x00"):
            if struct.unpack(">I", crc)[0] != zlib.crc32(kind + data):
                raise EmbedError("the metadata chunk is damaged (checksum mismatch)")
            return _itxt_text(data)
    raise EmbedError("no faceweave metadata in this PNG")


def _itxt_text(data: bytes) -> str:
    # iTXt after "keyword\0": compression flag, method, "language\0", "translated keyword\0", text.
    header = data[len(KEYWORD) + 1 :]
    if len(header) < 2 or header[0] not in (0, 1) or header[1] != 0:
        raise EmbedError("the metadata chunk is damaged (bad compression fields)")
    _language, sep1, rest = header[2:].partition(b"\x00")
    _translated, sep2, payload = rest.partition(b"\x00")
    if not (sep1 and sep2):
        raise EmbedError("the metadata chunk is damaged (missing separators)")
    raw = _inflate(payload) if header[0] else payload
    return _decoded(raw)


def _inflate(payload: bytes) -> bytes:
    """zlib-decompress at most MAX_TEXT_BYTES, so a small bomb never grows large in memory."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(payload, MAX_TEXT_BYTES + 1)
    except zlib.error as exc:
        raise EmbedError("the metadata is damaged (it does not decompress)") from exc
    if len(raw) > MAX_TEXT_BYTES:
        raise EmbedError(f"the metadata is larger than {_CAP} when decompressed")
    if not inflater.eof:
        raise EmbedError("the metadata is damaged (its compressed stream is cut short)")
    return raw


def _decoded(raw: bytes) -> str:
    if len(raw) > MAX_TEXT_BYTES:
        raise EmbedError(f"the metadata is larger than {_CAP}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EmbedError("the metadata is damaged (it is not UTF-8 text)") from exc


def jpeg_with_text(jpeg: bytes, text: str) -> bytes:
    """Insert an APP11 segment (faceweave\\0 + zlib JSON) right after the SOI marker."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise EmbedError("not a JPEG stream")
    payload = KEYWORD + b"\x00" + zlib.compress(text.encode("utf-8"), 9)
    if len(payload) + 2 > 0xFFFF:
        raise EmbedError("metadata too large for one JPEG segment; use PNG")
    segment = b"\xff" + bytes([JPEG_APP11]) + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def _jpeg_segments(jpeg: bytes) -> Iterator[tuple[int, bytes]]:
    """(marker, body) of each segment before the image data starts."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise EmbedError("not a JPEG file")
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker == 0xDA:  # start of scan: no more metadata segments
            return
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        yield marker, jpeg[pos + 4 : pos + 2 + length]
        pos += 2 + length


def jpeg_text(jpeg: bytes) -> str:
    for marker, body in _jpeg_segments(jpeg):
        if marker == JPEG_APP11 and body.startswith(KEYWORD + b"\x00"):
            return _decoded(_inflate(body[len(KEYWORD) + 1 :]))
    raise EmbedError("no faceweave metadata in this JPEG")


def with_text_replaced(data: bytes, text: str) -> bytes:
    """The same image with its faceweave metadata replaced by `text`; the pixels are not re-encoded."""
    if data.startswith(PNG_SIGNATURE):
        kept = [
            _png_chunk(kind, body) for kind, body, _ in _png_chunks(data)
            if not (kind == b"iTXt" and body.startswith(KEYWORD + b"\x00"))
        ]  # fmt: skip
        return png_with_text(PNG_SIGNATURE + b"".join(kept), text)
    if data.startswith(b"\xff\xd8"):
        pos, out = 2, [data[:2]]
        for marker, body in _jpeg_segments(data):
            if not (marker == JPEG_APP11 and body.startswith(KEYWORD + b"\x00")):
                out.append(data[pos : pos + 4 + len(body)])
            pos += 4 + len(body)
        return jpeg_with_text(b"".join(out) + data[pos:], text)
    raise EmbedError("neither a PNG nor a JPEG file")


def embedded_text(data: bytes) -> str:
    if data.startswith(PNG_SIGNATURE):
        return png_text(data)
    if data.startswith(b"\xff\xd8"):
        return jpeg_text(data)
    raise EmbedError("neither a PNG nor a JPEG file")


def pixel_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, without decoding; None when it is not found.

    Lets a reader refuse an image far larger than its metadata says before a decoder allocates it.
    """
    try:
        if data.startswith(PNG_SIGNATURE):
            # IHDR must come first; anything else means the decoder will refuse the file anyway.
            first = next(_png_chunks(data), None)
            if first is None or first[0] != b"IHDR" or len(first[1]) != 13:
                return None
            width, height = struct.unpack(">II", first[1][:8])
            return int(width), int(height)
        if data.startswith(b"\xff\xd8"):
            for marker, body in _jpeg_segments(data):
                if marker in _JPEG_SOF and len(body) >= 5:
                    height, width = struct.unpack(">HH", body[1:5])
                    return int(width), int(height)
    except EmbedError:
        return None
    return None
