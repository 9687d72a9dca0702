#!/usr/bin/env python3
"""Writes the Python-written safetensors fixture that Assay's Swift tests read (needs `safetensors`, `numpy`).

Output, committed so CI checks the Python -> Assay direction without Python:
  Tests/TensorTests/Fixtures/interop/python-written.safetensors  every dtype Assay reads, written by
      Python `safetensors.serialize` (the Rust library's layout), metadata {"format": "pt"}
  Tests/TensorTests/Fixtures/interop/python-written.json  the expected dtype, shape and values of each
      tensor, decoded here independently of Assay (floats as numbers, or "nan" / "inf" / "-inf")

The Swift test decodes every tensor and re-serializes the file with SafeTensorsWriter, which must give the
same bytes. Metadata has one key because the Rust library writes metadata keys in random hash-map order.
Tools/safetensors_interop.py reuses `tensors_with_every_dtype` and `serialize` from here.

    pip install safetensors numpy && python3 Tools/make_interop_fixture.py
"""

import json
import math
import os
import struct

import numpy as np
import safetensors

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TensorTests", "Fixtures", "interop")


def decode_minifloat(code, exponent_bits, mantissa_bits, ieee_specials):
    """An 8-bit float code as a Python float. E4M3FN (ieee_specials False) has no infinities and one NaN
    pattern per sign (all exponent and mantissa bits set); E5M2 follows IEEE 754."""
    sign = -1.0 if code & 0x80 else 1.0
    exponent = (code >> mantissa_bits) & ((1 << exponent_bits) - 1)
    mantissa = code & ((1 << mantissa_bits) - 1)
    bias = (1 << (exponent_bits - 1)) - 1
    top = (1 << exponent_bits) - 1
    if ieee_specials and exponent == top:
        return sign * math.inf if mantissa == 0 else math.nan
    if not ieee_specials and exponent == top and mantissa == (1 << mantissa_bits) - 1:
        return math.nan
    if exponent == 0:
        return sign * mantissa * 2.0 ** (1 - bias - mantissa_bits)
    return sign * (1 + mantissa / (1 << mantissa_bits)) * 2.0 ** (exponent - bias)


# dtype -> (name Python safetensors takes, numpy storage type, decoder of one stored element or None)
DTYPES = {
    "F64": ("float64", np.float64, float),
    "F32": ("float32", np.float32, float),
    "F16": ("float16", np.uint16, lambda bits: struct.unpack("<e", struct.pack("<H", bits))[0]),
    "BF16": ("bfloat16", np.uint16, lambda bits: struct.unpack("<f", struct.pack("<I", bits << 16))[0]),
    "F8_E4M3": ("float8_e4m3fn", np.uint8, lambda code: decode_minifloat(code, 4, 3, False)),
    "F8_E5M2": ("float8_e5m2", np.uint8, lambda code: decode_minifloat(code, 5, 2, True)),
    "I64": ("int64", np.int64, None),
    "I32": ("int32", np.int32, None),
    "U8": ("uint8", np.uint8, None),
    "I8": ("int8", np.int8, None),
    "BOOL": ("bool", np.bool_, None),
}


def tensors_with_every_dtype():
    """name -> (dtype, numpy array of the stored elements; F16/BF16/F8 as their bit patterns)."""
    inf, nan = math.inf, math.nan
    return {
        "model.f64": ("F64", np.array([[0.0, -0.0, 1.5], [5e-324, 1.7976931348623157e308, math.pi]])),
        "model.f64.special": ("F64", np.array([nan, inf, -inf])),
        "model.f32": ("F32", np.array([1.0, -3.5, 1.1754943508222875e-38, 3.4028234663852886e38, inf],
                                      dtype=np.float32)),
        "model.f32.scalar": ("F32", np.array(0.5, dtype=np.float32)),
        "model.f32.empty": ("F32", np.zeros((0, 3), dtype=np.float32)),
        "a.f32.sorts.first": ("F32", np.array([2.0], dtype=np.float32)),
        "\u00fcn\u00efcode.f32": ("F32", np.array([-1.0], dtype=np.float32)),
        "model.f16": ("F16", np.array([0x3C00, 0xC000, 0x0001, 0x7BFF, 0x7C00, 0xFE00], dtype=np.uint16)),
        "model.bf16": ("BF16", np.array([[0x3F80, 0xC040, 0x0001], [0x7F7F, 0xFF80, 0x7FC0]], dtype=np.uint16)),
        "model.f8_e4m3": ("F8_E4M3", np.array([0x00, 0x38, 0x01, 0x7E, 0xFE, 0x7F, 0x80], dtype=np.uint8)),
        "model.f8_e5m2": ("F8_E5M2", np.array([0x3C, 0x01, 0x7B, 0x7C, 0xFC, 0x7F], dtype=np.uint8)),
        "model.i64": ("I64", np.array([-2**63, 2**63 - 1, 2**53, -7], dtype=np.int64)),
        "model.i32": ("I32", np.array([-2**31, 2**31 - 1, 0], dtype=np.int32)),
        "model.u8": ("U8", np.array([0, 255, 7], dtype=np.uint8)),
        "model.i8": ("I8", np.array([-128, 127, -1], dtype=np.int8)),
        "model.bool": ("BOOL", np.array([True, False, True])),
    }


def serialize(tensors, metadata):
    """The file Python safetensors writes for `tensors` (as from tensors_with_every_dtype)."""
    arrays = {name: np.array(array, dtype=DTYPES[dtype][1], order="C") for name, (dtype, array) in tensors.items()}
    if hasattr(safetensors, "TensorSpec"):  # safetensors >= 0.8 takes pointers
        specs = {name: safetensors.TensorSpec(dtype=DTYPES[tensors[name][0]][0], shape=list(a.shape),
                                              data_ptr=a.ctypes.data, data_len=a.nbytes)
                 for name, a in arrays.items()}
    else:
        specs = {name: {"dtype": DTYPES[tensors[name][0]][0], "shape": list(a.shape), "data": a.tobytes()}
                 for name, a in arrays.items()}
    return bytes(safetensors.serialize(specs, metadata=metadata))


def json_number(x):
    """A float for JSON: NaN and infinities as strings, everything else as the shortest round-trip repr."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def expected_values(dtype, array):
    decode = DTYPES[dtype][2]
    flat = array.reshape(-1).tolist()
    if decode is None:
        return [int(v) for v in flat]
    return [json_number(decode(v)) for v in flat]


def main():
    os.makedirs(OUT, exist_ok=True)
    metadata = {"format": "pt"}
    tensors = tensors_with_every_dtype()
    with open(os.path.join(OUT, "python-written.safetensors"), "wb") as f:
        f.write(serialize(tensors, metadata))
    expected = {
        "written_by": f"safetensors {safetensors.__version__}",
        "metadata": metadata,
        "tensors": {name: {"dtype": dtype, "shape": list(array.shape), "values": expected_values(dtype, array)}
                    for name, (dtype, array) in sorted(tensors.items())},
    }
    with open(os.path.join(OUT, "python-written.json"), "w") as f:
        json.dump(expected, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
