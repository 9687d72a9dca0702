#!/usr/bin/env python3
"""A port's taps against an Assay golden set: the verdict of `assay conform`, with only numpy and safetensors.

Same protocol (spec/conformance.md), same limits (spec/tolerances.json), same rules: padding rows left out of
text taps; NMSE <= the class limit of the candidate's precision and no NaN (nor an Inf the golden lacks); routing
weights compared in expert-id order; expert sets compared as sets, a changed set accepted only where the golden
#margin is below the precision's router margin (a margin of 0 is an exact tie the spec breaks: no swap); #margin
not compared; a NaN or Inf fails even in a padding row; a missing, extra or misshapen tap is an error (exit 1),
never a PASS. A tap's class comes from its name (Tools/tap_classes.py, spec/goldens.md §4): a manifest that gives
another class is refused, as `assay verify` refuses it.

Usage:
    python3 Tools/conform.py --goldens goldens/tiny --candidate DUMPDIR [--case NAME] [--precision f32|f64]

DUMPDIR holds <case>.taps.safetensors for every case (or pass one file with --case). Exit 0 when every tap
passes, 1 otherwise. The manifest's sha256s are not checked here; `assay verify` does that.
"""

import argparse
import json
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


def compare_case(goldens: Path, case: dict, candidate_path: Path, nmse_limits: dict, margin_limit: float) -> list:
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
            margins = golden[name[: -len("#indices")] + "#margin"]
            bad, swaps = [], []
            for row in range(b.shape[0]):
                if rows is not None and not rows[row]:
                    continue
                if set(a[row].tolist()) != set(b[row].tolist()):
                    (swaps if 0 < margins[row] < margin_limit else bad).append(row)
            note = (f"{len(bad)} token(s) routed elsewhere; first row {bad[0]}" if bad
                    else f"{len(swaps)} near-tie swap(s) accepted" if swaps else "")
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
            verdicts += compare_case(args.goldens, case, path, nmse_limits, margin_limit)
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
