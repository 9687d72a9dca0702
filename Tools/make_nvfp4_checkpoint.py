#!/usr/bin/env python3
"""Writes a small NVFP4 checkpoint in both NVFP4 storage conventions (spec/quant.md §10.1, §11; spec/checkpoints.md
§7) from a BF16 Hugging Face checkpoint such as a golden set's (goldens/tiny: config.json + model.safetensors):

    hf-nvfp4-modelopt/            config.json with quantization_config {quant_method modelopt, quant_algo NVFP4};
                                  model.safetensors; each quantized linear as `weight` U8 [out, in/2] (two E2M1 codes
                                  a byte, element 2k in the low nibble) + `weight_scale` F8_E4M3 [out, ceil(in/16)] +
                                  `weight_scale_2` F32 [] (g_w, a multiplier) + `input_scale` F32 [] (1/g_x)
    hf-nvfp4-compressed-tensors/  quantization_config {quant_method compressed-tensors, format nvfp4-pack-quantized};
                                  `weight_packed`, `weight_scale`, `weight_global_scale` F32 [1] (1/g_w, a divisor),
                                  `input_global_scale` F32 [1] (g_x)

Routed experts are stored one module per expert and projection (`…mlp.experts.{e}.gate_proj`, `.up_proj`,
`.down_proj`), as quantizers of Linear modules write them; everything else keeps the source's BF16 tensors.

The scales follow the synthetic NVFP4 rule of spec/quant.md §11, implemented here independently of the Swift store
(NVFP4DerivedWeightStore): g_w = P(amax / (6 * 448)) per scale group (a tensor; gate_proj and up_proj of an MLP
together; one expert's gate and up together, and its down), P the power of two at or above (math.frexp);
s_w = E4M3(amax_b / (6 * g_w)) by enumerating E4M3's codes; codes E2M1(clamp(W / (s_w * g_w), -6, 6)) by vLLM's
threshold table; g_x = 1 / P(clip / (6 * 448)), clip = 8 + FNV-1a 64(key) mod 8 with spec/quant.md eq. (10)'s keys
(an expert's key names the expert it is a synthetic copy of, spec/rng.md §4.3).
So `assay forward` on either output gives the same taps as the `nvfp4` profile on the source, byte for byte
(NVFP4CheckpointTests), which checks the rule from two implementations.

Needs numpy. The output is byte-identical for the same input.

    python3 Tools/make_nvfp4_checkpoint.py --source goldens/tiny --out DIR
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from make_checkpoint import E4M3, as_float, e4m3_codes, is_quantized, read_safetensors, scalar, write, write_json
from rng_reference import expert_source, fnv1a64

E2M1 = np.array([0, .5, 1, 1.5, 2, 3, 4, 6])
STORAGES = {
    "modelopt": dict(packed="weight", scales="weight_scale", weight_global="weight_scale_2", input_global="input_scale",
                     shape=(), config={"quant_method": "modelopt", "quant_algo": "NVFP4"}),
    "compressed-tensors": dict(packed="weight_packed", scales="weight_scale", weight_global="weight_global_scale",
                               input_global="input_global_scale", shape=(1,),
                               config={"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized"}),
}


def power_of_two_at_or_above(v):
    """P(v): 2^ceil(log2 v) from v's exponent (1 for 0)."""
    if v == 0:
        return 1.0
    mantissa, exponent = math.frexp(v)           # v = mantissa * 2^exponent, 0.5 <= mantissa < 1
    return v if mantissa == 0.5 else math.ldexp(1.0, exponent)


def e2m1_codes(x):
    """vLLM's cast_to_fp4 thresholds (round to nearest even onto E2M1), as 4-bit codes with the sign in bit 3."""
    a = np.abs(x)
    index = np.select([a <= .25, a < .75, a <= 1.25, a < 1.75, a <= 2.5, a < 3.5, a <= 5], range(7), 7)
    return (index | np.where(np.signbit(x) & (index > 0), 8, 0)).astype(np.uint8)


