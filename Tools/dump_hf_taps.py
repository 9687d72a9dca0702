#!/usr/bin/env python3
"""Dump transformers' taps for every case of an Assay golden set, the way a port dumps its own (spec/taps.md).

A golden set of a small preset is also a Hugging Face checkpoint (spec/goldens.md §1), so transformers loads it
as Mistral3ForConditionalGeneration, runs each case's inputs (<case>.inputs.safetensors) with forward hooks, and
writes OUT/<case>.taps.safetensors: one tensor per tap under its tap name, HF shapes, reals as float32, router
indices as int64 sorted per token by expert id (with their weights), margins as spec/router.md defines them.
It then prints, per case and tolerance class, the worst NMSE against the golden taps (padding rows left out), for
information: the verdicts with limits come with `assay conform` (issue 6, not yet built).

Usage (torch + transformers >= 5; run by hand):

    /tmp/tfenv/bin/python Tools/dump_hf_taps.py --goldens goldens/tiny --out /tmp/hf-tiny \
        [--dtype float32|float64|bfloat16] [--lifted] [--flip-rope-interleave]

--lifted runs float64 with transformers' float32 islands lifted (Tools/crosscheck_transformers.py); it then
agrees with the goldens to their float32 storage. --flip-rope-interleave plants a bug (the text RoPE pairs read
half-split), to see where a wrong port departs.
"""

import argparse
import contextlib
import json
import sys
from pathlib import Path

import numpy as np
import safetensors.numpy
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crosscheck_transformers as xc  # noqa: E402  (the hooks, the lifted islands, the loader)
from conform import counted_rows  # noqa: E402  (which rows of a tap count: padding left out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--goldens", type=Path, required=True, help="a golden set that ships its weights")
    parser.add_argument("--out", type=Path, required=True, help="directory for <case>.taps.safetensors")
    parser.add_argument("--dtype", choices=["float32", "float64", "bfloat16"], default="float32")
    parser.add_argument("--lifted", action="store_true", help="float64 with the float32 islands lifted")
    parser.add_argument("--flip-rope-interleave", action="store_true", help="plant a bug: rope_interleave flipped")
    args = parser.parse_args()

    manifest = json.loads((args.goldens / "manifest.json").read_text())
    if not manifest.get("weights"):
        sys.exit(f"{args.goldens}: this golden set ships no weights (only sets of small presets do)")
    dtype = torch.float64 if args.lifted else getattr(torch, args.dtype)
    model = xc.load_model(args.goldens, dtype)
    if args.flip_rope_interleave:
        model.config.text_config.rope_interleave = not model.config.text_config.rope_interleave
        for layer in model.model.language_model.layers:
            layer.self_attn.config.rope_interleave = model.config.text_config.rope_interleave
    args.out.mkdir(parents=True, exist_ok=True)
    for case in manifest["cases"]:
        inputs = safetensors.numpy.load_file(str(args.goldens / case["inputs"]["file"]))
        has_images = "pixel_values" in inputs
        context = xc.lifted(vision=has_images) if args.lifted else contextlib.nullcontext()
        with context:
            taps = xc.canonical_router(xc.run_transformers(model, inputs))
        stored = {name: (value if value.dtype == np.int64 else value.astype(np.float32)) for name, value in taps.items()}
        safetensors.numpy.save_file(stored, str(args.out / case["taps"]["file"]))
        report(args.goldens, case, inputs, stored)
    return 0


def report(goldens: Path, case: dict, inputs: dict, candidate: dict) -> None:
    """Worst NMSE per tolerance class against the golden taps; index taps as the share of tokens whose sets differ."""
    golden = xc.canonical_router(safetensors.numpy.load_file(str(goldens / case["taps"]["file"])))
    mask = inputs["attention_mask"].reshape(-1).astype(bool)
    worst, missing = {}, []
    for entry in case["taps"]["tensors"]:
        name, kind = entry["name"], entry["tolerance_class"]
        if name not in candidate:
            missing.append(name)
            continue
        a, b = candidate[name], golden[name]
        rows = counted_rows(name, b.shape, mask)
        if rows is not None:
            a, b = a.reshape(rows.size, -1)[rows], b.reshape(rows.size, -1)[rows]
        if kind == "router_indices":
            value = float(np.mean(np.any(a != b, axis=-1)))
        elif kind == "margin":
            continue
        else:
            a, b = a.astype(np.float64), b.astype(np.float64)
            value = float(((a - b) ** 2).sum() / max((b ** 2).sum(), 1e-300))
        if value >= worst.get(kind, (-1.0, ""))[0]:
            worst[kind] = (value, name)
    print(f"# {goldens.name} case {case['name']}: worst per class (router_indices: share of tokens whose set differs)")
    for kind, (value, name) in sorted(worst.items()):
        print(f"  {kind:15s} {value:9.2e}  {name}")
    if missing:
        print(f"  not dumped ({len(missing)}): {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")


if __name__ == "__main__":
    sys.exit(main())
