"""JSON metadata inside an image file: a PNG iTXt chunk or a JPEG APP11 segment.

Written and read with a few lines of byte handling so that the pixels stay exactly as OpenCV
encoded them and nothing executable is ever loaded from a shared file.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"faceweave"
JPEG_APP11 = 0xEB


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


def png_text(png: bytes) -> str:
    """The faceweave iTXt text of a PNG; EmbedError if it is absent or damaged."""
    if not png.startswith(PNG_SIGNATURE):
        raise EmbedError("not a PNG file")
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if len(data) != length or pos + 12 + length > len(png):
            raise EmbedError("the PNG is truncated")
        if kind == b"iTXt" and data.startswith(KEYWORD + b"\x00"):
            (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
            if crc != zlib.crc32(kind + data):
                raise EmbedError("the metadata chunk is damaged (checksum mismatch)")
            return _itxt_text(data)
        if kind == b"IEND":
            break
        pos += 12 + length
    raise EmbedError("no faceweave metadata in this PNG")


def _itxt_text(data: bytes) -> str:
    rest = data[len(KEYWORD) + 1 :]
    compressed, rest = rest[0], rest[2:]
    _language, rest = rest.split(b"\x00", 1)
    _translated, payload = rest.split(b"\x00", 1)
    try:
        raw = zlib.decompress(payload) if compressed else payload
        return raw.decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as exc:
        raise EmbedError("the metadata chunk is damaged") from exc


def jpeg_with_text(jpeg: bytes, text: str) -> bytes:
    """Insert an APP11 segment (faceweave\\0 + zlib JSON) right after the SOI marker."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise EmbedError("not a JPEG stream")
    payload = KEYWORD + b"\x00" + zlib.compress(text.encode("utf-8"), 9)
    if len(payload) + 2 > 0xFFFF:
        raise EmbedError("metadata too large for one JPEG segment; use PNG")
    segment = b"\xff" + bytes([JPEG_APP11]) + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def jpeg_text(jpeg: bytes) -> str:
    if not jpeg.startswith(b"\xff\xd8"):
        raise EmbedError("not a JPEG file")
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker == 0xDA:  # start of scan: no more metadata segments
            break
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        body = jpeg[pos + 4 : pos + 2 + length]
        if marker == JPEG_APP11 and body.startswith(KEYWORD + b"\x00"):
            try:
                return zlib.decompress(body[len(KEYWORD) + 1 :]).decode("utf-8")
            except (zlib.error, UnicodeDecodeError) as exc:
                raise EmbedError("the metadata segment is damaged") from exc
        pos += 2 + length
    raise EmbedError("no faceweave metadata in this JPEG")


def embedded_text(data: bytes) -> str:
    if data.startswith(PNG_SIGNATURE):
        return png_text(data)
    if data.startswith(b"\xff\xd8"):
        return jpeg_text(data)
    raise EmbedError("neither a PNG nor a JPEG file")
