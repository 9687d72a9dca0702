#!/usr/bin/env python3
"""Cross-check Assay's tensor inventory and parameter counts against transformers.

For every preset in spec/presets, plus variants of `tiny` that take the inventory's other branches (tied
embeddings, attention and projector biases, no q LoRA, a bare mistral4 text model), this builds the model with
transformers on the meta device (no memory is allocated, so `full` works) and compares, exactly and in order,
its `named_parameters()` (name, shape) with `assay params --json --tensors`, then the totals.

Run by hand, not in CI (it needs torch and a transformers with Mistral 4, >= 5.x):

    python3 -m venv /tmp/tf && /tmp/tf/bin/pip install torch transformers
    swift build --product assay
    /tmp/tf/bin/python Tools/count_params_transformers.py --assay .build/debug/assay

Exits 1 on the first mismatch, printing both sides.
"""

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from transformers import Mistral3Config, Mistral3ForConditionalGeneration, Mistral4Config, Mistral4ForCausalLM

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ROOT / "spec" / "presets"


def transformers_inventory(config: dict) -> list[tuple[str, list[int]]]:
    """(name, shape) of every parameter, in named_parameters() order, built on the meta device."""
    with torch.device("meta"):
        if config["model_type"] == "mistral3":
            model = Mistral3ForConditionalGeneration(Mistral3Config(**copy.deepcopy(config)))
        else:
            model = Mistral4ForCausalLM(Mistral4Config(**copy.deepcopy(config)))
    return [(name, list(p.shape)) for name, p in model.named_parameters()]


def assay_report(assay: str, args: list[str]) -> dict:
    out = subprocess.run([assay, "params", *args, "--json", "--tensors"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def variants(tiny: dict) -> dict[str, dict]:
    """Configs that take the inventory branches the presets do not."""
    tied = copy.deepcopy(tiny)
    tied["tie_word_embeddings"] = True
    tied["text_config"]["tie_word_embeddings"] = True
    biased = copy.deepcopy(tiny)
    biased["text_config"]["attention_bias"] = True
    biased["multimodal_projector_bias"] = True
    plain_q = copy.deepcopy(tiny)
    plain_q["text_config"]["q_lora_rank"] = None
    bare = copy.deepcopy(tiny["text_config"])
    return {"tiny-tied": tied, "tiny-biased": biased, "tiny-plain-q": plain_q, "tiny-bare-mistral4": bare}


def compare(label: str, expected: list[tuple[str, list[int]]], report: dict) -> bool:
    got = [(t["name"], t["shape"]) for t in report["tensors"]]
    total = sum(torch.Size(shape).numel() for _, shape in expected)
    if got != expected:
        for i, (a, b) in enumerate(zip(expected, got)):
            if a != b:
                print(f"{label}: tensor {i} differs: transformers {a}, assay {b}")
                break
        else:
            print(f"{label}: transformers lists {len(expected)} tensors, assay {len(got)}")
        return False
    if report["total_parameters"] != total:
        print(f"{label}: total differs: transformers {total}, assay {report['total_parameters']}")
        return False
    print(f"{label}: {len(got)} tensors, {total:,} parameters: identical")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assay", default=str(ROOT / ".build" / "debug" / "assay"), help="the assay executable")
    args = parser.parse_args()

    ok = True
    for path in sorted(PRESETS.glob("*.json")):
        config = json.loads(path.read_text())
        ok &= compare(path.stem, transformers_inventory(config), assay_report(args.assay, ["--preset", path.stem]))

    tiny = json.loads((PRESETS / "tiny.json").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        for label, config in variants(tiny).items():
            file = Path(scratch) / f"{label}.config.json"
            file.write_text(json.dumps(config))
            report = assay_report(args.assay, ["--config", str(file)])
            ok &= compare(label, transformers_inventory(config), report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
