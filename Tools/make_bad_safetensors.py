#!/usr/bin/env python3
"""Writes the bad-input corpus for Assay's safetensors reader (Python stdlib only).

Every file (and checkpoint directory) in Tests/TensorTests/Fixtures/bad-safetensors/ breaks exactly one
rule of spec/safetensors.md. expected.json maps each name to the exact error description Assay must give;
the Swift test SafeTensorsBadInputTests opens each one and compares. The generated files are committed,
so CI never runs this script. Re-run it after changing a case, then run the Swift tests:

    python3 Tools/make_bad_safetensors.py
"""

import json
import os
import shutil
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TensorTests", "Fixtures",
                   "bad-safetensors")
INDEX = "model.safetensors.index.json"
SHARD1 = "model-00001-of-00002.safetensors"
SHARD2 = "model-00002-of-00002.safetensors"

expected = {}


def framed(header, data=b"", length=None):
    """8-byte little-endian header length + header bytes + data; `length` overrides the stated length."""
    raw = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def valid(tensors, metadata=None):
    """A well-formed file: `tensors` maps name -> (dtype, shape, bytes), laid out in the order given."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = entry(dtype, shape, len(data), len(data) + len(raw))
        data += raw
    text = json.dumps(header, separators=(",", ":"))
    return framed(text + " " * (-len(text) % 8), data)


def file_case(name, content, message):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(content)
    expected[name] = f"{name}: {message}"


def header_case(name, header, data, message):
    """A file whose header text is `header` (a str, or a dict serialized compactly) followed by `data`."""
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    file_case(name, framed(text, data), message)


def checkpoint_case(name, files, message):
    """A checkpoint directory holding `files` (name -> bytes, or a dict written as JSON); `message` is the
    full expected description (it names the index or shard itself)."""
    directory = os.path.join(OUT, name)
    os.mkdir(directory)
    for file_name, content in files.items():
        if isinstance(content, dict):
            content = json.dumps(content, indent=2).encode()
        with open(os.path.join(directory, file_name), "wb") as f:
            f.write(content)
    expected[name] = message


def index(weight_map):
    return {"metadata": {"total_size": 24}, "weight_map": weight_map}


F32x2 = struct.pack("<2f", 1.0, 2.0)
F64x2 = struct.pack("<2d", 1.0, 2.0)


def make_files():
    file_case("01-empty-file.safetensors", b"", "file is empty (0 bytes)")
    file_case("02-shorter-than-8-bytes.safetensors", b"\x08\x00\x00\x00\x00",
              "file is 5 bytes, shorter than the 8-byte header length")
    file_case("03-header-length-past-eof.safetensors", framed("{}", b"\x00" * 90, length=4096),
              "header length 4096 runs past the end of the file (100 bytes)")
    file_case("04-header-length-zero.safetensors", framed(b""),
              'header length is 0; a header holds at least "{}"')
    file_case("05-header-length-over-limit.safetensors", framed("{}", length=100_000_001),
              "header length 100000001 exceeds the limit of 100000000 bytes")
    file_case("06-header-length-max-u64.safetensors", framed("{}", length=2**64 - 1),
              "header length 18446744073709551615 exceeds the limit of 100000000 bytes")
    file_case("07-header-not-utf8.safetensors", framed(b'{"w\xff":{}}'),
              "header is not valid UTF-8 (byte 3 of the header)")
    header_case("08-json-syntax-error.safetensors", '{"w" {}}', b"",
                "header is invalid JSON at byte 5: expected ':'")
    header_case("09-json-duplicate-key.safetensors",
                '{"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"w":{}}', b"",
                'header is invalid JSON at byte 54: duplicate key "w"')
    header_case("10-header-not-object.safetensors", "[]      ", b"",
                "header must be a JSON object, found an array")
    header_case("11-entry-not-object.safetensors", {"w": "F32"}, b"",
                "tensor 'w': entry must be an object, found a string")
    header_case("12-entry-missing-key.safetensors", {"w": {"dtype": "F32", "shape": [2]}}, F32x2,
                "tensor 'w': entry lacks \"data_offsets\"")
    header_case("13-entry-extra-key.safetensors", {"w": dict(entry("F32", [2], 0, 8), offset=0)}, F32x2,
                "tensor 'w': unexpected key \"offset\" (an entry holds only dtype, shape, data_offsets)")
    all_dtypes = "F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, U8, I8, BOOL"
    header_case("14-unknown-dtype.safetensors", {"w": entry("F128", [2], 0, 8)}, F32x2,
                f"tensor 'w': dtype \"F128\" is not one Assay reads ({all_dtypes})")
    header_case("15-unsupported-dtype-i16.safetensors", {"w": entry("I16", [4], 0, 8)}, F32x2,
                f"tensor 'w': dtype \"I16\" is not one Assay reads ({all_dtypes})")
    header_case("16-dtype-not-string.safetensors", {"w": entry(4, [2], 0, 8)}, F32x2,
                "tensor 'w': dtype must be a string, found a number")
    header_case("17-shape-not-array.safetensors", {"w": entry("F32", {"rows": 2}, 0, 8)}, F32x2,
                "tensor 'w': shape must be an array of non-negative integers, found an object")
    header_case("18-shape-negative.safetensors", {"w": entry("F32", [2, -1], 0, 8)}, F32x2,
                "tensor 'w': shape[1] must be a non-negative integer, found -1")
    header_case("19-shape-fraction.safetensors", {"w": entry("F32", [2.0], 0, 8)}, F32x2,
                "tensor 'w': shape[0] must be a non-negative integer, found 2.0")
    header_case("20-shape-element-count-overflow.safetensors", {"w": entry("U8", [2**62, 4], 0, 8)}, F32x2,
                "tensor 'w': shape [4611686018427387904, 4] has more elements than Int can count")
    header_case("21-shape-byte-count-overflow.safetensors", {"w": entry("F64", [2**61], 0, 8)}, F32x2,
                "tensor 'w': shape [2305843009213693952] of F64 needs more bytes than Int can count")
    header_case("22-data-offsets-three-items.safetensors", {"w": {"dtype": "F32", "shape": [2],
                                                                 "data_offsets": [0, 4, 8]}}, F32x2,
                "tensor 'w': data_offsets must be an array of 2 non-negative integers, found 3 items")
    header_case("23-data-offsets-negative.safetensors", {"w": entry("F32", [2], -8, 0)}, F32x2,
                "tensor 'w': data_offsets[0] must be a non-negative integer, found -8")
    header_case("24-data-offsets-beyond-int.safetensors",
                '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}}', F32x2,
                "tensor 'w': data_offsets[1] must be a non-negative integer, found 99999999999999999999")
    header_case("25-data-offsets-reversed.safetensors", {"w": entry("F32", [0], 8, 0)}, F32x2,
                "tensor 'w': data_offsets [8, 0] begin after they end")
    header_case("26-byte-length-mismatch.safetensors", {"w": entry("F64", [4], 0, 12)}, b"\x00" * 12,
                "tensor 'w': data_offsets [0, 12] hold 12 bytes, but shape [4] of F64 needs 32")
    header_case("27-offsets-past-data-section.safetensors", {"w": entry("F64", [4], 0, 32)}, F64x2,
                "tensor 'w': data_offsets [0, 32] run past the end of the data section (16 bytes)")
    header_case("28-overlapping-tensors.safetensors",
                {"a": entry("F64", [2], 0, 16), "b": entry("F64", [2], 8, 24)}, F64x2 + F64x2[:8],
                "tensor 'b': data_offsets [8, 24] overlap tensor 'a' at [0, 16]")
    header_case("29-gap-between-tensors.safetensors",
                {"a": entry("F64", [2], 0, 16), "b": entry("F64", [2], 24, 40)}, F64x2 * 2 + F64x2[:8],
                "tensor 'b': data_offsets [24, 40] leave a gap: bytes [16, 24) of the data section belong to "
                "no tensor")
    header_case("30-gap-at-start.safetensors", {"a": entry("F32", [2], 8, 16)}, F32x2 * 2,
                "tensor 'a': data_offsets [8, 16] leave a gap: bytes [0, 8) of the data section belong to "
                "no tensor")
    header_case("31-trailing-bytes.safetensors", {"a": entry("F64", [2], 0, 16)}, F64x2 + F32x2,
                "data section has 8 trailing bytes [16, 24) that belong to no tensor")
    header_case("32-data-but-no-tensors.safetensors", {"__metadata__": {"format": "pt"}}, F32x2,
                "data section has 8 trailing bytes [0, 8) that belong to no tensor")
    header_case("33-metadata-not-object.safetensors", {"__metadata__": ["pt"]}, b"",
                "__metadata__ must be an object of strings, found an array")
    header_case("34-metadata-value-not-string.safetensors", {"__metadata__": {"epoch": 3}}, b"",
                "__metadata__ value of \"epoch\" must be a string, found a number")
    header_case("35-empty-tensor-name.safetensors", {"": entry("F32", [2], 0, 8)}, F32x2,
                "a tensor has an empty name")


def make_checkpoints():
    shard1 = valid({"a": ("F32", [2], F32x2)}, {"format": "pt"})
    shard2 = valid({"b": ("F64", [2], F64x2)}, {"format": "pt"})
    good_map = {"a": SHARD1, "b": SHARD2}
    checkpoint_case("index-01-malformed-json", {INDEX: b'{"weight_map": {"a": "x",}}', SHARD1: shard1},
                    f"{INDEX}: invalid JSON at byte 25: expected a string key")
    checkpoint_case("index-02-missing-weight-map", {INDEX: {"metadata": {}}, SHARD1: shard1},
                    f"{INDEX}: index lacks \"weight_map\"")
    checkpoint_case("index-03-shard-missing", {INDEX: index(good_map), SHARD1: shard1},
                    f"{INDEX}: tensor 'b': mapped to '{SHARD2}', which does not exist")
    checkpoint_case("index-04-shard-invalid", {INDEX: index(good_map), SHARD1: shard1, SHARD2: shard2[:20]},
                    f"{SHARD2}: header length {len(shard2) - 8 - 16} runs past the end of the file (20 bytes)")
    checkpoint_case("index-05-tensor-not-in-its-shard",
                    {INDEX: index({"a": SHARD1, "b": SHARD1}), SHARD1: shard1, SHARD2: shard2},
                    f"{INDEX}: tensor 'b': mapped to '{SHARD1}', which does not hold it")
    checkpoint_case("index-06-tensor-in-two-shards",
                    {INDEX: index(good_map), SHARD1: shard1,
                     SHARD2: valid({"a": ("F32", [2], F32x2), "b": ("F64", [2], F64x2)})},
                    f"{INDEX}: tensor 'a': stored in both '{SHARD1}' and '{SHARD2}'")
    checkpoint_case("index-07-tensor-missing-from-index",
                    {INDEX: index({"a": SHARD1}), SHARD1: valid({"a": ("F32", [2], F32x2),
                                                                 "extra": ("F32", [2], F32x2)})},
                    f"{INDEX}: tensor 'extra': stored in '{SHARD1}' but missing from the weight_map")
    checkpoint_case("index-08-shard-outside-directory", {INDEX: index({"a": "../" + SHARD1}), SHARD1: shard1},
                    f"{INDEX}: tensor 'a': shard \"../{SHARD1}\" is not a file name in the checkpoint directory")
    checkpoint_case("index-09-no-index-no-model", {"weights.safetensors": shard1},
                    f"index-09-no-index-no-model: holds no checkpoint: neither {INDEX} nor model.safetensors "
                    "(Hugging Face) nor consolidated*.safetensors (Mistral)")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    make_files()
    make_checkpoints()
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(expected)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
