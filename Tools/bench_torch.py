#!/usr/bin/env python3
"""The PyTorch eager baseline for `assay bench`: one Mistral Small 4 MoE decoder layer of transformers
(Mistral4DecoderLayer, float32, eager attention, eager experts), with the shapes of an Assay preset, timed for a
prefill of N tokens and for one decode step over a latent cache of C tokens, on T threads.

Usage (torch + transformers >= 5; run by hand, CI needs none of it):
    /tmp/tfenv/bin/python Tools/bench_torch.py --preset full-shape-L1 --tokens 32 512 --context 4096 --threads 2 \
        [--assay .build/release/assay --backend blas] [--json]

With --assay, the same runs of `assay bench --backend B --json` are made first and each line prints the ratio
(PyTorch seconds / Assay seconds: above 1 means Assay is faster). Weights are random normals (std 0.02); the
router's weights are the same distribution, so tokens spread over experts as in a real layer. Memory: the
full-shape-L1 MoE layer holds 3.2 B float32 parameters (12.9 GB).
"""
import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import torch
from transformers.cache_utils import DynamicCache
from transformers.models.mistral4 import modeling_mistral4 as m4
from transformers.models.mistral4.configuration_mistral4 import Mistral4Config

PRESETS = Path(__file__).resolve().parent.parent / "spec" / "presets"


def layer_for(preset: str):
    document = json.loads((PRESETS / f"{preset}.json").read_text())
    text = document.get("text_config", document)
    config = Mistral4Config(**{k: v for k, v in text.items() if k != "model_type"})
    config._attn_implementation = "eager"
    config._experts_implementation = "eager"
    torch.manual_seed(0)
    index = config.first_k_dense_replace   # the first MoE layer
    layer = m4.Mistral4DecoderLayer(config, layer_idx=index).float().eval()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.normal_(0.0, 0.02)
        for name, parameter in layer.named_parameters():
            if "layernorm" in name:
                parameter.fill_(1.0)
    return config, layer, m4.Mistral4RotaryEmbedding(config), index


def causal_mask(queries: int, keys: int) -> torch.Tensor:
    """[1, 1, queries, keys]: 0 where query i (the last `queries` of `keys` positions) sees key j, else -inf."""
    i = torch.arange(queries).unsqueeze(1) + (keys - queries)
    j = torch.arange(keys).unsqueeze(0)
    return torch.where(j <= i, 0.0, float("-inf")).view(1, 1, queries, keys)


def timed(run, repeats: int) -> float:
    run()   # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def prefill_seconds(config, layer, rotary, tokens: int, repeats: int) -> float:
    hidden = torch.randn(1, tokens, config.hidden_size) * 0.5
    positions = torch.arange(tokens).unsqueeze(0)
    embeddings = rotary(hidden, positions)
    mask = causal_mask(tokens, tokens)
    with torch.no_grad():
        return timed(lambda: layer(hidden, attention_mask=mask, position_ids=positions,
                                   position_embeddings=embeddings), repeats)


def decode_seconds(config, layer, rotary, index: int, context: int, repeats: int) -> float:
    """One token at position `context` over a latent cache of `context` random rows (what transformers caches
    for MLA: the normed latent and the rotated key)."""
    cache = DynamicCache(config=config)
    cache.update(torch.randn(1, 1, context, config.kv_lora_rank), torch.randn(1, 1, context, config.qk_rope_head_dim),
                 index)
    hidden = torch.randn(1, 1, config.hidden_size) * 0.5
    positions = torch.tensor([[context]])
    embeddings = rotary(hidden, positions)
    mask = causal_mask(1, context + 1)

    def step():
        layer(hidden, attention_mask=mask, position_ids=positions, position_embeddings=embeddings,
              past_key_values=cache, use_cache=True)
        cache.crop(-1)   # drop the row the step appended

    with torch.no_grad():
        return timed(step, repeats)


def assay_figures(args) -> dict:
    command = [args.assay, "bench", "--backend", args.backend, "--preset", args.preset, "--threads",
               str(args.threads), "--context", str(args.context), "--json", "--tokens"] + [str(t) for t in args.tokens]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="full-shape-L1")
    parser.add_argument("--tokens", type=int, nargs="+", default=[32, 512])
    parser.add_argument("--context", type=int, default=4096, help="latent cache rows for the decode step")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--assay", help="an assay binary: run `assay bench` too and print ratios")
    parser.add_argument("--backend", default="blas")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    assay = assay_figures(args) if args.assay else None
    config, layer, rotary, index = layer_for(args.preset)
    rows = [(f"prefill {t} tokens", prefill_seconds(config, layer, rotary, t, args.repeats), f"prefill_{t}")
            for t in args.tokens]
    rows.append((f"decode 1 token, cache {args.context}",
                 decode_seconds(config, layer, rotary, index, args.context, args.repeats), "decode"))
    if args.json:
        print(json.dumps({"baseline": "pytorch-eager", "preset": args.preset, "threads": args.threads,
                          "torch": torch.__version__, "seconds": {key: s for _, s, key in rows}, "assay": assay}))
        return
    print(f"one MoE decoder layer, preset {args.preset}, float32, {args.threads} threads, torch {torch.__version__}")
    for label, seconds, key in rows:
        line = f"  {label:32s} PyTorch eager {seconds * 1e3:10.2f} ms"
        if assay and key in assay.get("seconds", {}):
            ours = assay["seconds"][key]
            line += f"   assay {args.backend} {ours * 1e3:10.2f} ms   ratio {seconds / ours:6.2f}x"
        print(line)


if __name__ == "__main__":
    main()
