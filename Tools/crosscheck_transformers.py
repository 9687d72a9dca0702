#!/usr/bin/env python3
"""Cross-check the taps of Assay's text decoder against Hugging Face transformers, in float64.

For each preset, `assay export-checkpoint` writes an HF checkpoint (config.json + model.safetensors); transformers
loads it as Mistral3ForConditionalGeneration in float64 with eager attention and the eager experts loop. For each
position offset the script writes a batch of 2 x T token ids (row 1 left-padded by 2 pad tokens, position_ids =
offset + arange(T) in both rows) to IN.safetensors, runs `assay forward --dtype f64` on it, runs transformers on
the same inputs with forward hooks recording the same taps, and compares them tap by tap.

Usage (needs torch and a transformers with Mistral 4, >= 5.x; run by hand, not in CI):

    swift build --product assay
    /tmp/tfenv/bin/python Tools/crosscheck_transformers.py --assay .build/debug/assay \
        [--preset tiny small] [--checkpoint DIR] [--seed 0] [--offsets 0,262144,1000000] [--tokens 7] \
        [--workdir DIR] [--keep] [--bf16-report]

`--checkpoint DIR` skips the export and uses DIR (e.g. a checkpoint saved by transformers itself).

"Lifted" transformers: a float64 transformers model still computes a few things in float32: the YaRN inverse
frequencies, the RoPE angles and cos/sin, Mistral4RMSNorm, the eager attention softmax and the Llama-4 query scale.
The lifted run patches exactly those to float64, keeping the formulas (see `lifted`). Assay computes everything in
float64, so Assay is compared against the lifted run; the stock run (transformers as shipped) is compared against
the lifted run too, to show what the float32 islands cost. Stock float64 transformers produces NaN for the whole
left-padded row from layer 1 on (the float64-min attention mask becomes -inf in its float32 softmax, so a pad query,
which sees no valid key, gets NaN, and the next layer's keys carry it into every query); the stock columns leave out
the rows where the stock value is not finite and say how many.

Taps: `model.language_model.embed_tokens`, per layer `...layers.i.{input_layernorm, self_attn, self_attn#kv_latent,
post_attention_layernorm, mlp, }` (the last one is the layer output), for MoE layers `...mlp.gate#{logits, weights,
indices, margin}`, `...mlp.experts` and `...mlp.shared_experts`, then `model.language_model.norm` and `lm_head`.
`self_attn#kv_latent` is [kv_a_layernorm(c) | k_rot] with k_rot as the RoPE function returns it (it is recorded by
wrapping that function); `mlp.gate#margin` is the k-th minus the (k+1)-th largest routing probability among the
experts the group limit allows, computed here from the router logits. Router indices are compared after sorting each
token's (index, weight) pairs by index.

Pass criterion: every tap present on both sides with identical shapes, router indices identical, and every other
tap's NMSE = ||assay - lifted||^2 / ||lifted||^2 <= 1e-20. Token rows whose attention_mask is 0 (the two left-pad
positions of row 1, whose query sees no valid key) are left out of every comparison. Prints one table row per tap
and ends with `PASS` or `FAIL (n taps over 1e-20)`; exits 0 or 1.

`--bf16-report` also loads the checkpoint in bfloat16 (stock transformers), reports each tap's NMSE against the
lifted float64 run, and runs `assay forward --profile hf-bf16` to compare its taps with transformers' bfloat16 taps.
These columns are informational and do not affect the verdict.
"""

import argparse
import contextlib
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import safetensors.numpy
import safetensors.torch
import torch
from transformers import Mistral3ForConditionalGeneration
from transformers.models.mistral4 import modeling_mistral4 as m4

THRESHOLD = 1e-20
PAD_ROWS = 2  # row 1 of the batch is left-padded by this many tokens


# ----------------------------------------------------------------------------------------------------------------
# Inputs and the assay executable


