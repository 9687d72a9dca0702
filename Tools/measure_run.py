#!/usr/bin/env python3
"""Runs a command and prints what it cost: wall time, CPU time, peak RSS and the bytes it read from disk.

    Tools/measure_run.py [--evict DIR ...] [--ids FILE --tokens N] [-- COMMAND ...]

--evict drops the page cache of every file under DIR first (fsync, then posix_fadvise DONTNEED: a cold run without
dropping the whole machine's cache); --ids writes FILE with input_ids [1, N] (I64, ids spread over the first 131072)
for `assay forward --input`. Peak RSS is wait4's ru_maxrss (what /usr/bin/time -v prints as "Maximum resident set
size"); read_bytes and rchar come from /proc/PID/io of the exited child before it is reaped (spec/checkpoints.md §8).
Standard library only.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import time


def evict(root):
    for directory, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def write_ids(path, tokens):
    ids = [(i * 7919 + 13) % 131072 for i in range(tokens)]
    header = json.dumps({"input_ids": {"dtype": "I64", "shape": [1, tokens], "data_offsets": [0, 8 * tokens]}}).encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + struct.pack("<%dq" % tokens, *ids))


def measure(command):
    start = time.monotonic()
    child = subprocess.Popen(command)
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)      # exited, not reaped: /proc/PID/io still there
    wall = time.monotonic() - start
    with open(f"/proc/{child.pid}/io") as f:
        io = dict(line.split(": ") for line in f.read().splitlines() if line)
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print(f"rc={code} wall_s={wall:.1f} user_s={usage.ru_utime:.1f} sys_s={usage.ru_stime:.1f} "
          f"peak_rss_gib={usage.ru_maxrss / 2**20:.3f} read_bytes_gib={int(io['read_bytes']) / 2**30:.3f} "
          f"rchar_gib={int(io['rchar']) / 2**30:.3f}", flush=True)
    return code


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evict", action="append", default=[], metavar="DIR")
    parser.add_argument("--ids", metavar="FILE")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.ids:
        write_ids(args.ids, args.tokens)
    for root in args.evict:
        if not os.path.isdir(root):
            sys.exit(f"measure_run.py: --evict {root}: not a directory")
        evict(root)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    sys.exit(measure(command) if command else 0)


if __name__ == "__main__":
    main()
