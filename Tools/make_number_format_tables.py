#!/usr/bin/env python3
"""Writes Tests/TensorTests/Fixtures/number_formats.json: expected decodings and encodings for every
number format Assay rounds to, from implementations independent of Assay's Swift code.

Oracles:
  * ml_dtypes (float8_e4m3fn, float8_e5m2, float4_e2m1fn, bfloat16) and numpy (float16) for float32
    inputs. ml_dtypes converts float64 through float32 (it rounds twice), so it is only used where the
    input is exactly a float32.
  * An exact oracle for float64 inputs: rational arithmetic (fractions.Fraction) picking the nearest
    representable value, ties to the even code. It is cross-checked against ml_dtypes/numpy on every
    float32 input before anything is written, so the two oracles vouch for each other.

Saturating conversion is defined as clamp to [-max, max] then the plain cast (what torch's
`x.clamp(-448, 448).to(torch.float8_e4m3fn)` does); NaN stays NaN. E2M1 has no Inf or NaN and always
saturates; NaN inputs are left out of its tables (see spec/number-formats.md).

Usage: pip install ml_dtypes numpy && python3 Tools/make_number_format_tables.py
"""
import bisect
import json
import math
import os
import random
import struct
from fractions import Fraction

import ml_dtypes
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TensorTests", "Fixtures", "number_formats.json")


def f64_hex(x):
    return "0x%016x" % struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def f32_hex(x):
    return "0x%08x" % struct.unpack("<I", struct.pack("<f", float(x)))[0]


class Format:
    def __init__(self, name, dtype, bits, mantissa_bits, specials):
        self.name, self.dtype, self.bits, self.m, self.specials = name, dtype, bits, mantissa_bits, specials
        self.code_type = np.uint8 if bits <= 8 else np.uint16
        info = ml_dtypes.finfo(dtype) if dtype is not np.float16 else np.finfo(np.float16)
        self.max = float(info.max)
        self.sign_bit = 1 << (bits - 1)
        codes = np.arange(1 << bits, dtype=np.uint32).astype(self.code_type)
        self.decoded = codes.view(dtype).astype(np.float64)
        # Non-negative finite values with their codes, ascending, then the first value past max that the
        # format would have with one more exponent step (the overflow target of round-to-nearest).
        positive = [(Fraction(float(v)), c) for c, v in enumerate(self.decoded[: self.sign_bit]) if math.isfinite(v)]
        positive.sort()
        if specials == "ieee":  # 2^(emax+1): the code after max is Inf, mantissa even
            virtual = (Fraction(2) ** (int(math.log2(self.max)) + 1), 0)
        elif specials == "fn":  # E4M3FN: the code after max (S.1111.111) is NaN, mantissa odd
            virtual = (Fraction(self.max) + Fraction(2) ** (int(math.log2(self.max)) - mantissa_bits), 1)
        else:
            virtual = None
        self.finite = [float(v) for v, _ in positive]
        self.table = positive + ([(virtual[0], -1 - virtual[1])] if virtual else [])
        self.values = [v for v, _ in self.table]

    def nan_code(self, negative):
        return int(np.array([-np.nan if negative else np.nan], np.float32).astype(self.dtype).view(self.code_type)[0])

    def max_code(self):
        return int(np.array([self.max], np.float64).astype(self.dtype).view(self.code_type)[0])

    def exact(self, x, saturating):
        """Round-to-nearest-even of a float64, computed with rationals."""
        if math.isnan(x):
            return 0 if self.specials == "none" else self.nan_code(math.copysign(1, x) < 0)
        sign = self.sign_bit if math.copysign(1, x) < 0 else 0
        overflow = self.max_code() if (saturating or self.specials == "none") else (
            (self.max_code() + 1) if self.specials == "ieee" else self.nan_code(False))
        if math.isinf(x):
            return sign | overflow
        a = Fraction(abs(x))
        if self.specials == "none" or saturating:
            a = min(a, Fraction(self.max))
        i = bisect.bisect_left(self.values, a)
        if i == len(self.values):  # beyond the overflow target itself
            return sign | overflow
        if self.values[i] == a:
            code = self.table[i][1]
        else:
            lo, hi = self.table[i - 1], self.table[i]
            d_lo, d_hi = a - lo[0], hi[0] - a
            even = lambda entry: (entry[1] if entry[1] >= 0 else -1 - entry[1]) % 2 == 0
            pick = lo if d_lo < d_hi or (d_lo == d_hi and even(lo)) else hi
            code = pick[1]
        if code < 0:  # rounded past max
            return sign | overflow
        return sign | code

    def library_cast(self, values_f32, saturating):
        x = np.array(values_f32, dtype=np.float32)
        if saturating:
            x = np.where(np.isnan(x), x, np.clip(x, -self.max, self.max)).astype(np.float32)
        return [int(c) for c in x.astype(self.dtype).view(self.code_type)]


def midpoints(sorted_values):
    return [(a + b) / 2 for a, b in zip(sorted_values, sorted_values[1:])]


def f32(x):
    return float(np.float32(x))


def f32_neighbours(x):
    x32 = np.float32(x)
    return [float(np.nextafter(x32, np.float32(-np.inf))), float(x32), float(np.nextafter(x32, np.float32(np.inf)))]


