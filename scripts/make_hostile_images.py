#!/usr/bin/env python3
"""Writes the small images that the hostile-input tests and the fuzzers' seed corpora use.

    python3 scripts/make_hostile_images.py tests/fixtures/images

The output is committed (a few KB in all); this script documents how it was made and regenerates it. Needs
Pillow and numpy (`pip install pillow numpy`). Every image is a 48x32 gradient with a bright block near the top-left corner,
so that an orientation mistake moves the block.
"""

import io
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def base(mode: str = "RGB") -> Image.Image:
    image = Image.new("RGB", (48, 32))
    image.putdata([(x * 5, y * 7, 128) for y in range(32) for x in range(48)])
    image.paste((255, 255, 255), (2, 2, 10, 8))
    return image.convert(mode)


def save(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def sixteen_bit_png() -> bytes:
    """A 16-bit grey PNG whose high bytes are grey.png's values (v * 257), so both decode alike."""
    grey = np.asarray(base("L"), dtype=np.uint16) * 257
    return save(Image.fromarray(grey), "PNG")


def with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """A JPEG with an EXIF APP1 segment holding only the orientation tag."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rgb = base()
    files = {
        "rgb.jpg": save(rgb, "JPEG", quality=90),
        "progressive.jpg": save(rgb, "JPEG", quality=90, progressive=True),
        "grey.jpg": save(base("L"), "JPEG"),
        "cmyk.jpg": save(base("CMYK"), "JPEG"),
        "rgb.png": save(rgb, "PNG"),
        "rgba.png": save(base("RGBA"), "PNG"),
        "grey.png": save(base("L"), "PNG"),
        "palette.png": save(base("P"), "PNG"),
        "16bit.png": sixteen_bit_png(),
        "lossless.webp": save(rgb, "WEBP", lossless=True),
        "lossy.webp": save(rgb, "WEBP", quality=80),
        "rgb.tiff": save(rgb, "TIFF"),
        "rgb.bmp": save(rgb, "BMP"),
    }
    frames = [base(), base().transpose(Image.Transpose.FLIP_LEFT_RIGHT), base().transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    files["animated.gif"] = save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    for orientation in range(1, 9):
        files[f"exif-orientation-{orientation}.jpg"] = with_orientation(files["rgb.jpg"], orientation)
    for name, data in files.items():
        (out / name).write_bytes(data)
    # Truncated variants: the first fifth, which ends inside the first frame of the GIF too.
    for name in ["rgb.jpg", "rgb.png", "lossless.webp", "animated.gif", "rgb.tiff"]:
        data = files[name]
        (out / f"truncated-{name}").write_bytes(data[: len(data) // 5])
    print(f"wrote {len(files) + 5} images to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
