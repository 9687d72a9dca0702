#!/usr/bin/env python3
"""Checks Assay's safetensors reader and writer against Python `safetensors`, both directions.

Python writes files with every dtype Assay reads; `assay inspect --json` must list them exactly, and
`assay canonicalize` must write files Python loads back to the same tensors and metadata, byte-identical
to Python's own file when the metadata has at most one key (the Rust library orders several keys at
random). Prints one PASS/FAIL line per check and exits 1 if any failed.

    pip install safetensors numpy
    swift build && python3 Tools/safetensors_interop.py [path/to/assay]   (default .build/debug/assay)
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import safetensors
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_interop_fixture import DTYPES, serialize, tensors_with_every_dtype  # noqa: E402

failures = 0


def check(name, ok, detail=""):
    global failures
    failures += 0 if ok else 1
    print(f"{'PASS' if ok else 'FAIL'} {name}" + ("" if ok or not detail else f": {detail}"))


def assay(binary, *arguments):
    return subprocess.run([binary, *arguments], capture_output=True, text=True)


def loaded(path):
    """name -> (dtype, shape, bytes) as Python safetensors reads the file."""
    with open(path, "rb") as f:
        return {name: (t["dtype"], list(t["shape"]), bytes(t["data"])) for name, t in safetensors.deserialize(f.read())}


def metadata_of(path):
    with safe_open(path, framework="numpy") as f:
        return f.metadata() or {}


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/assay"
    if not os.path.exists(binary):
        sys.exit(f"no assay binary at {binary}; run `swift build` first or pass its path")
    print(f"python safetensors {safetensors.__version__}, assay {binary}")
    tensors = tensors_with_every_dtype()
    metadata = {"format": "pt", "producer": "safetensors_interop.py", "note": "\u00e9 \"quoted\"\n"}

    with tempfile.TemporaryDirectory() as work:
        python_file = os.path.join(work, "python.safetensors")
        with open(python_file, "wb") as f:
            f.write(serialize(tensors, metadata))
        expected = loaded(python_file)

        # Python -> Assay: inspect lists every tensor with Python's dtype, shape and offsets.
        result = assay(binary, "inspect", "--json", python_file)
        check("assay inspect --json exits 0 on a Python-written file", result.returncode == 0, result.stderr.strip())
        listing = json.loads(result.stdout) if result.returncode == 0 else {"tensors": [], "metadata": {}}
        listed = {t["name"]: (t["dtype"], t["shape"]) for t in listing["tensors"]}
        check("inspect lists every tensor with its dtype and shape",
              listed == {name: (dtype, shape) for name, (dtype, shape, _) in expected.items()}, str(listed))
        check("inspect reports the metadata", listing["metadata"] == metadata, str(listing["metadata"]))

        # Assay -> Python: the canonical file loads back to the same tensors and metadata.
        canonical = os.path.join(work, "canonical.safetensors")
        result = assay(binary, "canonicalize", python_file, canonical)
        check("assay canonicalize exits 0", result.returncode == 0, result.stderr.strip())
        written = loaded(canonical) if result.returncode == 0 else {}
        for name in sorted(expected):
            check(f"tensor {name!r} ({expected[name][0]}) reads back equal in Python",
                  written.get(name) == expected[name], f"{written.get(name)} != {expected[name]}")
        check("no extra tensors in Assay's file", set(written) == set(expected), str(set(written) ^ set(expected)))
        check("metadata reads back equal in Python", metadata_of(canonical) == metadata, str(metadata_of(canonical)))

        # numpy has no BF16 or FP8; the other dtypes load as arrays whose type, shape and bits must match.
        numpy_names = [n for n, (dtype, _) in tensors.items() if dtype not in ("BF16", "F8_E4M3", "F8_E5M2")]
        with safe_open(canonical, framework="numpy") as f:
            arrays = {n: f.get_tensor(n) for n in numpy_names}
        wrong = [n for n in numpy_names
                 if arrays[n].dtype.name != DTYPES[tensors[n][0]][0] or arrays[n].shape != tensors[n][1].shape
                 or arrays[n].tobytes() != np.array(tensors[n][1], dtype=DTYPES[tensors[n][0]][1]).tobytes()]
        check(f"safetensors.numpy loads the {len(numpy_names)} numpy-typed tensors equal", not wrong, str(wrong))

        again = os.path.join(work, "again.safetensors")
        assay(binary, "canonicalize", canonical, again)
        check("canonicalizing twice gives the same bytes", open(again, "rb").read() == open(canonical, "rb").read())

        # Byte identity with Python's writer (metadata of at most one key, see the module doc).
        for label, single in (("no metadata", None), ("one metadata key", {"format": "pt"})):
            reference = os.path.join(work, "reference.safetensors")
            with open(reference, "wb") as f:
                f.write(serialize(tensors, single))
            ours = os.path.join(work, "ours.safetensors")
            assay(binary, "canonicalize", reference, ours)
            check(f"Assay's layout is byte-identical to Python's ({label})",
                  open(ours, "rb").read() == open(reference, "rb").read())

        # A sharded checkpoint written by Python, with a Hugging Face index.
        checkpoint = os.path.join(work, "checkpoint")
        os.mkdir(checkpoint)
        names = sorted(tensors)
        halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
        for shard, members in halves.items():
            with open(os.path.join(checkpoint, shard), "wb") as f:
                f.write(serialize({n: tensors[n] for n in members}, {"format": "pt"}))
        index = {"metadata": {"total_size": sum(len(v[2]) for v in expected.values())},
                 "weight_map": {n: shard for shard, members in halves.items() for n in members}}
        with open(os.path.join(checkpoint, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)
        result = assay(binary, "inspect", "--json", checkpoint)
        check("assay inspect --json exits 0 on a sharded checkpoint", result.returncode == 0, result.stderr.strip())
        shards = json.loads(result.stdout)["shards"] if result.returncode == 0 else []
        located = {t["name"]: s["file"] for s in shards for t in s["tensors"]}
        check("inspect places every tensor in the shard the index names", located == index["weight_map"])

        # A truncated file: one line on stderr, exit status 1.
        truncated = os.path.join(work, "truncated.safetensors")
        with open(truncated, "wb") as f:
            f.write(open(python_file, "rb").read()[:100])
        result = assay(binary, "inspect", truncated)
        lines = result.stderr.strip().splitlines()
        check("a truncated file fails with exit 1 and one error line",
              result.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error: truncated.safetensors: "),
              f"{result.returncode} {lines}")

    print(f"{'FAIL' if failures else 'PASS'}: {failures} check(s) failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
