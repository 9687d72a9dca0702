#!/usr/bin/env python3
"""Writes Tests/MistralSmall4Tests/Fixtures/nvfp4/cases.safetensors: NVFP4 golden cases (spec/quant.md §10) for one
quantized linear and one quantized SwiGLU expert, each stored as NVIDIA ModelOpt and as compressed-tensors write
them, with the outputs of eq. (13)-(15) computed here, independently of the Swift reference: E4M3 by enumerating
its 127 finite positive codes, E2M1 by vLLM's published threshold table (nvfp4_emulation_utils.cast_to_fp4), and
the block-scaled product by explicit loops in float64.

    python3 Tools/make_nvfp4_cases.py            # needs numpy; rewrites the fixture
"""
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from make_bad_safetensors import valid  # the stdlib safetensors writer of the bad-input corpus

E4M3 = [(c >> 3 and (1 + (c & 7) / 8) * 2.0 ** ((c >> 3) - 7)) or (c & 7) / 8 * 2.0 ** -6 for c in range(127)]


def e4m3_code(x):
    """Nearest non-negative E4M3 code to x >= 0, ties to the even code, saturating at 448 (code 126)."""
    best = min(range(127), key=lambda c: (abs(E4M3[c] - x), c & 1))
    return best


def e2m1(x):
    """vLLM's cast_to_fp4: round-to-nearest-even onto {0, .5, 1, 1.5, 2, 3, 4, 6}, by thresholds."""
    a = abs(x)
    m = 0 if a <= .25 else .5 if a < .75 else 1 if a <= 1.25 else 1.5 if a < 1.75 else 2 if a <= 2.5 else 3 if a < 3.5 \
        else 4 if a <= 5 else 6
    return -m if x < 0 else m


E2M1_CODES = {0: 0, .5: 1, 1: 2, 1.5: 3, 2: 4, 3: 5, 4: 6, 6: 7}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def quantize_weight(w, storage):
    """A checkpoint producer's rule: global g = 6*448/amax (stored as g or, ModelOpt, as 1/g), block scales
    E4M3(amax_b/6 * g), codes E2M1(w * g / s_b). Returns (packed bytes, block-scale codes, stored global)."""
    g = f32(6 * 448 / float(np.abs(w).max()))
    stored = g if storage == "compressed-tensors" else f32(1 / g)
    g = 1 / stored if storage == "modelopt" else stored
    codes, scales = [], []
    for row in w:
        for b in range(0, len(row), 16):
            block = row[b:b + 16]
            scale = e4m3_code(min(float(np.abs(block).max()) / 6 * g, 448))
            scales.append(scale)
            s = E4M3[scale]
            for v in block:
                q = e2m1(max(-6, min(6, v * g / s))) if s else 0
                codes.append(E2M1_CODES[abs(q)] | (8 if q < 0 or (q == 0 and math.copysign(1, q) < 0) else 0))
    packed = bytes(codes[k] | codes[k + 1] << 4 for k in range(0, len(codes), 2))
    return packed, bytes(scales), stored


def dequantize(packed, scales, stored, storage, shape):
    g = stored if storage == "modelopt" else 1 / stored
    values = []
    for byte in packed:
        for nibble in (byte & 15, byte >> 4):
            m = [0, .5, 1, 1.5, 2, 3, 4, 6][nibble & 7]
            values.append(-m if nibble & 8 else m)
    out, inputs = np.array(values).reshape(shape), shape[1]
    return out, [[E4M3[scales[o * inputs // 16 + b]] for b in range(inputs // 16)] for o in range(shape[0])], g


def nvfp4_linear(x, packed, scales, stored_w, stored_x, storage, shape):
    """Eq. (13)-(15) with explicit loops: y[r, o] = (g_w / g_x) * sum_b s_x * s_w * sum_i x_q * w_q."""
    wq, ws, gw = dequantize(packed, scales, stored_w, storage, shape)
    gx = 1 / stored_x if storage == "modelopt" else stored_x
    y = np.zeros((x.shape[0], shape[0]))
    for r, row in enumerate(x):
        xq, xs = [], []
        for b in range(0, len(row), 16):
            block = row[b:b + 16]
            s = E4M3[e4m3_code(min(gx * float(np.abs(block).max()) / 6, 448))]
            xs.append(s)
            xq += [e2m1(max(-6, min(6, v * gx / s))) if s else 0 for v in block]
        for o in range(shape[0]):
            total = 0.0
            for b in range(len(xs)):
                total += xs[b] * ws[o][b] * sum(xq[i] * wq[o, i] for i in range(16 * b, 16 * b + 16))
            y[r, o] = gw / gx * total
    return y


def tensor(name, dtype, shape, data):
    return name, (dtype, list(shape), data)


def main():
    rng = np.random.default_rng(20261124)
    hidden, inter, tokens = 64, 32, 4
    x = rng.standard_normal((tokens, hidden)).astype(np.float32).astype(np.float64)
    weights = {"linear": rng.standard_normal((48, hidden)) / 8,
               "expert.gate_up_proj": rng.standard_normal((2 * inter, hidden)) / 8,
               "expert.down_proj": rng.standard_normal((hidden, inter)) / 6}
    weights = {k: v.astype(np.float32).astype(np.float64) for k, v in weights.items()}
    out = dict([tensor("x", "F32", x.shape, x.astype("<f4").tobytes())])
    for storage in ("modelopt", "compressed-tensors"):
        names = {"modelopt": ("weight", "weight_scale", "weight_scale_2", "input_scale"),
                 "compressed-tensors": ("weight_packed", "weight_scale", "weight_global_scale", "input_global_scale")}[storage]
        stored = {}
        for module, w in weights.items():
            packed, scales, global_w = quantize_weight(w, storage)
            prefix = f"{storage}.{module}."
            out[prefix + names[0]] = ("U8", [w.shape[0], w.shape[1] // 2], packed)
            out[prefix + names[1]] = ("F8_E4M3", [w.shape[0], w.shape[1] // 16], scales)
            out[prefix + names[2]] = ("F32", [], struct.pack("<f", global_w))
            stored[module] = (packed, scales, global_w, w.shape)

        def run(module, inputs):
            amax = float(np.abs(inputs).max())
            g_x = f32(6 * 448 / amax) if storage == "compressed-tensors" else f32(amax / (6 * 448))
            out[f"{storage}.{module}.{names[3]}"] = ("F32", [], struct.pack("<f", g_x))
            packed, scales, global_w, shape = stored[module]
            return nvfp4_linear(inputs, packed, scales, global_w, g_x, storage, shape)

        linear = run("linear", x)
        gate_up = run("expert.gate_up_proj", x)
        gate, up = gate_up[:, :inter], gate_up[:, inter:]
        hidden_act = gate / (1 + np.exp(-gate)) * up
        expert = run("expert.down_proj", hidden_act)
        out[f"{storage}.linear.output"] = ("F64", list(linear.shape), linear.astype("<f8").tobytes())
        out[f"{storage}.expert.output"] = ("F64", list(expert.shape), expert.astype("<f8").tobytes())
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MistralSmall4Tests", "Fixtures", "nvfp4", "cases.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(valid(dict(sorted(out.items())), metadata={"about": "spec/quant.md §10; Tools/make_nvfp4_cases.py"}))
    os.replace(path + ".tmp", path)
    print(f"wrote {os.path.normpath(path)}: {len(out)} tensors")


if __name__ == "__main__":
    main()
