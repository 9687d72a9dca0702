"""Shared pieces of the hostile-input corpus and fuzz test (issue 22): a stdlib safetensors reader and writer,
golden-set forging with the manifest and checksums rewritten to match, and a runner that judges one `assay` run.

A run passes when it ends by exit (no signal), within its timeout, with the expected code, and says so in one
line: an error is exactly one line on standard error, nothing else there."""

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess

DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1, "I8": 1, "BOOL": 1, "F8_E4M3": 1}


def read_st(path):
    """[(name, dtype, shape, raw bytes)] in file order, and the metadata."""
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    ordered = sorted(header.items(), key=lambda item: item[1]["data_offsets"][0])
    return [(k, v["dtype"], list(v["shape"]), data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in ordered], metadata


def write_st(path, tensors, metadata=None):
    """Writes [(name, dtype, shape, raw bytes)] in order, header padded with spaces to a multiple of 8."""
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors))


def sha(raw):
    return hashlib.sha256(raw).hexdigest()


def f32s(raw):
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def pack_f32(values):
    return struct.pack(f"<{len(values)}f", *values)


def forge_set(source, target, case="start", edit=None, manifest=None, part="taps"):
    """A copy of the golden set `source` at `target`. `edit(tensors)` returns case `case`'s `part` ("taps" or
    "inputs") as it should be (any names, dtypes, shapes, bytes; a tensor past the old ones is an added one); the
    manifest's entries of those tensors (dtype, shape, sha256, name; other fields kept from the tensor they replace)
    and the file's checksum are rewritten to match, so only the meaning is wrong. `manifest(dict)` edits the parsed
    manifest last."""
    shutil.copytree(source, target)
    m = json.load(open(os.path.join(target, "manifest.json")))
    if edit:
        entry = next(c for c in m["cases"] if c["name"] == case)[part]
        path = os.path.join(target, entry["file"])
        tensors, metadata = read_st(path)
        forged = edit(list(tensors))
        write_st(path, forged, metadata)
        listed = {t["name"]: t for t in entry["tensors"]}
        entries = []
        for index, (name, dtype, shape, raw) in enumerate(forged):
            item = dict(listed[tensors[index][0]]) if index < len(tensors) else {}
            item.update(name=name, dtype=dtype, shape=shape, sha256=sha(raw))
            entries.append(item)
        entry["tensors"] = entries
        m["files"][entry["file"]] = sha(open(path, "rb").read())
    if manifest:
        manifest(m)
    with open(os.path.join(target, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)


def edit_text(path, pattern, new):
    """Replaces the first match of the regular expression `pattern` in the file at `path` by `new` (raw manifest
    text, e.g. a number JSON cannot hold)."""
    text = open(path).read()
    edited = re.sub(pattern, new, text, count=1)
    assert edited != text, f"{pattern!r} not in {path}"
    open(path, "w").write(edited)


def replace_tensor(tensors, name, *, rename=None, dtype=None, shape=None, raw=None):
    """`tensors` with tensor `name` changed."""
    out = []
    for t in tensors:
        if t[0] == name:
            t = (rename or t[0], dtype or t[1], t[2] if shape is None else shape, t[3] if raw is None else raw)
        out.append(t)
    return out


# Commands that report progress on standard error (a line per layer into a pipe): run with --quiet, so standard
# error holds only what the corpus judges.
PROGRESS_COMMANDS = {"golden", "forward", "diff", "bench"}


def run(assay, args, cwd, timeout=120):
    """(exit code or -signal, stdout, stderr, timed out)."""
    if args and args[0] in PROGRESS_COMMANDS:
        args = args[:1] + ["--quiet"] + args[1:]
    try:
        done = subprocess.run([assay] + args, cwd=cwd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as expired:
        return None, (expired.stdout or b"").decode(errors="replace"), (expired.stderr or b"").decode(errors="replace"), True
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"), False


def judge(result, exit_code, message=None, stdout_has=None):
    """Why the run `result` is wrong, or None. `message`: standard error is exactly this one line. `stdout_has`:
    a verdict, standard output has this text and standard error holds at most one line."""
    code, out, err, timed_out = result
    if timed_out:
        return "hung (killed at the timeout)"
    if code < 0:
        return f"killed by signal {-code}"
    if code != exit_code:
        return f"exit {code}, expected {exit_code}; stderr: {err.strip()[:300]!r}"
    lines = err.splitlines()
    if message is not None and (len(lines) != 1 or lines[0] != message):
        return f"stderr {err!r}, expected {message!r}"
    if stdout_has is not None and (stdout_has not in out or len(lines) > 1):
        return f"stdout lacks {stdout_has!r} or stderr has more than one line: {out[-300:]!r} {err!r}"
    return None
