#!/usr/bin/env python3
"""A second implementation of spec/rng.md, written from the spec alone, in plain Python.

Run without arguments, it writes Tests/TensorTests/Fixtures/rng_reference.json: the Random123 known
answers it reproduces, and for a few (seed, name) pairs every intermediate of the first elements
(stream id h, raw x, uniforms u, normals z, bf16 weights w). The Swift tests compare against it.
It needs nothing beyond the standard library, so any port can import it to regenerate weights:

    from rng_reference import weights
    w = weights(seed=0, name="model.language_model.norm.weight", start=0, count=64, std=0.1, mean=1.0)

The synthetic model draws a few experts as copies of others (spec/rng.md §4.3): the rows of expert e of
`mlp.gate.weight`, `mlp.experts.gate_up_proj` and `mlp.experts.down_proj` are those of `expert_source(e, ...)`.
"""
import json
import math
import os
import struct

MASK32 = 0xFFFFFFFF
M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
TWO_PI = 6.283185307179586


def philox4x32_10(counter, key):
    """Eq. 1-3."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(10):
        if r > 0:
            k0, k1 = (k0 + W0) & MASK32, (k1 + W1) & MASK32
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & MASK32
    return [c0, c1, c2, c3]


def fnv1a64(text):
    """Eq. 4."""
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def raw(seed, name, block):
    """Eq. 5: the four outputs of one block."""
    h = fnv1a64(name)
    key = (seed & MASK32, seed >> 32)
    return philox4x32_10((block & MASK32, block >> 32, h & MASK32, h >> 32), key)


def uniform(x):
    """Eq. 6."""
    return (x + 0.5) * 2.0 ** -32


def normals_of_block(seed, name, block):
    """Eq. 7."""
    u = [uniform(x) for x in raw(seed, name, block)]
    out = []
    for p in (0, 2):
        r = math.sqrt(-2.0 * math.log(u[p]))
        theta = TWO_PI * u[p + 1]
        out += [r * math.cos(theta), r * math.sin(theta)]
    return out


def bf16_round(v):
    """Round a float64 to the nearest bfloat16 value, ties to even, once (spec/number-formats.md)."""
    if v == 0 or math.isnan(v) or math.isinf(v):
        return v
    mantissa, exponent = math.frexp(abs(v))  # |v| = mantissa * 2^exponent, 0.5 <= mantissa < 1
    quantum = 2.0 ** (max(exponent - 1, -126) - 7)
    r = round(abs(v) / quantum) * quantum  # round() on a float is round-half-even, exactly
    if r > 3.3895313892515355e38:  # past bf16 max: the plain cast gives infinity
        r = math.inf
    return math.copysign(r, v)


def normals(seed, name, start, count):
    out = []
    for i in range(start, start + count):
        out.append(normals_of_block(seed, name, i // 4)[i % 4])
    return out


def weights(seed, name, start, count, std, mean=0.0):
    """Eq. 8."""
    return [bf16_round(mean + std * z) for z in normals(seed, name, start, count)]


def expert_source(expert, experts, groups):
    """spec/rng.md §4.3: the expert whose parameters the synthetic model draws for `expert` (E experts in
    `groups` equal groups of m): m - 1 copies m - 2; with groups >= 2 and m >= 4, m and m + 1 copy 0 and 1."""
    size = experts // max(groups, 1)
    if size >= 2 and expert == size - 1:
        return size - 2
    if groups >= 2 and size >= 4 and expert in (size, size + 1):
        return expert - size
    return expert


def f64_hex(v):
    return "0x%016x" % struct.unpack("<Q", struct.pack("<d", v))[0]


def main():
    kat = [
        ([0, 0, 0, 0], [0, 0]),
        ([MASK32] * 4, [MASK32, MASK32]),
        ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]),
    ]
    cases = []
    for seed, name, start, count, std, mean in [
        (0, "model.language_model.embed_tokens.weight", 0, 16, 1.0, 0.0),
        (1234, "model.language_model.layers.0.mlp.experts.gate_up_proj", 1022, 9, 0.02, 0.0),
        (2**63 + 5, "model.language_model.norm.weight", 3, 6, 0.1, 1.0),
    ]:
        blocks = range(start // 4, (start + count - 1) // 4 + 1)
        cases.append({
            "seed": str(seed), "name": name, "start": start, "count": count, "std": std, "mean": mean,
            "stream_id": "0x%016x" % fnv1a64(name),
            "blocks": {str(b): ["0x%08x" % x for x in raw(seed, name, b)] for b in blocks},
            "normals": [f64_hex(z) for z in normals(seed, name, start, count)],
            "weights": [f64_hex(w) for w in weights(seed, name, start, count, std, mean)],
        })
    doc = {
        "generated_by": "Tools/rng_reference.py (pure Python, written from spec/rng.md)",
        "philox_kat": [{"counter": ["0x%08x" % v for v in c], "key": ["0x%08x" % v for v in k],
                        "output": ["0x%08x" % v for v in philox4x32_10(c, k)]} for c, k in kat],
        "fnv1a64": {t: "0x%016x" % fnv1a64(t) for t in ["", "a", "foobar"]},
        "cases": cases,
        "expert_sources": [{"experts": e, "n_group": g, "sources": [expert_source(x, e, g) for x in range(e)]}
                           for e, g in [(8, 2), (16, 1), (8, 1), (12, 3)]],
    }
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "TensorTests", "Fixtures", "rng_reference.json")
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(out))
    for entry in doc["philox_kat"]:
        print("philox", entry["counter"], entry["key"], "->", entry["output"])


if __name__ == "__main__":
    main()
