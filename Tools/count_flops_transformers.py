#!/usr/bin/env python3
"""Cross-check `assay explain`'s FLOPs against an independent count: PyTorch's FlopCounterMode on transformers.

Builds the text decoder of a preset (`Mistral4ForCausalLM` from its text_config, float32, random weights, eager
attention), runs a prefill of T tokens under torch.utils.flop_counter.FlopCounterMode, and compares with
`assay explain --preset P --tokens T --json`:
  - linears (every matmul with a weight: projections, router, routed and shared experts, lm_head) must be equal;
  - attention products: transformers multiplies the full T × T score matrix and masks it, Assay counts the T(T+1)/2
    visible pairs, so transformers' count must be Assay's × T² / (T(T+1)/2) exactly.
Run by hand, not in CI (it needs torch and transformers >= 5 with Mistral 4):

    /tmp/tf/bin/python Tools/count_flops_transformers.py --assay .build/debug/assay [--preset tiny] [--tokens 7]

Exits 1 when a figure differs, printing both sides.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import Mistral4Config, Mistral4ForCausalLM

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ROOT / "spec" / "presets"


def torch_flops(text_config: dict, tokens: int) -> tuple[int, int]:
    """(FLOPs of matmuls with a weight, FLOPs of the attention score and value matmuls) of one prefill."""
    torch.manual_seed(0)
    config = Mistral4Config(**text_config)
    config._attn_implementation = "eager"
    config._experts_implementation = "eager"   # the per-expert loop; the grouped kernels hide their matmuls
    torch.set_default_dtype(torch.bfloat16 if config.hidden_size >= 1024 else torch.float32)   # full dims: half the memory
    model = Mistral4ForCausalLM(config).eval()
    ids = torch.arange(tokens).reshape(1, tokens) * 37 % config.vocab_size
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(input_ids=ids)
    attention = 0
    for module, counts in counter.get_flop_counts().items():
        # The products without a weight are the two matmuls of each eager attention call (op aten.matmul → bmm).
        if module.endswith(".self_attn"):
            attention += sum(v for op, v in counts.items() if "bmm" in str(op))
    return counter.get_total_flops() - attention, attention


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assay", required=True)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--tokens", type=int, default=7)
    args = parser.parse_args()
    preset = json.loads((PRESETS / f"{args.preset}.json").read_text())
    text = preset.get("text_config", preset)
    report = json.loads(subprocess.run([args.assay, "explain", "--preset", args.preset, "--tokens", str(args.tokens),
                                        "--json"], check=True, capture_output=True, text=True).stdout)["prefill"]
    linears, attention = torch_flops(text, args.tokens)
    t = args.tokens
    expected_attention = 2 * report["attention_multiply_adds"] * t * t // (t * (t + 1) // 2)
    rows = [("linears", linears, 2 * report["linear_multiply_adds"]),
            ("attention products (full T×T)", attention, expected_attention)]
    ok = True
    for name, theirs, ours in rows:
        same = theirs == ours
        ok &= same
        print(f"{args.preset}, {t} tokens, {name}: transformers {theirs:,} FLOPs, assay {ours:,}: "
              + ("equal" if same else "DIFFER"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
