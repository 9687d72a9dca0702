#!/usr/bin/env python3
"""Cross-check `assay preprocess` against transformers' PixtralImageProcessor (spec/preprocessing.md §7).

Generates PNG images (seeded noise and smooth patterns, RGB and RGBA with varied alpha, sizes below, at and above
the longest edge, extreme aspect ratios), runs `assay preprocess --preset P` on each, runs transformers'
PixtralImageProcessor with the same settings (patch_size = patch_size x spatial_merge_size = 28, longest_edge =
the preset's vision image_size; default torchvision backend, on the CPU) on the same file opened with PIL, and
reports per image: shapes equal, image_sizes equal, max |assay - transformers| over pixel_values, and the fraction
of pixels whose uint8 level (recovered from pixel_values by inverting eq. 9) differs. It then runs one batch of
three images through both (padding), checks eq. (1) against PIL's alpha_composite for all 256 x 256 (value, alpha)
pairs, and, for information, reports how far transformers' PIL backend (PixtralImageProcessorPil) and mistral-common
(when installed) are from the torchvision backend.

Tolerance: image_sizes and shapes equal, every uint8 level equal (the resize is integer arithmetic after float64
weights, reproduced exactly), and max |diff| <= 1e-6: transformers evaluates eq. (9) fused, (x - 255 mu) / (255
sigma), in float32, which is within 4e-7 of the float64 value for |v| <= 2.2 (3.8e-7 seen). Exits 1 outside it.

Usage (needs numpy, pillow, torch with a matching torchvision, transformers >= 5; run by hand, not in CI):

    swift build -c release --product assay
    PYTHON Tools/crosscheck_preprocessing.py --assay .build/release/assay [--preset full] [--workdir DIR]

The `full` preset (image_size 1540) is only a config: preprocess reads no weights.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
STD = np.array([0.26862954, 0.26130258, 0.27577711])
PRESETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec", "presets")


def make_images(directory: str) -> list[tuple[str, str]]:
    """(name, path) of the test images, written as PNG. Sizes are height x width."""
    rng = np.random.default_rng(7)
    sizes = [(17, 300), (1000, 700), (2000, 1600), (28, 28), (1541, 10), (10, 1541), (300, 17), (1, 1), (1540, 1540),
             (7700, 143)]   # 7700 x 143: floor gives width 28 (transformers), round 29 -> 56 (mistral-common)
    images = []
    for h, w in sizes:
        for kind in ("noise", "smooth"):
            if kind == "noise":
                pixels = rng.integers(0, 256, (h, w, 4))
            else:
                y, x = np.mgrid[0:h, 0:w] / max(h, w)
                pixels = np.dstack([255 * x, 255 * y, 127.5 + 127 * np.sin(9 * x) * np.cos(7 * y), 255 * (1 - x * y)])
            rgba = kind == "smooth" or (h * w) % 2 == 1
            mode = "RGBA" if rgba else "RGB"
            name = f"{h}x{w}-{kind}-{mode.lower()}"
            path = os.path.join(directory, name + ".png")
            array = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
            Image.fromarray(array if rgba else np.ascontiguousarray(array[..., :3]), mode).save(path)
            images.append((name, path))
    return images


def assay_preprocess(assay: str, preset: str, paths: list[str], out: str) -> tuple[np.ndarray, np.ndarray]:
    from safetensors.numpy import load_file

    command = [assay, "preprocess", "--preset", preset, "--output", out, "--dtype", "f64"]
    for path in paths:
        command += ["--image", path]
    subprocess.run(command, check=True)
    tensors = load_file(out)
    return tensors["pixel_values"], tensors["image_sizes"]


def levels(pixel_values: np.ndarray) -> np.ndarray:
    """The uint8 levels behind pixel_values [N, 3, H, W] (eq. 9 inverted, rounded)."""
    return np.round((pixel_values * STD[None, :, None, None] + MEAN[None, :, None, None]) * 255)


def compare(ours_pv, ours_sizes, theirs_pv, theirs_sizes) -> dict:
    row = {"shape": ours_pv.shape == theirs_pv.shape, "sizes": np.array_equal(ours_sizes, theirs_sizes)}
    if row["shape"]:
        row["max_abs"] = float(np.abs(ours_pv - theirs_pv.astype(np.float64)).max())
        differ = (levels(ours_pv) != levels(theirs_pv.astype(np.float64))).any(axis=1)   # per pixel
        row["levels_differ"] = float(differ.mean())
        row["max_level_diff"] = int(np.abs(levels(ours_pv) - levels(theirs_pv.astype(np.float64))).max())
    return row


def alpha_table_check() -> bool:
    v, a = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    rgba = Image.fromarray(np.dstack([v, v, v, a]).astype(np.uint8), "RGBA")
    composite = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    table = np.array(composite)[..., 0]
    equal = bool((table == (a * v + 255 * (255 - a) + 127) // 255).all())
    print(f"eq. (1) vs PIL alpha_composite over all 65536 (value, alpha) pairs: {'equal' if equal else 'DIFFERENT'}")
    return equal


def mistral_common(paths: list[str], longest: int, tv_pv: np.ndarray) -> str:
    """mistral-common's ImageEncoder (cv2 INTER_CUBIC on float32) for a single image, against the torchvision
    backend's pixel_values: its size, and max / mean |diff| when the sizes agree."""
    try:
        from mistral_common.protocol.instruct.chunk import ImageChunk
        from mistral_common.tokens.tokenizers.image import ImageConfig, ImageEncoder, SpecialImageIDs
    except ImportError:
        return "not installed"
    if len(paths) != 1:
        return ""
    encoder = ImageEncoder(ImageConfig(image_patch_size=14, max_image_size=longest, spatial_merge_size=2),
                           SpecialImageIDs(img=10, img_break=12, img_end=13))
    image = encoder(ImageChunk(image=Image.open(paths[0]))).image.astype(np.float64)
    size = "x".join(map(str, image.shape[1:]))
    if image.shape != tv_pv.shape[1:]:
        return f"{size:>20s} {'(other size)':>22s}"
    diff = np.abs(image - tv_pv[0])
    return f"{size:>20s} {diff.max():10.3g} {diff.mean():11.3g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assay", required=True, help="the assay binary")
    parser.add_argument("--preset", default="full", help="preset whose vision config sets the longest edge")
    parser.add_argument("--workdir", help="keep the images and outputs here (default: a temp dir, removed)")
    args = parser.parse_args()

    import torch
    import transformers
    from transformers.models.pixtral.image_processing_pil_pixtral import PixtralImageProcessorPil
    from transformers.models.pixtral.image_processing_pixtral import PixtralImageProcessor

    torch.set_num_threads(2)
    transformers.logging.set_verbosity_error()   # quiet "channel dimension is ambiguous" for the 1 x 1 images
    config = json.load(open(os.path.join(PRESETS, args.preset + ".json")))
    longest = config["vision_config"]["image_size"]
    multiple = config["vision_config"]["patch_size"] * config.get("spatial_merge_size", 2)
    settings = dict(patch_size={"height": multiple, "width": multiple}, size={"longest_edge": longest})
    torchvision_backend = PixtralImageProcessor(**settings)
    pil_backend = PixtralImageProcessorPil(**settings)
    print(f"preset {args.preset}: longest_edge {longest}, patch multiple {multiple}; torch {torch.__version__}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")

    workdir = args.workdir or tempfile.mkdtemp(prefix="assay-preprocess-")
    os.makedirs(workdir, exist_ok=True)
    images = make_images(workdir)
    failures = 0 if alpha_table_check() else 1

    print(f"{'image (h x w, kind)':34s} {'out size':>10s} {'shape':>5s} {'sizes':>5s} {'max |diff|':>10s} {'levels differ':>13s}")
    others = []   # informational rows: the PIL backend and mistral-common against the torchvision backend

    def check(label, paths):
        nonlocal failures
        ours_pv, ours_sizes = assay_preprocess(args.assay, args.preset, paths, os.path.join(workdir, "out.safetensors"))
        size = "x".join(map(str, ours_pv.shape[2:]))
        try:
            theirs = torchvision_backend([Image.open(p) for p in paths], return_tensors="pt")
        except ValueError as error:   # a side that eq. (2) floors to 0; Assay keeps 1 pixel (spec §2)
            print(f"{label:34s} {size:>10s} transformers refuses it: {str(error)[:60]}")
            return
        tv_pv, tv_sizes = theirs["pixel_values"].numpy(), torch.as_tensor(theirs["image_sizes"]).numpy()
        row = compare(ours_pv, ours_sizes, tv_pv, tv_sizes)
        ok = row["shape"] and row["sizes"] and row["levels_differ"] == 0 and row["max_abs"] <= 1e-6
        failures += not ok
        print(f"{label:34s} {size:>10s} {str(row['shape']):>5s} {str(row['sizes']):>5s} "
              f"{row.get('max_abs', float('nan')):10.3g} {row.get('levels_differ', float('nan')):13.4%}"
              + ("" if ok else "   FAIL"))
        pil = pil_backend([Image.open(p) for p in paths], return_tensors="np")
        others.append((label, compare(np.asarray(pil["pixel_values"], np.float64), np.array(pil["image_sizes"]),
                                      tv_pv, tv_sizes), mistral_common(paths, longest, tv_pv)))

    for name, path in images:
        check(name, [path])
    check("batch of 3 (17x300, 28x28, 300x17)", [p for n, p in images if n.split("-")[0] in ("17x300", "28x28", "300x17")
                                                 and "smooth" in n])
    print("\nFor information, distance from transformers' torchvision backend (pixel_values; levels = uint8 levels):")
    print(f"{'image (h x w, kind)':34s} | {'PIL backend: max |diff|':>23s} {'levels differ':>13s} {'max levels':>10s} | "
          f"{'mistral-common: size':>20s} {'max |diff|':>10s} {'mean |diff|':>11s}")
    for label, pil, mc in others:
        pil_text = (f"{pil['max_abs']:23.3g} {pil['levels_differ']:13.2%} {pil['max_level_diff']:10d}" if pil["shape"]
                    else f"{'other shape':>48s}")
        print(f"{label:34s} | {pil_text} | {mc}")
    print("PASS" if failures == 0 else f"FAIL ({failures} checks outside the tolerance)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
