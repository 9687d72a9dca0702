#!/usr/bin/env python3
"""Between a golden case and llama_taps: its tokens in, llama.cpp's graph nodes out as Assay's taps.

    map_taps.py tokens SET CASE TOKENS.txt      the case's input_ids, position_ids, attention_mask for llama_taps
    map_taps.py taps SET CASE NODEDIR OUT.safetensors
                                                llama_taps' dump of that case as <case>.taps.safetensors

Every tap of the case's manifest entry is written, with its golden shape (spec/taps.md §2): [B, S, …] or, for the
router and `mlp.experts`, [T, …] rows in batch-major order. llama.cpp decodes only the real tokens (one sequence
per batch row), so padding rows are zeros: conform leaves them out, and zeros are finite. Which node each tap
comes from (ggml names are `name-layer`; the last node of a name is its final value):

    embed_tokens                embd                          input_layernorm           attn_norm-l
    self_attn#kv_latent         Kcur-l  ([c_norm | k_pe], k_pe de-interleaved: llama.cpp's NORM RoPE
                                         rotates adjacent pairs, the tap holds them split, spec/rope.md §2)
    self_attn                   the product whose first operand is blk.l.attn_output.weight (o_proj; unnamed)
    post_attention_layernorm    ffn_norm-l
    mlp.gate#logits             ffn_moe_logits-l              mlp.gate#indices          ffn_moe_topk-l
    mlp.gate#weights            ffn_moe_weights_scaled-l      mlp.gate#margin           from ffn_moe_probs_masked-l
    mlp.experts                 ffn_moe_out-l                 mlp.shared_experts        ffn_shexp-l
    mlp                         ffn_out-l                     layers.l                  l_out-l
    norm                        result_norm                   lm_head                   result_output
"""

import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hostile"))
from kit import read_st, write_st  # noqa: E402


class Refused(Exception):
    """A set, case or dump this script cannot use: one line, exit 1."""


LAYER_NODES = {
    "input_layernorm": "attn_norm", "self_attn#kv_latent": "Kcur", "self_attn": "@blk.{}.attn_output.weight",
    "post_attention_layernorm": "ffn_norm", "mlp.gate#logits": "ffn_moe_logits", "mlp.gate#indices": "ffn_moe_topk",
    "mlp.gate#weights": "ffn_moe_weights_scaled", "mlp.gate#margin": "ffn_moe_probs_masked",
    "mlp.experts": "ffn_moe_out", "mlp.shared_experts": "ffn_shexp", "mlp": "ffn_out", "": "l_out",
}
MODEL_NODES = {"embed_tokens": "embd", "norm": "result_norm"}
TAP = re.compile(r"^(?:model\.language_model\.(?:layers\.(\d+)(?:\.|(?=#)|$))?)?(.*)$")


def case_entry(set_dir: Path, case: str) -> dict:
    manifest = json.loads((set_dir / "manifest.json").read_text())
    for entry in manifest["cases"]:
        if entry["name"] == case:
            return entry
    raise Refused(f"{set_dir / 'manifest.json'}: no case {case}")


def inputs(set_dir: Path, entry: dict) -> dict:
    stored, _ = read_st(set_dir / entry["inputs"]["file"])
    found = {name: np.frombuffer(raw, "<i8").reshape(shape) for name, dtype, shape, raw in stored if dtype == "I64"}
    for name in ("input_ids", "position_ids", "attention_mask"):
        if name not in found:
            raise Refused(f"{entry['inputs']['file']}: no I64 tensor {name}")
    if "pixel_values" in {name for name, *_ in stored}:
        raise Refused(f"{entry['inputs']['file']}: case {entry['name']} has images, which llama.cpp's text graph "
                      "cannot take")
    return found


def write_tokens(set_dir: Path, case: str, out: Path) -> None:
    given = inputs(set_dir, case_entry(set_dir, case))
    ids, pos, mask = given["input_ids"], given["position_ids"], given["attention_mask"]
    lines = [f"{ids.shape[0]} {ids.shape[1]}"]
    lines += [f"{i} {p} {m}" for i, p, m in zip(ids.ravel(), pos.ravel(), mask.ravel())]
    out.write_text("\n".join(lines) + "\n")


