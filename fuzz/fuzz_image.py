"""Fuzz netdream.photo.load_image (any format Pillow reads).

    python fuzz/fuzz_image.py fuzz/corpus/image -rss_limit_mb=2048 -timeout=10 -max_total_time=3600

Pillow's pure-Python plugins are instrumented too; its C decoders are not
(run them under a sanitizer build of Pillow for that).
"""

from __future__ import annotations

import io

import atheris
from PIL import Image
from netdream.photo import load_image

from _common import check, main


def test_one_input(data: bytes) -> None:
    image = check(load_image, data, "input.img")
    if image is not None and (image.shape != (28, 28) or image.dtype.name != "uint8"):
        raise AssertionError(f"load_image gave {image.dtype} of shape {image.shape}")


def seeds():
    out = []
    for fmt, mode in [("PNG", "L"), ("PNG", "RGBA"), ("PNG", "1"), ("JPEG", "RGB"),
                      ("GIF", "P"), ("BMP", "L"), ("TIFF", "L"), ("WEBP", "RGB")]:
        im = Image.new("L", (24, 20), 255)
        im.paste(0, (10, 3, 14, 17))
        buf = io.BytesIO()
        im.convert(mode).save(buf, fmt)
        out.append(buf.getvalue())
    return out


if __name__ == "__main__":
    main(test_one_input, seeds, modules=("netdream", "PIL"))
