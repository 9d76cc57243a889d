"""Image type and size from header bytes (PNG, JPEG, GIF, WebP), the upload cache, and the
chatgpt-web media checks, as units."""

from __future__ import annotations

import base64
import struct
import time

import pytest
from yarl import URL

from chatgpt_api.backends.web_files import UploadCache, UploadedFile, files_url
from chatgpt_api.errors import RequestError
from chatgpt_api.image_size import ImageInfo, sniff_image
from chatgpt_api.web_media import parse_media_part
from tests.test_web_uploads import png


def jpeg(width: int, height: int, *, frame: int = 0xC0) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    exif = b"\xff\xe1" + struct.pack(">H", 8) + b"Exif\x00\x00"
    sof = bytes([0xFF, frame]) + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + exif + b"\xff\xff" + sof + b"\xff\xda\x00\x02" + b"\x00" * 8


def webp(chunk: bytes, data: bytes) -> bytes:
    body = b"WEBP" + chunk + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_png_gif_jpeg_webp() -> None:
    assert sniff_image(png(3, 2)) == ImageInfo("image/png", 3, 2)
    assert sniff_image(b"GIF89a" + struct.pack("<HH", 640, 480) + b"\x00" * 8) == ImageInfo(
        "image/gif", 640, 480
    )
    assert sniff_image(jpeg(1920, 1080)) == ImageInfo("image/jpeg", 1920, 1080)
    assert sniff_image(jpeg(7, 5, frame=0xC2)) == ImageInfo("image/jpeg", 7, 5)  # progressive
    lossy = b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", 300, 200) + b"\x00" * 4
    assert sniff_image(webp(b"VP8 ", lossy)) == ImageInfo("image/webp", 300, 200)
    bits = (100 - 1) | ((50 - 1) << 14)
    lossless = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 4
    assert sniff_image(webp(b"VP8L", lossless)) == ImageInfo("image/webp", 100, 50)
    extended = (
        b"\x10\x00\x00\x00" + (4000 - 1).to_bytes(3, "little") + (3000 - 1).to_bytes(3, "little")
    )
    assert sniff_image(webp(b"VP8X", extended)) == ImageInfo("image/webp", 4000, 3000)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        png(3, 2)[:20],  # cut inside IHDR
        b"\xff\xd8\xff\xe0\x00",  # a JPEG cut off before its frame
        b"\xff\xd8\x00\x00",  # no marker where one must be
        jpeg(0, 10),  # zero width
        b"GIF89a\x01",
        b"RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00",
        b"%PDF-1.7\n",
    ],
)
def test_not_an_image_or_a_broken_header(data: bytes) -> None:
    assert sniff_image(data) is None


def test_every_prefix_of_an_image_is_handled() -> None:
    for image in (png(2, 2), jpeg(9, 9), webp(b"VP8L", b"\x2f" + b"\x00" * 8)):
        for end in range(len(image)):
            sniff_image(image[:end])  # None or a size, never an exception


def _file(file_id: str) -> UploadedFile:
    return UploadedFile(file_id, "a.png", "image/png", 10, 1, 1)


def test_upload_cache_is_bounded_and_expires() -> None:
    cache = UploadCache(max_entries=2, ttl=60)
    cache.put("scope", "a", _file("file-a"))
    cache.put("scope", "b", _file("file-b"))
    assert cache.get("scope", "a") == _file("file-a")  # a is now the most recent
    cache.put("scope", "c", _file("file-c"))
    assert cache.get("scope", "b") is None and len(cache) == 2
    assert cache.get("other", "a") is None  # another account or upstream
    short = UploadCache(max_entries=2, ttl=0.01)
    short.put("scope", "a", _file("file-a"))
    time.sleep(0.02)
    assert short.get("scope", "a") is None
    off = UploadCache(max_entries=0, ttl=60)
    off.put("scope", "a", _file("file-a"))
    assert off.get("scope", "a") is None
    assert UploadCache.scope(URL("https://x/files"), "tok") != UploadCache.scope(
        URL("https://x/files"), "other"
    )
    assert "tok" not in UploadCache.scope(URL("https://x/files"), "tok")


def test_files_url_from_the_conversation_url() -> None:
    assert files_url(URL("https://chatgpt.com/backend-api/conversation")) == URL(
        "https://chatgpt.com/backend-api/files"
    )
    assert files_url(URL("https://p.example/api/conversation?key=a%2Bb")) == URL(
        "https://p.example/api/files?key=a%2Bb"
    )
    assert files_url(URL("https://chatgpt.com/backend-api/f/conversation")) == URL(
        "https://chatgpt.com/backend-api/files"
    )
    with pytest.raises(ValueError):
        files_url(URL("https://p.example/chat"))


def test_media_parts_decoded_and_limited() -> None:
    encoded = base64.b64encode(png(2, 1)).decode()
    part = {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{encoded}"}}
    media = parse_media_part(part, "p", "m")
    # The bytes decide the type, not the URL's label.
    assert (media.kind, media.mime_type, media.width, media.height) == ("image", "image/png", 2, 1)
    with pytest.raises(RequestError) as too_big:
        parse_media_part(part, "p", "m", max_size=10)
    assert too_big.value.param == "p" and "web_upload_max_file_size" in too_big.value.message
    bare = {"type": "file", "file": {"file_data": "aGVsbG8=", "filename": "../../etc/x.txt"}}
    media = parse_media_part(bare, "p", "m")
    assert (media.kind, media.name, media.mime_type, media.data) == (
        "file",
        "x.txt",
        "text/plain",
        b"hello",
    )
    cached = {"type": "text", "text": "x"}
    with pytest.raises(RequestError) as extra:
        parse_media_part({**part, "prompt_cache_breakpoint": cached}, "p", "m")
    assert extra.value.param == "p.prompt_cache_breakpoint"
