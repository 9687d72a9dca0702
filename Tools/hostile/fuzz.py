"""The fuzz test of issue 22: seeded mutations of golden-set manifests, golden taps (forged with their checksums)
and port dumps, each run through `assay verify` or `assay conform`. Every run must end by exit (no signal) within
its timeout and say what it found in one line at most on standard error; and the exit code must be true to the
data:
  - a mutated manifest: an error (exit 1), or, when verify accepts it (a free-text summary changed), the untouched
    golden taps still conform (exit 0);
  - a forged golden tap: exit 1 (an error naming it, or a failing verdict): a golden set never passes what it was
    not made with;
  - a mutated dump: exit 1 when the values changed (scaled, negated, NaN, shape, name, a missing or extra tap), exit
    0 when only the encoding did (F64 for F32, I32 for I64 indices), either where a verdict may go both ways (bf16
    rounding, a routing change at a near-tie, a flipped data byte)."""

import concurrent.futures
import json
import math
import os
import random
import struct

from corpus import START_TAPS, TINY
from kit import f32s, forge_set, judge, pack_f32, read_st, replace_tensor, run, write_st

EITHER = "either"


def fuzz(assay, root, mutations):
    """Runs `mutations` seeded mutations; returns (runs, failures, outcome counts)."""
    rng = random.Random(22)
    jobs = []
    makers = [manifest_job, golden_job, dump_job, raw_job]
    for number in range(mutations):
        directory = os.path.join(root, f"fuzz-{number:03d}")
        os.makedirs(directory)
        jobs.append(makers[number % len(makers)](rng, directory))
    outcomes, failures = {}, 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: (job, run(assay, job["args"], job["dir"], timeout=60)), jobs))
    for job, result in results:
        code = result[0]
        kind = "error" if code == 1 and result[2].strip() else "verdict" if code == 1 else f"exit {code}"
        outcomes[kind] = outcomes.get(kind, 0) + 1
        why = judge(result, code if job["want"] == EITHER and code in (0, 1) else job["want"])
        if why is None and job["want"] == EITHER and code not in (0, 1):
            why = f"exit {code}"
        if why is None and len(result[2].splitlines()) > 1:
            why = f"more than one line on standard error: {result[2][:300]!r}"
        if why is None and code == 0 and job.get("then"):
            why = job["then"](assay)
        if why:
            failures += 1
            print(f"FAIL fuzz {os.path.basename(job['dir'])} ({job['what']}): {why}")
    return len(jobs), failures, outcomes


def conform(goldens, candidate):
    return ["conform", "--goldens", goldens, "--candidate", candidate, "--case", "start"]


# ---- manifests ----------------------------------------------------------------------------------------------------
ODD_VALUES = [None, True, -1, 0, 2 ** 70, 0.5, "", "abc", "../x", "a\nb", [], {}, [1, 2], {"k": "v"}]