def read_nodes(node_dir: Path) -> tuple[dict, list]:
    """{node name, or "@" + a weight's name for the node that multiplies it: array [ne3, ne2, ne1, ne0]} (the last
    node of a name wins: its final value), and the decoded tokens' (batch row, column) in graph order."""
    nodes = {}
    for line in (node_dir / "index.tsv").read_text().splitlines():
        file, name, _op, dtype, *ne, src0 = line.split("\t")
        shape = [int(n) for n in reversed(ne)]
        value = np.frombuffer((node_dir / file).read_bytes(), "<f4" if dtype == "f32" else "<i4").reshape(shape)
        nodes[name] = value
        if src0.endswith(".weight"):
            nodes["@" + src0] = value
    order = [tuple(int(v) for v in line.split("\t")) for line in (node_dir / "tokens.tsv").read_text().splitlines()]
    return nodes, order


def node_for(tap: str) -> tuple[str, str]:
    """(ggml node name, the tap's part after the layer) for a golden tap name."""
    layer, rest = TAP.match(tap).groups()
    if tap == "lm_head":
        return "result_output", tap
    if layer is None:
        node = MODEL_NODES.get(rest)
    else:
        node = LAYER_NODES.get(rest)
        node = node and (node.format(layer) if node.startswith("@") else f"{node}-{layer}")
    if node is None:
        raise Refused(f"tap {tap}: no llama.cpp node maps onto it")
    return node, rest


def token_rows(value: np.ndarray, real: int) -> np.ndarray:
    """A node as [tokens, width]: ggml's token axis is its outermost axis (the inner ones are the width)."""
    return value.reshape(real, -1)


def deinterleave(rows: np.ndarray, rope: int) -> np.ndarray:
    """[c | x0 x1 x2 x3 …] -> [c | x0 x2 … | x1 x3 …]: llama.cpp's NORM RoPE pairs as the tap stores them."""
    head, tail = rows[:, :-rope], rows[:, -rope:]
    return np.concatenate([head, tail[:, 0::2], tail[:, 1::2]], axis=1)


def margin(probs: np.ndarray, k: int) -> np.ndarray:
    """spec/router.md eq. 7 from the group-masked probabilities: the k-th minus the (k+1)-th largest."""
    ranked = -np.sort(-probs, axis=1)
    if probs.shape[1] == k:
        return ranked[:, k - 1]
    following = ranked[:, k]
    return ranked[:, k - 1] - np.where(np.isfinite(following), following, 0.0)


def tap_rows(tap: str, nodes: dict, real: int, config: dict) -> np.ndarray:
    """The tap's values for the decoded tokens, [tokens, …] in graph order."""
    node, rest = node_for(tap)
    if node not in nodes:
        raise Refused(f"llama_taps dump: no node {node} (for tap {tap})")
    rows = token_rows(nodes[node], real)
    if rest == "self_attn#kv_latent":
        return deinterleave(rows, config["qk_rope_head_dim"])
    if rest == "mlp.gate#margin":
        return margin(rows, config["num_experts_per_tok"])[:, None]
    return rows


def write_taps(set_dir: Path, case: str, node_dir: Path, out: Path) -> None:
    entry = case_entry(set_dir, case)
    mask = inputs(set_dir, entry)["attention_mask"]  # [B, S]
    config = json.loads((set_dir / "config.json").read_text())
    config = {**config, **config.get("text_config", {})}
    nodes, order = read_nodes(node_dir)
    if len(order) != int(mask.sum()) or any(mask[b, s] != 1 for b, s in order):
        raise Refused(f"{node_dir / 'tokens.tsv'}: the decoded tokens are not the case's real tokens")
    batch, seq = mask.shape
    flat = [b * seq + s for b, s in order]  # each decoded token's row in [B·S, …]
    written = []
    for tap in entry["taps"]["tensors"]:
        name, shape = tap["name"], tap["shape"]
        rows = tap_rows(name, nodes, len(order), config)
        integer = tap["dtype"] == "I64"
        full = np.zeros((batch * seq, rows.shape[1]), np.int64 if integer else np.float32)
        full[flat] = rows
        value = full.reshape(shape)
        written.append((name, "I64" if integer else "F32", shape, value.astype("<i8" if integer else "<f4").tobytes()))
    write_st(out, written)


def main() -> int:
    args = sys.argv[1:]
    try:
        if len(args) == 4 and args[0] == "tokens":
            write_tokens(Path(args[1]), args[2], Path(args[3]))
        elif len(args) == 5 and args[0] == "taps":
            write_taps(Path(args[1]), args[2], Path(args[3]), Path(args[4]))
        else:
            print(__doc__.split("\n\n")[1], file=sys.stderr)
            return 1
    except (Refused, OSError, ValueError, KeyError) as error:
        print(f"map_taps.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
