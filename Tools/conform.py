#!/usr/bin/env python3
"""A port's taps against an Assay golden set: the verdict of `assay conform`, with only numpy and safetensors.

Same protocol (spec/conformance.md), same limits (spec/tolerances.json), same rules: padding rows left out of
text taps; NMSE <= the class limit of the candidate's precision and no NaN (nor an Inf the golden lacks); routing
weights compared in expert-id order; expert sets compared as sets, a changed set accepted where the golden #margin
is 0 and it is k distinct experts holding those above the tie and the rest from the tied ones (an exact tie:
spec/router.md "Ties", from the golden logits), or where the margin is below the precision's router margin and one
expert is swapped (a near-tie); another group at a group tie fails; #margin not compared; a NaN or Inf fails even in a padding row; a missing, extra or misshapen tap is an error (exit 1),
never a PASS. A tap's class comes from its name (Tools/tap_classes.py, spec/goldens.md §4): a manifest that gives
another class is refused, as `assay verify` refuses it.

Usage:
    python3 Tools/conform.py --goldens goldens/tiny --candidate DUMPDIR [--case NAME] [--precision f32|f64]

DUMPDIR holds <case>.taps.safetensors for every case (or pass one file with --case). Exit 0 when every tap
passes, 1 otherwise. The manifest's sha256s are not checked here; `assay verify` does that.
"""

import argparse
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tap_classes import tolerance_class  # noqa: E402

TOLERANCES = Path(__file__).resolve().parent.parent / "spec" / "tolerances.json"


class Refused(Exception):
    """Something that prevents a comparison: printed as one line, exit 1."""


def limits(precision: str) -> tuple[dict, float, float, float | None]:
    document = json.loads(TOLERANCES.read_text())
    row = document["precisions"].get(precision)
    if row is None:
        raise Refused(f"tolerances.json: precision {precision} has no limits")
    if row.get("isolated_only"):
        raise Refused(f"tolerances.json: precision {precision}'s limits are for isolated runs (assay diff --mode "
                      "isolated); a port's dump is chained, where one bf16 routing swap moves every later tap")
    return ({"default": row["nmse"], **row.get("class_nmse", {})}, row["router_margin"], document["relative_floor"],
            row.get("nmse_against_f64_taps"))


def counted_rows(name: str, shape: tuple, mask: np.ndarray) -> np.ndarray | None:
    """The token rows of a text tap that count (attention_mask 1), or None when every row counts."""
    if name.startswith(("model.vision_tower", "model.multi_modal_projector")):
        return None
    rows = shape[0] * shape[1] if len(shape) > 2 else shape[0]
    return mask if rows == mask.size else None


def by_expert(weights: np.ndarray, indices: np.ndarray) -> np.ndarray:
    return np.take_along_axis(weights, np.argsort(indices, axis=-1, kind="stable"), axis=-1)