def quantize(w, g_w):
    """One weight [out, in] under g_w: (packed codes [out, in/2], block scale codes [out, ceil(in/16)])."""
    out, inputs = w.shape
    blocks = -(-inputs // 16)
    padded = np.zeros((out, blocks * 16))
    padded[:, :inputs] = w
    amax = np.abs(padded.reshape(out, blocks, 16)).max(axis=2)
    scale_codes = e4m3_codes(amax / (6 * g_w))
    scales = np.repeat(E4M3[scale_codes & 0x7F], 16, axis=1)[:, :inputs] * g_w
    ratio = np.divide(w, scales, out=np.zeros_like(w), where=scales != 0)
    codes = e2m1_codes(np.clip(ratio, -6, 6)).reshape(out, inputs // 2, 2)
    return (codes[:, :, 0] | codes[:, :, 1] << 4).astype(np.uint8), scale_codes


def input_global(key):
    return 1 / power_of_two_at_or_above((8 + fnv1a64(key) % 8) / (6 * 448))


def module_tensors(storage, module, w, g_w, g_x):
    """The stored tensors of one NVFP4 module in `storage`'s names and conventions."""
    names = STORAGES[storage]
    packed, scale_codes = quantize(w, g_w)
    stored_w, stored_x = (g_w, 1 / g_x) if storage == "modelopt" else (1 / g_w, g_x)
    return {f"{module}.{names['packed']}": ("U8", list(packed.shape), packed.tobytes()),
            f"{module}.{names['scales']}": ("F8_E4M3", list(scale_codes.shape), scale_codes.tobytes()),
            f"{module}.{names['weight_global']}": scalar(stored_w, names["shape"]),
            f"{module}.{names['input_global']}": scalar(stored_x, names["shape"])}


def quantized_modules(tensors, prefix, text):
    """(module, weight [out, in], g_w, g_x) of every NVFP4 module, in source order (`text`: the text config)."""
    weights = {name: as_float(*stored).astype(np.float64) for name, stored in tensors.items()}
    modules = []
    for name, w in weights.items():
        if not is_quantized(name, prefix):
            continue
        if name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            experts, part = name.rsplit(".", 1)
            for e in range(w.shape[0]):
                g_w = power_of_two_at_or_above(float(np.abs(w[e]).max()) / (6 * 448))
                source = expert_source(e, text["n_routed_experts"], text.get("n_group", 1))
                g_x = input_global(f"{name}.activation_scale.{source}")
                halves = [("gate_proj", w[e][:w.shape[1] // 2]), ("up_proj", w[e][w.shape[1] // 2:])] \
                    if part == "gate_up_proj" else [("down_proj", w[e])]
                modules += [(f"{experts}.{e}.{p}", half, g_w, g_x) for p, half in halves]
            continue
        lead = name.replace(".up_proj.weight", ".gate_proj.weight")       # gate_proj and up_proj: one scale group
        group = [lead, lead.replace(".gate_proj.weight", ".up_proj.weight")] if lead.endswith(".gate_proj.weight") \
            else [lead]
        g_w = power_of_two_at_or_above(max(float(np.abs(weights[n]).max()) for n in group) / (6 * 448))
        module = name[:-len(".weight")]
        modules.append((module, w, g_w, input_global(lead[:-len(".weight")] + ".activation_scale")))
    return modules


def make(source, out):
    with open(os.path.join(source, "config.json")) as f:
        config = json.load(f)
    tensors = read_safetensors(os.path.join(source, "model.safetensors"))
    prefix = "model.language_model" if "text_config" in config else "model"
    modules = quantized_modules(tensors, prefix, config.get("text_config", config))
    for storage, names in STORAGES.items():
        stored = {name: t for name, t in tensors.items() if not is_quantized(name, prefix)}
        for module, w, g_w, g_x in modules:
            stored.update(module_tensors(storage, module, w, g_w, g_x))
        directory = os.path.join(out, f"hf-nvfp4-{storage}")
        os.makedirs(directory, exist_ok=True)
        write_json(os.path.join(directory, "config.json"), dict(config, quantization_config=names["config"]))
        write(os.path.join(directory, "model.safetensors"), dict(sorted(stored.items())), {"format": "pt"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="a BF16 Hugging Face checkpoint directory")
    parser.add_argument("--out", required=True, help="where hf-nvfp4-modelopt/ and hf-nvfp4-compressed-tensors/ go")
    args = parser.parse_args()
    make(args.source, args.out)


if __name__ == "__main__":
    main()