def paths(value, prefix=()):
    """Every path to a value inside the parsed manifest (the config's members included)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from paths(item, prefix + (index,))


def manifest_job(rng, directory):
    original = json.load(open(os.path.join(TINY, "manifest.json")))
    target = rng.choice([p for p in paths(original) if p])
    action = rng.choice(["delete", "replace", "replace", "duplicate"])
    odd = rng.choice(ODD_VALUES)

    def mutate(m):
        parent = m
        for key in target[:-1]:
            parent = parent[key]
        last = target[-1]
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = odd
        elif isinstance(parent, list):
            parent.append(parent[last])
        else:
            parent[str(last) + "_copy"] = parent[last]
    forge_set(TINY, os.path.join(directory, "set"), manifest=mutate)
    # A manifest verify accepts still holds the same taps: the untouched goldens conform to it.
    def untouched_conform(assay):
        code = run(assay, ["conform", "--goldens", "set", "--candidate", TINY], directory, timeout=60)[0]
        return None if code == 0 else "verify accepted the manifest, but the untouched taps do not conform to it"
    return dict(dir=directory, args=["verify", "set"], want=EITHER, what=f"manifest {action} {list(target)} {odd!r}",
                then=untouched_conform)


# ---- golden taps and dumps -----------------------------------------------------------------------------------------
def mutated(rng, tensors):
    """(tensors with one tap mutated, a description, what a dump so mutated must give: 1, 0 or EITHER)."""
    name, dtype, shape, raw = rng.choice(tensors)
    kind = rng.choice(["scale", "negate", "nan", "inf", "shape-drop", "shape-grow", "extent", "dtype", "rename",
                       "newline", "remove", "extra"])
    margin, indices = name.endswith("#margin"), name.endswith("#indices")
    what = f"{kind} of {name}"
    if kind in ("scale", "negate", "nan", "inf") and dtype == "F32":
        values = f32s(raw)
        if kind == "scale":
            values = [v * 10 + 1 for v in values]
        elif kind == "negate":
            values = [-v - 1 for v in values]
        else:
            values[rng.randrange(len(values))] = math.nan if kind == "nan" else math.inf
        return replace_tensor(tensors, name, raw=pack_f32(values)), what, EITHER if margin else 1
    if kind in ("scale", "negate", "nan", "inf"):   # integer indices: another expert (never the same one)
        ids = list(struct.unpack(f"<{len(raw) // 8}q", raw))
        slot = rng.randrange(len(ids))
        ids[slot] = (ids[slot] + 1) % 8
        return replace_tensor(tensors, name, raw=struct.pack(f"<{len(ids)}q", *ids)), what, EITHER
    size = 8 if dtype in ("I64", "F64") else 4
    if kind in ("shape-drop", "shape-grow", "extent"):
        new = shape[:-1] if kind == "shape-drop" else shape + [1] if kind == "shape-grow" else \
            shape[:-1] + [max(shape[-1] + rng.choice([-1, 1]), 0)] if shape else [2]
        count = math.prod(new)
        data = (raw + bytes(size * count))[:size * count]
        return replace_tensor(tensors, name, shape=new, raw=data), what, 0 if new == shape else 1
    if kind == "dtype":
        if dtype == "F32":
            values = f32s(raw)
            if rng.random() < 0.5:
                return replace_tensor(tensors, name, dtype="F64", raw=struct.pack(f"<{len(values)}d", *values)), \
                    what + " F64", 0
            bf16 = b"".join(struct.pack("<f", v)[2:] for v in values)
            return replace_tensor(tensors, name, dtype="BF16", raw=bf16), what + " BF16", EITHER
        ids = struct.unpack(f"<{len(raw) // 8}q", raw)
        return replace_tensor(tensors, name, dtype="I32", raw=struct.pack(f"<{len(ids)}i", *ids)), what + " I32", 0
    if kind in ("rename", "newline"):
        new = name + ("\n0 failed" if kind == "newline" else rng.choice(["x", ".0", "#logits"]))
        return replace_tensor(tensors, name, rename=new), what, 1
    if kind == "remove":
        return [t for t in tensors if t[0] != name], what, 1
    return tensors + [("extra." + name, dtype, shape, raw)], what, 1


def golden_job(rng, directory):
    """A golden tap forged with its manifest entry and checksum; the untouched taps conform against the set."""
    tensors, _ = read_st(START_TAPS)
    forged, what, _ = mutated(rng, tensors)
    if len(forged) != len(tensors):   # forge_set keeps fields by position: a removed or added tap edits a dump instead
        return dump_job(rng, directory)
    forge_set(TINY, os.path.join(directory, "set"), edit=lambda _: forged)
    # Encodings a golden set never uses (F64 in an F32 set, I32 indices) are refused, so every forgery is exit 1 —
    # except an expert id changed only in rows of an exact tie, which may name another valid choice of it.
    return dict(dir=directory, args=conform("set", START_TAPS), want=EITHER if only_at_ties(tensors, forged) else 1,
                what="golden " + what)


def only_at_ties(tensors, forged):
    """Whether `forged` changes a router #indices tap's values only in rows whose golden #margin is 0 (an exact tie:
    any k of the tied experts is a valid choice, spec/router.md "Ties")."""
    original = {t[0]: t for t in tensors}
    for name, dtype, shape, raw in forged:
        before = original.get(name)
        if not name.endswith("#indices") or before is None or raw == before[3]:
            continue
        if dtype != "I64" or shape != before[2]:
            return False
        k, old, new = shape[1], struct.unpack(f"<{len(raw) // 8}q", before[3]), struct.unpack(f"<{len(raw) // 8}q", raw)
        margins = f32s(original[name[: -len("#indices")] + "#margin"][3])
        return all(margins[i // k] == 0 for i in range(len(old)) if old[i] != new[i])
    return False


def dump_job(rng, directory):
    tensors, metadata = read_st(START_TAPS)
    dumped, what, want = mutated(rng, tensors)
    write_st(os.path.join(directory, "dump.safetensors"), dumped, metadata)
    return dict(dir=directory, args=conform(TINY, "dump.safetensors"), want=want, what="dump " + what)


def raw_job(rng, directory):
    """A dump's bytes changed: truncated, extended, or one byte flipped in its header or data."""
    blob = bytearray(open(START_TAPS, "rb").read())
    header = 8 + struct.unpack("<Q", bytes(blob[:8]))[0]
    kind = rng.choice(["truncate", "extend", "flip-header", "flip-data", "flip-length"])
    want = 1
    if kind == "truncate":
        blob = blob[:rng.randrange(len(blob))]
    elif kind == "extend":
        blob += bytes(rng.randrange(1, 64))
    elif kind == "flip-header":
        blob[rng.randrange(8, header)] ^= 1 << rng.randrange(8)
        want = EITHER   # a flipped name character may still name a tap, a flipped digit may still fit
    elif kind == "flip-data":
        blob[rng.randrange(header, len(blob))] ^= 1 << rng.randrange(8)
        want = EITHER   # a low mantissa bit is within the limits
    else:
        blob[rng.randrange(8)] ^= 1 << rng.randrange(8)
    open(os.path.join(directory, "dump.safetensors"), "wb").write(bytes(blob))
    return dict(dir=directory, args=conform(TINY, "dump.safetensors"), want=want, what="raw " + kind)