def bf16(x: float) -> float:
    """x (a float32 value) rounded to bfloat16, nearest even."""
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def tie_choices(logits: list, text: dict, profile: str) -> tuple[set, set]:
    """spec/router.md eq. 2–5 on one token's logits: the experts a valid choice must hold (π̂ above the k-th
    largest) and those it may fill the rest from (π̂ equal to the k-th largest, in a kept group); the hf-* profiles
    round as transformers in bf16 does (spec/router.md, Precision)."""
    rounded = profile.startswith("hf-")
    top = max(logits)
    exponentials = [f32(math.exp(z - top)) if rounded else math.exp(z - top) for z in logits]
    total = sum(exponentials)
    probabilities = [bf16(f32(e / f32(total))) if rounded else e / total for e in exponentials]
    groups, k = text.get("n_group", 1), text["num_experts_per_tok"]
    size = len(logits) // groups
    scores = [sum(sorted(probabilities[g * size:(g + 1) * size], reverse=True)[:2]) for g in range(groups)]
    scores = [bf16(s) if rounded else s for s in scores]
    kept = sorted(range(groups), key=lambda g: (-scores[g], g))[: text.get("topk_group", 1)]
    candidates = [p if e // size in kept else 0.0 for e, p in enumerate(probabilities)]
    kth = sorted(candidates, reverse=True)[k - 1]
    above = {e for e, p in enumerate(candidates) if p > kth}
    return above, {e for e, p in enumerate(candidates) if p == kth and e // size in kept}


def routing_verdict(name: str, a, b, golden: dict, rows, margin_limit: float, text: dict, profile: str) -> tuple:
    """The rows routed elsewhere and the accepted tie choices and near-tie swaps of one #indices tap."""
    margins, logits = golden[name[: -len("#indices")] + "#margin"], golden[name[: -len("#indices")] + "#logits"]
    bad, ties, swaps = [], [], []
    k = b.shape[1]
    for row in range(b.shape[0]):
        x, y = set(a[row].tolist()), set(b[row].tolist())
        if (rows is not None and not rows[row]) or x == y:
            continue
        if margins[row] == 0 and len(x) == len(y) == k:
            above, tied = tie_choices(logits[row].astype(np.float64).tolist(), text, profile)
            if above <= x <= above | tied and above <= y <= above | tied:   # the golden's own choice is one too
                ties.append(row)
                continue
        elif 0 < margins[row] < margin_limit and len(x) == k and len(x & y) == k - 1:
            swaps.append(row)
            continue
        bad.append(row)
    return bad, ties, swaps


def compare_case(goldens: Path, case: dict, candidate_path: Path, nmse_limits: dict, margin_limit: float,
                 manifest: dict) -> list:
    if not candidate_path.is_file():
        raise Refused(f"{candidate_path.name}: missing (case '{case['name']}')")
    golden = load_file(str(goldens / case["taps"]["file"]))
    candidate = load_file(str(candidate_path))
    mask = load_file(str(goldens / case["inputs"]["file"]))["attention_mask"].reshape(-1) == 1
    names = [t["name"] for t in case["taps"]["tensors"]]
    for name in candidate:
        if name not in names:
            raise Refused(f"{candidate_path.name}: tensor '{name}': not a tap of case '{case['name']}'")
    verdicts = []
    for entry in case["taps"]["tensors"]:
        name, kind = entry["name"], tolerance_class(entry["name"])
        if kind is None or kind != entry.get("tolerance_class"):
            raise Refused(f"manifest.json: tensor '{name}': tolerance_class {entry.get('tolerance_class')!r}; the spec "
                          f"gives this tap {kind!r} (spec/taps.md)")
        if name not in candidate:
            raise Refused(f"{candidate_path.name}: tensor '{name}': missing: case '{case['name']}' has this tap")
        a, b = candidate[name], golden[name]
        if a.shape != b.shape:
            raise Refused(f"{candidate_path.name}: tensor '{name}': shape {list(a.shape)}, the golden's is {list(b.shape)}")
        if kind == "margin":
            continue
        rows = counted_rows(name, b.shape, mask)
        if kind == "router_indices":
            if not np.issubdtype(a.dtype, np.integer):
                raise Refused(f"{candidate_path.name}: tensor '{name}': router indices must be integers, not {a.dtype}")
            bad, ties, swaps = routing_verdict(name, a, b, golden, rows, margin_limit,
                                               manifest["config"]["text_config"], manifest["profile"])
            note = (f"{len(bad)} token(s) routed elsewhere; first row {bad[0]}" if bad
                    else "; ".join(([f"{len(ties)} exact-tie choice(s) accepted"] if ties else [])
                                   + ([f"{len(swaps)} near-tie swap(s) accepted"] if swaps else [])))
            verdicts.append((case["name"], name, list(b.shape), "sets", None, not bad, note))
            continue
        if not np.issubdtype(a.dtype, np.floating):
            raise Refused(f"{candidate_path.name}: tensor '{name}': dtype {a.dtype}; a real-valued tap needs a float dtype")
        shape = list(b.shape)
        a, b = a.astype(np.float64), b.astype(np.float64)
        if name.endswith("#weights"):
            indices = name[: -len("#weights")] + "#indices"
            a, b = by_expert(a, candidate[indices]), by_expert(b, golden[indices])
        if not np.isfinite(b).all():
            raise Refused(f"{case['taps']['file']}: tensor '{name}': golden values are finite; this one is not")
        padding_finite = True
        if rows is not None:
            a = a.reshape(rows.size, -1).copy()
            b = b.reshape(rows.size, -1).copy()
            padding_finite = bool(np.isfinite(a[~rows]).all())   # not compared, but a NaN never passes
            a[~rows], b[~rows] = 0, 0
        finite = padding_finite and not np.isnan(a).any() and np.isinf(a).sum() == np.isinf(b).sum()
        with np.errstate(invalid="ignore", over="ignore"):
            reference = float((b ** 2).sum())
            error = float(((a - b) ** 2).sum())
        nmse = error / reference if reference > 0 else (0.0 if error == 0 else float("inf"))
        limit = nmse_limits.get(kind, nmse_limits["default"])
        note = "" if finite else "NaN or Inf"
        if kind == "logits" and rows is not None:
            top1 = int((a[rows].argmax(-1) == b[rows].argmax(-1)).sum())
            note = f"top-1 {top1}/{int(rows.sum())}"
        verdicts.append((case["name"], name, shape, f"{nmse:.2e}", limit, finite and nmse <= limit, note))
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--goldens", type=Path, required=True)
    parser.add_argument("--candidate", type=Path, required=True)
    parser.add_argument("--case", help="compare this case only")
    parser.add_argument("--precision", choices=["f64", "f32", "bf16"], default="f32")
    args = parser.parse_args()
    try:
        manifest = json.loads((args.goldens / "manifest.json").read_text())
        if manifest.get("format") != "assay-golden" or manifest.get("format_version") != 1:
            raise Refused("manifest.json: not an Assay golden set of format_version 1")
        nmse_limits, margin_limit, _, against_f64 = limits(args.precision)
        if manifest.get("tap_dtype") == "F64" and against_f64 is not None:   # float64 storage costs nothing
            nmse_limits = {kind: min(limit, against_f64) for kind, limit in nmse_limits.items()}
        cases = [c for c in manifest["cases"] if args.case in (None, c["name"])]
        if not cases:
            raise Refused(f"manifest.json: no case '{args.case}'")
        if args.candidate.is_file() and len(cases) > 1:
            raise Refused(f"{args.candidate.name}: one file for {len(cases)} cases: name its case with --case")
        verdicts = []
        for case in cases:
            path = args.candidate if args.candidate.is_file() else args.candidate / case["taps"]["file"]
            verdicts += compare_case(args.goldens, case, path, nmse_limits, margin_limit, manifest)
    except Refused as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    for case, name, shape, nmse, limit, passed, note in verdicts:
        print(f"{case:8s} {name:60s} {str(shape):16s} {nmse:>10s} {'' if limit is None else f'{limit:.1e}':>9s}  "
              f"{'PASS' if passed else 'FAIL'}  {note}")
    failed = [v for v in verdicts if not v[5]]
    print(f"{len(verdicts)} taps compared, {len(failed)} failed (precision {args.precision})")
    if failed:
        print(f"first failure: case {failed[0][0]}, tap {failed[0][1]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
