#!/usr/bin/env python3
"""Writes the image fixtures of Tests/MistralSmall4Tests/ImageTests.swift into Tests/MistralSmall4Tests/Fixtures/images.

Usage (needs numpy, pillow; for the processor fixture also torch, torchvision and transformers >= 5; run by hand):

    PYTHON Tools/make_image_fixtures.py

Files (all tiny; the generator is seeded, so a rerun rewrites the same bytes):

    rgb.png, rgba.png, gray.png, gray-alpha.png, palette.png, bilevel.png, rgb16.png, gray16.png
        5 x 4 (width x height) PNGs of every colour type: rgba/gray-alpha with alpha 0, 255 and values between,
        palette with a tRNS alpha per index (255, 0, 128, 40), bilevel 1-bit gray, 16-bit RGB and gray.
    gamma.png
        An 8 x 2 gray ramp (as RGB) with a gAMA chunk of 1.0, which PIL ignores and libpng would apply.
    NAME.expected.ppm
        What transformers' processor sees for NAME.png: `convert_to_rgb(PIL.Image.open(NAME.png))` (PIL's
        convert("RGB"), or alpha_composite onto white when the image has alpha or a tRNS entry), written as a P6
        file with a comment line. For the 16-bit files it is PIL's reading, which libpng's does not match
        (spec/preprocessing.md §1); the test pins the relation instead of equality.
    pixtral-a.png (13 x 9 RGBA noise), pixtral-b.png (33 x 40 RGB pattern), pixtral.safetensors
        transformers' PixtralImageProcessor (torchvision backend, CPU) on [pixtral-a, pixtral-b] opened with PIL,
        with patch_size 28 and longest_edge 28: pixel_values F32 [2, 3, 28, 28] and image_sizes I64 [2, 2].
    alpha-composite.png
        A 256 x 256 gray PNG whose pixel at row v, column a is PIL's alpha_composite of (v, v, v, a) over opaque
        white: the whole table of eq. (1), as PIL computes it.
    bad/truncated.png (rgb.png cut to 60 bytes), bad/garbage.png (text), bad/zero-width.ppm (P6 0 4 255),
    bad/zero-width.png (an IHDR of width 0)
        Files the loader must refuse with an ImageError naming them; Tools/lib/cli-checks uses them too.
"""

import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "MistralSmall4Tests", "Fixtures", "images")


def write_ppm(path: str, rgb: np.ndarray) -> None:
    """A P6 file with a comment line between the magic and the size."""
    h, w, _ = rgb.shape
    with open(path, "wb") as f:
        f.write(b"P6\n# written by Tools/make_image_fixtures.py\n%d %d\n255\n" % (w, h) + rgb.astype(np.uint8).tobytes())


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16_rgb(path: str, rgb16: np.ndarray) -> None:
    """A 16-bit RGB PNG (colour type 2, bit depth 16), which PIL cannot write; no gAMA or sRGB chunk."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def processor_seen_rgb(path: str) -> np.ndarray:
    """transformers' convert_to_rgb for a PIL image (image_transforms.convert_to_rgb, return_numpy=True)."""
    image = Image.open(path)
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return np.array(Image.alpha_composite(white, image).convert("RGB"))
    return np.array(image.convert("RGB"))