def candidate_inputs(fmt, rng, sample_limit):
    """float32 inputs and float64-only inputs that probe ties, overflow and underflow."""
    finite = fmt.finite
    if sample_limit and len(finite) > sample_limit:
        picks = sorted(rng.sample(range(len(finite) - 1), sample_limit))
        pairs = [(finite[i], finite[i + 1]) for i in picks]
        exact_values = [p[0] for p in pairs]
    else:
        pairs = list(zip(finite, finite[1:]))
        exact_values = finite
    mids = [(a + b) / 2 for a, b in pairs]
    top = float(fmt.values[-1]) if fmt.specials != "none" else fmt.max * 2  # the overflow target
    f32_max = float(np.finfo(np.float32).max)
    edges = [fmt.max, (fmt.max + top) / 2, 2 * fmt.max, f32_max, math.inf, finite[1] / 2, finite[1] / 4, 1e-30, 0.0]
    inputs32 = set()
    for x in exact_values + mids + edges:
        for y in f32_neighbours(x) if math.isfinite(x) and abs(x) < 3.4e38 else [x]:
            inputs32.add(y)
    for _ in range(300):
        inputs32.add(f32(math.copysign(2 ** rng.uniform(math.log2(finite[1]) - 2, math.log2(fmt.max) + 1),
                                       rng.choice([-1, 1]))))
    inputs32 = {x for x in inputs32 if math.isinf(x) or float(np.float32(x)) == x}  # exactly float32
    inputs32 |= {-x for x in list(inputs32)}
    if fmt.specials != "none":
        inputs32 |= {math.nan, -math.nan}
    inputs64 = set()
    for m in mids + [(fmt.max + top) / 2]:
        for eps in (2.0 ** -40, -(2.0 ** -40)):
            inputs64.add(m * (1 + eps))
    for _ in range(200):
        inputs64.add(math.copysign(2 ** rng.uniform(math.log2(finite[1]) - 2, math.log2(fmt.max) + 1),
                                   rng.choice([-1, 1])))
    inputs64 |= {-x for x in list(inputs64)}
    inputs64 = {x for x in inputs64 if float(np.float32(x)) != x}
    key = lambda v: (math.isnan(v), v if not math.isnan(v) else math.copysign(1, v))
    return sorted(inputs32, key=key), sorted(inputs64, key=key)


def build(fmt, rng, sample_limit=None, float64_oracle=None):
    inputs32, inputs64 = candidate_inputs(fmt, rng, sample_limit)
    rows = []
    for saturating in (False, True):
        lib = fmt.library_cast(inputs32, saturating)
        for x, code in zip(inputs32, lib):
            mine = fmt.exact(x, saturating)
            nan_both = math.isnan(x) and code == mine
            assert code == mine or nan_both, (fmt.name, x, saturating, hex(code), hex(mine))
    for x in inputs32:
        rows.append([f32_hex(x), 32, fmt.library_cast([x], False)[0], fmt.library_cast([x], True)[0]])
    for x in inputs64:
        nonsat, sat = fmt.exact(x, False), fmt.exact(x, True)
        if float64_oracle is not None:
            assert float64_oracle(x) == nonsat, (fmt.name, x)
        rows.append([f64_hex(x), 64, nonsat, sat])
    entry = {"name": fmt.name, "bits": fmt.bits, "max": f64_hex(fmt.max), "encode": rows}
    if fmt.bits <= 8:
        entry["decode"] = ["nan" if math.isnan(v) else f64_hex(v) for v in fmt.decoded]
    return entry


def numpy_half(x):
    return int(np.array([x], np.float64).astype(np.float16).view(np.uint16)[0])


def main():
    np.seterr(all="ignore")  # casts of NaN/Inf/out-of-range values are the point here
    rng = random.Random(20260316)
    formats = [
        build(Format("float8_e4m3fn", ml_dtypes.float8_e4m3fn, 8, 3, "fn"), rng),
        build(Format("float8_e5m2", ml_dtypes.float8_e5m2, 8, 2, "ieee"), rng),
        build(Format("float4_e2m1fn", ml_dtypes.float4_e2m1fn, 4, 1, "none"), rng),
        build(Format("bfloat16", ml_dtypes.bfloat16, 16, 7, "ieee"), rng, sample_limit=300),
        build(Format("float16", np.float16, 16, 10, "ieee"), rng, sample_limit=300, float64_oracle=numpy_half),
    ]
    doc = {
        "generated_by": "Tools/make_number_format_tables.py",
        "oracles": "ml_dtypes %s and numpy %s for float32 inputs (width 32); exact rational rounding for "
                   "float64 inputs (width 64), cross-checked against them; float16 float64 inputs also "
                   "agree with numpy's direct float64->float16 cast" % (ml_dtypes.__version__, np.__version__),
        "row_format": ["input bit pattern (hex, width bits)", "width", "code, plain cast", "code, saturating"],
        "formats": formats,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s (%d bytes): %s" % (OUT, os.path.getsize(OUT),
                                        ", ".join("%s %d rows" % (e["name"], len(e["encode"])) for e in formats)))


if __name__ == "__main__":
    main()