def make_inputs(vocab: int, pad_id: int, tokens: int, offset: int, seed: int) -> dict[str, np.ndarray]:
    """input_ids, position_ids, attention_mask, each int64 [2, tokens]; row 1 left-padded with pad_id."""
    input_ids = np.random.default_rng(seed).integers(0, vocab, size=(2, tokens), dtype=np.int64)
    input_ids[1, :PAD_ROWS] = pad_id
    attention_mask = np.ones((2, tokens), dtype=np.int64)
    attention_mask[1, :PAD_ROWS] = 0
    position_ids = np.tile(offset + np.arange(tokens, dtype=np.int64), (2, 1))
    return {"input_ids": input_ids, "position_ids": position_ids, "attention_mask": attention_mask}


def run_assay(assay: str, *arguments: str) -> None:
    result = subprocess.run([assay, *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"`assay {' '.join(arguments)}` exited {result.returncode}:\n{result.stderr}", file=sys.stderr)
        sys.exit(1)


def assay_taps(assay: str, checkpoint: Path, inputs: Path, output: Path, *options: str) -> dict[str, np.ndarray]:
    run_assay(assay, "forward", "--checkpoint", str(checkpoint), "--input", str(inputs), "--output", str(output),
              *options)
    return {name: to_numpy(t) for name, t in safetensors.torch.load_file(output).items()}


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """int64 stays int64; every floating dtype (bfloat16 included) becomes float64."""
    t = t.detach()
    return t.numpy() if t.dtype == torch.int64 else t.to(torch.float64).numpy()


# ----------------------------------------------------------------------------------------------------------------
# transformers: loading, and the float64 versions of its float32 islands


def load_model(checkpoint: Path, dtype: torch.dtype) -> Mistral3ForConditionalGeneration:
    # experts_implementation="eager" selects Mistral4Experts.forward as written (the default is grouped_mm).
    # from_pretrained only warns about missing or unexpected weights (and initializes missing ones at random).
    model, info = Mistral3ForConditionalGeneration.from_pretrained(
        checkpoint, dtype=dtype, attn_implementation="eager", experts_implementation="eager",
        output_loading_info=True)
    problems = {kind: names for kind, names in info.items() if names}
    if problems:
        sys.exit(f"transformers did not load {checkpoint} cleanly: {problems}")
    assert model.config.text_config._experts_implementation == "eager"
    return model.eval()


def yarn_f64(config) -> tuple[torch.Tensor, float]:
    """(inv_freq, attention_factor) of YaRN, transformers' `_compute_yarn_parameters` computed in float64."""
    rope = config.rope_parameters
    if rope["rope_type"] != "yarn":
        raise NotImplementedError(f"lifted RoPE supports yarn only, not {rope['rope_type']}")
    base = rope["rope_theta"]
    head_dim = getattr(config, "head_dim", config.hidden_size // config.num_attention_heads)
    dim = int(head_dim * rope.get("partial_rotary_factor", 1.0))
    original = rope["original_max_position_embeddings"]
    factor = rope["factor"] or config.max_position_embeddings / original

    def mscale(scale, m=1.0):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attention_factor = rope.get("attention_factor")
    if attention_factor is None:
        if rope.get("mscale") and rope.get("mscale_all_dim"):
            attention_factor = mscale(factor, rope["mscale"]) / mscale(factor, rope["mscale_all_dim"])
        else:
            attention_factor = mscale(factor)

    def correction_dim(rotations):
        return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low, high = correction_dim(rope.get("beta_fast") or 32), correction_dim(rope.get("beta_slow") or 1)
    if rope.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
    extrapolation_weight = 1 - ramp
    pos_freqs = base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    inv_freq = (1 / (factor * pos_freqs)) * (1 - extrapolation_weight) + (1 / pos_freqs) * extrapolation_weight
    return inv_freq, attention_factor


LIFTED_CALLS: dict[str, int] = {}


def _count(name: str) -> None:
    LIFTED_CALLS[name] = LIFTED_CALLS.get(name, 0) + 1


def rms_norm_f64(self, hidden_states):
    """Mistral4RMSNorm.forward without the float32 cast."""
    _count("Mistral4RMSNorm.forward")
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


@torch.no_grad()
def rotary_f64(self, x, position_ids):
    """Mistral4RotaryEmbedding.forward with float64 inverse frequencies, angles and cos/sin."""
    _count("Mistral4RotaryEmbedding.forward")
    inv_freq, attention_factor = yarn_f64(self.config)
    freqs = position_ids[..., None].to(torch.float64) * inv_freq.to(x.device)
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * attention_factor).to(x.dtype), (emb.sin() * attention_factor).to(x.dtype)


def eager_attention_f64(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """eager_attention_forward with the softmax in the query's dtype instead of float32."""
    _count("eager_attention_forward")
    key_states = m4.repeat_kv(key, module.num_key_value_groups)
    value_states = m4.repeat_kv(value, module.num_key_value_groups)
    attn_weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = torch.nn.functional.softmax(attn_weights, dim=-1)
    attn_weights = torch.nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value_states).transpose(1, 2).contiguous()
    return attn_output, attn_weights


def llama_4_attn_scale_f64(position_ids, beta, max_position_embeddings):
    """get_llama_4_attn_scale with the division in float64 (transformers divides in the default float32)."""
    _count("get_llama_4_attn_scale")
    scaling = 1 + beta * torch.log(1 + torch.floor(position_ids.to(torch.float64) / max_position_embeddings))
    return scaling[:, None, :, None]


@contextlib.contextmanager
def patched(owner, replacements: dict):
    originals = {name: getattr(owner, name) for name in replacements}
    for name, value in replacements.items():
        setattr(owner, name, value)
    try:
        yield
    finally:
        for name, value in originals.items():
            setattr(owner, name, value)


@contextlib.contextmanager
def lifted():
    """Runs transformers' float32 islands in float64; checks on exit that every replacement was called."""
    LIFTED_CALLS.clear()
    with patched(m4.Mistral4RMSNorm, {"forward": rms_norm_f64}), \
            patched(m4.Mistral4RotaryEmbedding, {"forward": rotary_f64}), \
            patched(m4, {"eager_attention_forward": eager_attention_f64,
                         "get_llama_4_attn_scale": llama_4_attn_scale_f64}):
        yield
    expected = {"Mistral4RMSNorm.forward", "Mistral4RotaryEmbedding.forward", "eager_attention_forward",
                "get_llama_4_attn_scale"}
    missing = expected - set(LIFTED_CALLS)
    assert not missing, f"lifted patches never called (transformers changed?): {sorted(missing)}"


# ----------------------------------------------------------------------------------------------------------------
# transformers: taps


def router_margin(logits: torch.Tensor, config) -> torch.Tensor:
    """k-th minus (k+1)-th largest routing probability among the experts Mistral4TopkRouter's group limit allows."""
    scores = logits.to(torch.float64).softmax(-1)
    groups, k = config.n_group, config.num_experts_per_tok
    group_scores = scores.view(scores.shape[0], groups, -1).topk(2, dim=-1)[0].sum(dim=-1)
    group_idx = torch.topk(group_scores, k=config.topk_group, dim=-1, sorted=False)[1]
    group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
    allowed = group_mask.repeat_interleave(scores.shape[1] // groups, dim=1).bool()
    ranked = scores.masked_fill(~allowed, 0.0).sort(dim=-1, descending=True).values
    return ranked[:, k - 1] - ranked[:, k]


def tap_hooks(model, taps: dict, current_attention: list) -> list:
    """Registers the forward hooks that fill `taps`; returns their handles."""
    text = model.model.language_model
    prefix = "model.language_model"

    def record(name, pick=lambda out: out):
        return lambda module, args, out: taps.__setitem__(name, pick(out))

    def record_router(name):
        def hook(module, args, out):
            logits, weights, indices = out
            taps.update({f"{name}#logits": logits, f"{name}#weights": weights, f"{name}#indices": indices,
                         f"{name}#margin": router_margin(logits, text.config)})
        return hook

    modules = {"lm_head": (model.lm_head, record("lm_head")),
               f"{prefix}.embed_tokens": (text.embed_tokens, None), f"{prefix}.norm": (text.norm, None)}
    for i, layer in enumerate(text.layers):
        name = f"{prefix}.layers.{i}"
        modules[name] = (layer, None)
        modules[f"{name}.input_layernorm"] = (layer.input_layernorm, None)
        modules[f"{name}.self_attn"] = (layer.self_attn, record(f"{name}.self_attn", lambda out: out[0]))
        # records c; run_transformers appends k_rot to it
        modules[f"{name}.self_attn.kv_a_layernorm"] = (layer.self_attn.kv_a_layernorm,
                                                       record(f"{name}.self_attn#kv_latent"))
        modules[f"{name}.post_attention_layernorm"] = (layer.post_attention_layernorm, None)
        modules[f"{name}.mlp"] = (layer.mlp, None)
        if isinstance(layer.mlp, m4.Mistral4MoE):
            modules[f"{name}.mlp.gate"] = (layer.mlp.gate, record_router(f"{name}.mlp.gate"))
            modules[f"{name}.mlp.experts"] = (layer.mlp.experts, None)
            modules[f"{name}.mlp.shared_experts"] = (layer.mlp.shared_experts, None)
    handles = [module.register_forward_hook(hook or record(name)) for name, (module, hook) in modules.items()]
    for i, layer in enumerate(text.layers):
        name = f"{prefix}.layers.{i}.self_attn#kv_latent"
        set_current = lambda *_, n=name: current_attention.__setitem__(0, n)  # noqa: E731
        handles.append(layer.self_attn.register_forward_pre_hook(set_current))
    return handles


def run_transformers(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """tap name -> array (float64, indices int64) of one forward pass, no cache.

    kv_latent: the kv_a_layernorm hook records c, and the RoPE function (wrapped here, and called once per attention
    forward) appends the rotated shared key k_rot [b, 1, s, rope] of the attention module that is running."""
    taps, current_attention = {}, [None]

    def with_k_rot(rope_fn):
        def wrapped(q, k, cos, sin, *args, **kwargs):
            q_embed, k_embed = rope_fn(q, k, cos, sin, *args, **kwargs)
            name = current_attention[0]
            taps[name] = torch.cat((taps[name], k_embed.squeeze(1)), dim=-1)
            return q_embed, k_embed
        return wrapped

    handles = tap_hooks(model, taps, current_attention)
    rope_fns = {name: with_k_rot(getattr(m4, name)) for name in ("apply_rotary_pos_emb_interleave",
                                                                  "apply_rotary_pos_emb")}
    try:
        with patched(m4, rope_fns), torch.no_grad():
            model(**{name: torch.from_numpy(value) for name, value in inputs.items()}, use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
    return {name: to_numpy(value) for name, value in taps.items()}


# ----------------------------------------------------------------------------------------------------------------
# Comparison


def canonical_router(taps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each token's (index, weight) pairs sorted by expert index, so that selection order does not matter."""
    taps = dict(taps)
    for name in [n for n in taps if n.endswith("#indices")]:
        weights = name.replace("#indices", "#weights")
        order = np.argsort(taps[name], axis=-1, kind="stable")
        taps[name] = np.take_along_axis(taps[name], order, axis=-1)
        if weights in taps and taps[weights].shape == order.shape:
            taps[weights] = np.take_along_axis(taps[weights], order, axis=-1)
    return taps


def valid_rows(array: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The token rows of a [b, s, ...] or [b*s, ...] tap whose attention_mask is 1 (rows flattened batch-major)."""
    flat = mask.reshape(-1).astype(bool)
    return array.reshape(flat.size, -1)[flat]


def difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(NMSE of a against reference b, max abs difference)."""
    err = float(np.sum((a - b) ** 2))
    ref = float(np.sum(b ** 2))
    nmse = err / ref if ref > 0 else (0.0 if err == 0 else math.inf)
    return nmse, float(np.max(np.abs(a - b))) if a.size else 0.0


def describe(name: str, a: np.ndarray, b: np.ndarray) -> tuple[str, str, bool]:
    """(NMSE cell, max-abs cell, ok) of rows a against reference rows b, both already restricted to valid rows."""
    if name.endswith("#indices"):
        differing = int(np.sum(np.any(a != b, axis=-1)))
        return ("exact" if differing == 0 else f"{differing} rows"), "", differing == 0
    nmse, max_abs = difference(a, b)
    return f"{nmse:.2e}", f"{max_abs:.2e}", nmse <= THRESHOLD


def top1(a: np.ndarray, b: np.ndarray) -> str:
    return f"{int(np.sum(a.argmax(-1) == b.argmax(-1)))}/{len(a)}"


def compare_offset(label: str, offset: int, mask: np.ndarray, lifted_taps: dict, assay: dict, stock: dict,
                   extra: list[tuple[dict, dict]]) -> int:
    """Prints one row per tap; returns the number of failing taps (Assay vs lifted). `extra` holds the
    (taps, reference taps) pairs of the informational columns."""
    lifted_taps, assay, stock = canonical_router(lifted_taps), canonical_router(assay), canonical_router(stock)
    extra = [(canonical_router(taps), canonical_router(ref)) for taps, ref in extra]
    failures, non_finite_stock = 0, 0
    for name in sorted(set(lifted_taps) | set(assay), key=tap_order(lifted_taps)):
        cells = [label, str(offset), name]
        if name not in assay or name not in lifted_taps:
            side = "assay" if name not in assay else "transformers"
            print(f"{label} {offset} {name}: FAIL, missing from {side}")
            failures += 1
            continue
        if assay[name].shape != lifted_taps[name].shape:
            print(f"{label} {offset} {name}: FAIL, shape {list(assay[name].shape)} (assay) vs "
                  f"{list(lifted_taps[name].shape)} (transformers)")
            failures += 1
            continue
        ref = valid_rows(lifted_taps[name], mask)
        nmse, max_abs, ok = describe(name, valid_rows(assay[name], mask), ref)
        failures += not ok
        cells += [nmse + ("" if ok else " *"), max_abs]
        stock_rows = valid_rows(stock[name], mask)
        finite = np.all(np.isfinite(valid_rows(stock[name.replace("#indices", "#logits")], mask)), axis=-1)
        non_finite_stock = max(non_finite_stock, int(np.sum(~finite)))
        cells += list(describe(name, stock_rows[finite], ref[finite])[:2])
        cells.append(top1(stock_rows[finite], ref[finite]) if name == "lm_head" else "")
        for taps, reference in extra:
            cells.append(describe(name, valid_rows(taps[name], mask), valid_rows(reference[name], mask))[0]
                         if name in taps and name in reference and taps[name].shape == reference[name].shape
                         else "missing")
        print(row(cells))
    print(f"# {label} offset {offset}: {int(mask.sum())} of {mask.size} token rows compared "
          f"({mask.size - int(mask.sum())} left-pad rows excluded)"
          + (f"; stock transformers is non-finite in up to {non_finite_stock} of them (left out of the stock "
             f"columns)" if non_finite_stock else ""))
    return failures


def tap_order(taps: dict):
    """Sort key: the order in which transformers produced the taps, unknown names last."""
    position = {name: i for i, name in enumerate(taps)}
    return lambda name: (position.get(name, len(position)), name)


WIDTHS = [8, 8, 56, 10, 9, 10, 9, 6]


def row(cells: list[str]) -> str:
    widths = WIDTHS + [12] * (len(cells) - len(WIDTHS))
    return " ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()


# ----------------------------------------------------------------------------------------------------------------


def check_checkpoint(args, label: str, checkpoint: Path, scratch: Path) -> int:
    """Runs every offset for one checkpoint; returns the number of failing taps."""
    model = load_model(checkpoint, torch.float64)
    bf16_model = load_model(checkpoint, torch.bfloat16) if args.bf16_report else None
    config = model.config.text_config
    failures = 0
    for offset in args.offsets:
        inputs = make_inputs(config.vocab_size, config.pad_token_id or 0, args.tokens, offset, args.seed)
        input_path = scratch / f"in-{offset}.safetensors"
        safetensors.numpy.save_file(inputs, str(input_path))
        assay = assay_taps(args.assay, checkpoint, input_path, scratch / f"taps-{offset}.safetensors", "--dtype",
                           "f64")
        stock = run_transformers(model, inputs)
        with lifted():
            lifted_taps = run_transformers(model, inputs)
        extra = []
        if bf16_model is not None:
            bf16 = run_transformers(bf16_model, inputs)
            assay_bf16 = assay_taps(args.assay, checkpoint, input_path, scratch / f"taps-{offset}-bf16.safetensors",
                                    "--profile", "hf-bf16")
            extra = [(bf16, lifted_taps), (assay_bf16, bf16)]
        failures += compare_offset(label, offset, inputs["attention_mask"], lifted_taps, assay, stock, extra)
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assay", required=True, help="the assay executable")
    parser.add_argument("--preset", nargs="+", help="presets to export and check (default: tiny small)")
    parser.add_argument("--checkpoint", type=Path, help="check this HF checkpoint directory instead of exporting")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and of the token ids")
    parser.add_argument("--offsets", default="0,262144,1000000", help="comma-separated position offsets")
    parser.add_argument("--tokens", type=int, default=7, help="sequence length T (row 1 has 2 pad tokens)")
    parser.add_argument("--workdir", type=Path, help="where checkpoints, inputs and taps go (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary working directory")
    parser.add_argument("--bf16-report", action="store_true", help="also report bfloat16 columns (informational)")
    args = parser.parse_args()
    args.offsets = [int(offset) for offset in args.offsets.split(",")]
    if args.checkpoint and args.preset:
        parser.error("--checkpoint and --preset exclude each other")
    if args.tokens <= PAD_ROWS:
        parser.error(f"--tokens must exceed the {PAD_ROWS} pad tokens")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="crosscheck-"))
    workdir.mkdir(parents=True, exist_ok=True)
    headers = ["preset", "offset", "tap", "assay", "max abs", "stock", "max abs", "top-1"]
    if args.bf16_report:
        headers += ["tf-bf16", "assay-bf16"]
    print("NMSE columns: assay vs lifted (pass/fail), stock vs lifted"
          + (", tf-bf16 vs lifted, assay hf-bf16 vs tf-bf16" if args.bf16_report else "")
          + "; '*' marks a tap over 1e-20")
    print(row(headers))
    failures = 0
    try:
        if args.checkpoint:
            failures += check_checkpoint(args, args.checkpoint.name, args.checkpoint, workdir)
        else:
            for preset in args.preset or ["tiny", "small"]:
                scratch = workdir / preset
                scratch.mkdir(exist_ok=True)
                checkpoint = scratch / "checkpoint"  # export-checkpoint wants a directory that does not exist yet
                run_assay(args.assay, "export-checkpoint", "--preset", preset, "--seed", str(args.seed), "--out",
                          str(checkpoint))
                failures += check_checkpoint(args, preset, checkpoint, scratch)
    finally:
        if args.workdir or args.keep:
            print(f"# files kept in {workdir}")
        else:
            shutil.rmtree(workdir)
    print("PASS" if failures == 0 else f"FAIL ({failures} taps over 1e-20)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
