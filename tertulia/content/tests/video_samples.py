"""Tiny real videos made with PyAV for the video tests (no binary fixtures are committed).

Each is a few frames of a few dozen pixels, so the whole set is written in well under a
second. ``samples(dir)`` returns {name: path}."""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image


def _video(path: Path, *, width: int, height: int, frames: int, rate: int, codec: str = "libx264",
           audio: str | None = None, fmt: str | None = None, options: dict | None = None, rotation: int = 0,
           extra_audio: int = 0) -> Path:
    out = av.open(str(path), "w", format=fmt, options=options or {})
    stream = out.add_stream(codec, rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if codec == "libx264":
        stream.options = {"preset": "ultrafast"}
    if rotation:
        stream.set_display_rotation(rotation)
    sounds = [out.add_stream(audio, rate=8000) for _ in range(1 + extra_audio)] if audio else []
    for i in range(frames):
        picture = Image.new("RGB", (width, height))
        picture.paste((200, 40 + i * 20 % 200, 40), (0, 0, width // 2, height))  # left half red-ish, right black
        for packet in stream.encode(av.VideoFrame.from_image(picture)):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    for sound in sounds:
        _silence(out, sound, seconds=frames / rate)
    out.close()
    return path


def _silence(out, sound, *, seconds: float) -> None:
    size = 1024 if sound.codec_context.name == "aac" else 960
    total, pts = int(8000 * seconds), 0
    while pts < total:
        frame = av.AudioFrame(format="fltp", layout="mono", samples=size)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))  # silence
        frame.sample_rate, frame.pts = 8000, pts
        for packet in sound.encode(frame):
            out.mux(packet)
        pts += size
    for packet in sound.encode():
        out.mux(packet)


def _audio_only(path: Path) -> Path:
    out = av.open(str(path), "w")
    _silence(out, out.add_stream("aac", rate=8000), seconds=2)
    out.close()
    return path


def samples(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    s = {
        # 9:16-ish portrait H.264 + AAC, 4 frames at 2 fps: 2 s.
        "mp4": _video(root / "portrait.mp4", width=96, height=160, frames=4, rate=2, audio="aac"),
        "webm": _video(root / "clip.webm", width=64, height=36, frames=3, rate=1, codec="libvpx-vp9", audio="libopus"),
        "mov": _video(root / "clip.mov", width=64, height=36, frames=3, rate=1, audio="aac"),
        "mkv": _video(root / "clip.mkv", width=64, height=36, frames=3, rate=1),
        "mpeg4": _video(root / "mpeg4.mp4", width=64, height=36, frames=2, rate=1, codec="mpeg4"),
        # 200 frames at 1 fps: 200 s, still a few kilobytes.
        "long": _video(root / "long.mp4", width=64, height=36, frames=200, rate=1),
        # Recorded on its side (160×96 coded, displayed rotated): a phone's portrait video.
        "rotated": _video(root / "rotated.mp4", width=160, height=96, frames=2, rate=1, rotation=90),
        # A codec no network takes (lossless FFV1): probed, but never decoded, so no poster.
        "ffv1": _video(root / "lossless.mkv", width=64, height=36, frames=2, rate=1, codec="ffv1"),
        "wide": _video(root / "wide.mp4", width=8200, height=16, frames=1, rate=1),
        "streams": _video(root / "streams.mkv", width=64, height=36, frames=2, rate=1, audio="aac", extra_audio=9),
        "audio": _audio_only(root / "sound.mp4"),
        # moov at the front, so a cut leaves a readable header that promises 10 s.
        "faststart": _video(root / "faststart.mp4", width=64, height=36, frames=20, rate=2,
                            options={"movflags": "faststart"}),
    }
    data = s["faststart"].read_bytes()
    s["truncated"] = root / "truncated.mp4"
    s["truncated"].write_bytes(data[: len(data) * 2 // 3])
    cut = s["mp4"].read_bytes()  # moov at the end: a cut file has no index at all
    s["cut"] = root / "cut.mp4"
    s["cut"].write_bytes(cut[: len(cut) // 2])
    webm = s["webm"].read_bytes()
    s["truncated_webm"] = root / "truncated.webm"
    s["truncated_webm"].write_bytes(webm[: len(webm) * 3 // 4])
    # The same Matroska file with its Duration element zeroed: a header that promises nothing.
    zero = bytearray(s["mkv"].read_bytes())
    at = zero.find(b"\x44\x89")
    width = zero[at + 2] & 0x7F
    zero[at + 3: at + 3 + width] = bytes(width)
    s["zero"] = root / "zero.mkv"
    s["zero"].write_bytes(bytes(zero))
    return s