def loader_fixtures(rng: np.random.Generator) -> None:
    h, w = 4, 5
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = np.array([[0, 255, 128, 1, 254], [77, 200, 13, 255, 0], [64, 192, 32, 160, 96], [255, 255, 0, 0, 127]], np.uint8)
    Image.fromarray(rgb, "RGB").save(f"{OUT}/rgb.png")
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(f"{OUT}/rgba.png")
    Image.fromarray(rgb[..., 0], "L").save(f"{OUT}/gray.png")
    Image.fromarray(np.dstack([rgb[..., 1], alpha]), "LA").save(f"{OUT}/gray-alpha.png")
    palette = Image.fromarray((rgb[..., 2] // 64).astype(np.uint8), "P")
    palette.putpalette([255, 0, 0, 0, 200, 0, 10, 20, 250, 90, 90, 90])
    palette.save(f"{OUT}/palette.png", transparency=bytes([255, 0, 128, 40]))   # tRNS: one alpha per index
    Image.fromarray(rgb[..., 0] > 127).save(f"{OUT}/bilevel.png")   # mode "1": a 1-bit gray PNG
    rgb16 = rng.integers(0, 65536, (h, w, 3)).astype(np.uint16)
    write_png16_rgb(f"{OUT}/rgb16.png", rgb16)
    Image.fromarray(rgb16[..., 0].astype("<u2")).save(f"{OUT}/gray16.png")
    ramp = np.dstack([np.arange(0, 256, 16, dtype=np.uint8).reshape(2, 8)] * 3)
    raw = b"".join(b"\x00" + ramp[y].tobytes() for y in range(2))
    with open(f"{OUT}/gamma.png", "wb") as f:   # gAMA 1.0, which PIL ignores
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 2, 8, 2, 0, 0, 0))
                + png_chunk(b"gAMA", struct.pack(">I", 100000)) + png_chunk(b"IDAT", zlib.compress(raw, 9))
                + png_chunk(b"IEND", b""))
    for name in ["rgb", "rgba", "gray", "gray-alpha", "palette", "bilevel", "gamma", "rgb16", "gray16"]:
        write_ppm(f"{OUT}/{name}.expected.ppm", processor_seen_rgb(f"{OUT}/{name}.png"))


def alpha_table() -> None:
    v, a = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    rgba = Image.fromarray(np.dstack([v, v, v, a]).astype(np.uint8), "RGBA")
    composite = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    table = np.array(composite)[..., 0]
    assert (table == (a * v + 255 * (255 - a) + 127) // 255).all(), "PIL no longer rounds as eq. (1)"
    Image.fromarray(table.astype(np.uint8), "L").save(f"{OUT}/alpha-composite.png", optimize=True)


def bad_fixtures() -> None:
    os.makedirs(f"{OUT}/bad", exist_ok=True)
    with open(f"{OUT}/rgb.png", "rb") as f:
        png = f.read()
    with open(f"{OUT}/bad/truncated.png", "wb") as f:
        f.write(png[:60])
    with open(f"{OUT}/bad/garbage.png", "wb") as f:
        f.write(b"this is not an image\n")
    with open(f"{OUT}/bad/zero-width.ppm", "wb") as f:
        f.write(b"P6\n0 4\n255\n")
    ihdr = struct.pack(">IIBBBBB", 0, 4, 8, 2, 0, 0, 0)
    with open(f"{OUT}/bad/zero-width.png", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b""))


def processor_fixture(rng: np.random.Generator) -> None:
    from safetensors.numpy import save_file
    from transformers.models.pixtral.image_processing_pixtral import PixtralImageProcessor

    a = np.dstack([rng.integers(0, 256, (9, 13, 3)), rng.integers(0, 256, (9, 13))]).astype(np.uint8)
    y, x = np.mgrid[0:40, 0:33]
    b = np.dstack([x * 7, y * 6, 128 + 100 * np.sin(x * 0.7) * np.cos(y * 0.5)]).astype(np.uint8)
    Image.fromarray(a, "RGBA").save(f"{OUT}/pixtral-a.png")
    Image.fromarray(b, "RGB").save(f"{OUT}/pixtral-b.png")
    processor = PixtralImageProcessor(patch_size={"height": 28, "width": 28}, size={"longest_edge": 28})
    images = [Image.open(f"{OUT}/pixtral-{n}.png") for n in "ab"]
    out = processor(images, return_tensors="pt")
    save_file({"pixel_values": out["pixel_values"].numpy().astype(np.float32),
               "image_sizes": out["image_sizes"].numpy().astype(np.int64)}, f"{OUT}/pixtral.safetensors")
    print("pixtral.safetensors:", tuple(out["pixel_values"].shape), out["image_sizes"].tolist())


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20250605)
    loader_fixtures(rng)
    alpha_table()
    bad_fixtures()
    processor_fixture(rng)
    for name in sorted(os.listdir(OUT)):
        path = os.path.join(OUT, name)
        if os.path.isfile(path):
            print(f"{name:28s} {os.path.getsize(path):6d} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
