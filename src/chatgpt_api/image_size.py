"""An image's type and pixel size, read from its header bytes: PNG, JPEG, GIF and WebP.

The ChatGPT web protocol wants ``width`` and ``height`` beside every image it is given, and only
takes these four formats; :func:`sniff_image` reads both from the first bytes of the file (no
decoding, no dependency). Anything else, or a header that is cut off or inconsistent, is
``None``: the caller refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

_PNG = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (SOF0..SOF15 except DHT, JPG and DAC), which carry the size.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: JPEG markers without a length field (TEM, RSTn, SOI, EOI).
_JPEG_BARE = frozenset({0x01, *range(0xD0, 0xDA)})


@dataclass(frozen=True, slots=True)
class ImageInfo:
    mime_type: str
    width: int
    height: int


def sniff_image(data: bytes) -> ImageInfo | None:
    """The type and size of the PNG, JPEG, GIF or WebP image ``data`` starts with, or None."""
    if data.startswith(_PNG):
        return _png(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _sized("image/gif", _u16le(data, 6), _u16le(data, 8))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None


def _sized(mime_type: str, width: int | None, height: int | None) -> ImageInfo | None:
    if not width or not height:
        return None
    return ImageInfo(mime_type, width, height)


def _u16le(data: bytes, at: int) -> int | None:
    return int.from_bytes(data[at : at + 2], "little") if len(data) >= at + 2 else None


def _u16be(data: bytes, at: int) -> int | None:
    return int.from_bytes(data[at : at + 2], "big") if len(data) >= at + 2 else None


def _png(data: bytes) -> ImageInfo | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    return _sized("image/png", width, height)


def _jpeg(data: bytes) -> ImageInfo | None:
    at = 2
    while at + 1 < len(data):
        if data[at] != 0xFF:
            return None
        while at < len(data) and data[at] == 0xFF:  # fill bytes before a marker
            at += 1
        if at >= len(data):
            return None
        marker = data[at]
        at += 1
        if marker in _JPEG_BARE:
            continue
        length = _u16be(data, at)
        if length is None or length < 2:
            return None
        if marker in _JPEG_FRAMES:
            return _sized("image/jpeg", _u16be(data, at + 5), _u16be(data, at + 3))
        at += length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return _sized("image/webp", width, height)
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return _sized("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _sized("image/webp", width, height)
    return None
