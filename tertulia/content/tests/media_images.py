"""Images made with Pillow for the media tests (no binary fixtures are committed)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def image_bytes(width: int = 640, height: int = 480, fmt: str = "PNG", color=(200, 120, 40), mode: str = "RGB",
                **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, format=fmt, **save)
    return out.getvalue()


def upload(data: bytes, name: str = "upload.png") -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header declares ``width``×``height`` pixels of 8-bit greyscale.

    The pixel data is one short zlib stream (never decompressed: the header is refused
    first), so building it costs nothing. Decoding it would need 900 MB."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_with_exif(width: int = 400, height: int = 200, orientation: int | None = None, gps: bool = True) -> bytes:
    """A JPEG carrying EXIF GPS coordinates and, optionally, an orientation tag. The left
    half is red and the right half blue, so a rotation can be seen in the pixels."""
    img = Image.new("RGB", (width, height), (255, 0, 0))
    img.paste((0, 0, 255), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[0x010F] = "SnoopCam"  # Make
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (40.0, 25.0, 0.0), 3: "W", 4: (3.0, 42.0, 0.0)}
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()
