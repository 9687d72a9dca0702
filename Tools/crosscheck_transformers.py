#!/usr/bin/env python3
"""Cross-check the taps of Assay's text decoder (and, with --vision, its vision path) against Hugging Face
transformers, in float64.

For each preset, `assay export-checkpoint` writes an HF checkpoint (config.json + model.safetensors); transformers
loads it as Mistral3ForConditionalGeneration in float64 with eager attention and the eager experts loop. For each
position offset the script writes a batch of 2 x T token ids (row 1 left-padded by 2 pad tokens, position_ids =
offset + arange(T) in both rows) to IN.safetensors, runs `assay forward --dtype f64` on it, runs transformers on
the same inputs with forward hooks recording the same taps, and compares them tap by tap.

Usage (needs torch and a transformers with Mistral 4, >= 5.x; run by hand, not in CI):

    swift build --product assay
    /tmp/tfenv/bin/python Tools/crosscheck_transformers.py --assay .build/debug/assay \
        [--preset tiny small] [--checkpoint DIR] [--seed 0] [--offsets 0,262144,1000000] [--tokens 7] \
        [--workdir DIR] [--keep] [--bf16-report] [--vision]

`--checkpoint DIR` skips the export and uses DIR (e.g. a checkpoint saved by transformers itself).

`--vision` checks the preset `tiny-vision` (exported with `--dtype f64`) with images; alone it runs only that check,
with `--preset`/`--checkpoint` it runs the text checks too. Cases: (a) one 56x84 (height x width) image, at position
offset 0 and 262144 (position_ids = offset + arange(S)); (b) two images, 112x56 and 28x84, in one sequence
(pixel_values [2, 3, 112, 84] zero-padded right and bottom, image_sizes [[112, 56], [28, 84]]), offset 0. Pixels are
seeded standard normals inside each image and 0 in the padding. input_ids [1, S]: BOS, text ids from 14..vocab-1,
image 1, text, (image 2, text); an h x w image is h/28 rows of [IMG] x w/28 then [IMG_BREAK], its last [IMG_BREAK]
replaced by [IMG_END] (ids 10, 12, 13). IN holds input_ids, pixel_values (F64), image_sizes (I64) and, at a nonzero
offset, position_ids; the attention mask is all 1. Vision taps: `model.vision_tower.patch_conv` [N, 32, H/14, W/14],
`.ln_pre`, per layer `.transformer.layers.i.{attention_norm, attention, ffn_norm, feed_forward, }` and
`model.vision_tower` (last_hidden_state), all [1, P, 32] (P patches of all images, each row-major), then
`model.multi_modal_projector.norm` [P, 32], `.patch_merger` [P/4, 32], `model.multi_modal_projector` [P/4, 64] and
`model.language_model#inputs_embeds` [1, S, 64] (the language model's input after the image features replace the
[IMG] embeddings; `embed_tokens` is the embedding before that), plus every text tap. Vision taps are compared whole.
The vision config's `"rope_type": "default"` needs no patch: PixtralVisionConfig sets `default_rope_type = "axial"`,
and transformers' config standardization (RotaryEmbeddingConfigMixin.standardize_rope_params) rewrites a "default"
rope_type to it when the config loads.

"Lifted" transformers: a float64 transformers model still computes a few things in float32: the YaRN inverse
frequencies, the RoPE angles and cos/sin, Mistral4RMSNorm, the eager attention softmax and the Llama-4 query scale.
The lifted run patches exactly those to float64, keeping the formulas (see `lifted`); with images it also patches
the vision path's: PixtralRMSNorm, Mistral3RMSNorm (the projector norm), PixtralVisionRotaryEmbedding (its inverse
frequencies stay float32 even in a float64 model, and it takes angles and cos/sin in float32) and Pixtral's eager
attention softmax. Assay computes everything in float64, so Assay is compared against the lifted run; the stock run
(transformers as shipped) is compared against the lifted run too, to show what the float32 islands cost. Stock
float64 transformers produces NaN for the whole left-padded row from layer 1 on (the float64-min attention mask
becomes -inf in its float32 softmax, so a pad query, which sees no valid key, gets NaN, and the next layer's keys
carry it into every query); the stock columns leave out the rows where the stock value is not finite and say how
many.

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

`--bf16-report` (text presets only) also loads the checkpoint in bfloat16 (stock transformers), reports each tap's
NMSE against the lifted float64 run, and runs `assay forward --profile hf-bf16` to compare its taps with transformers'
bfloat16 taps. These columns are informational and do not affect the verdict.
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
from transformers.models.mistral3 import modeling_mistral3 as m3
from transformers.models.mistral4 import modeling_mistral4 as m4
from transformers.models.pixtral import modeling_pixtral as px

THRESHOLD = 1e-20
PAD_ROWS = 2  # row 1 of the batch is left-padded by this many tokens
VISION_PRESET = "tiny-vision"
BOS_ID, IMAGE_BREAK_ID, IMAGE_END_ID = 1, 12, 13  # the image token id is the config's image_token_index
FIRST_TEXT_ID = 14  # text ids are drawn from FIRST_TEXT_ID..vocab-1, clear of the image ids 10..13
# (case, image sizes (height, width), position offset)
VISION_RUNS = [("a", [(56, 84)], 0), ("a", [(56, 84)], 262144), ("b", [(112, 56), (28, 84)], 0)]


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


def image_block(height: int, width: int, merged: int, image_id: int) -> list[int]:
    """The tokens of one image: per row of merged patches, [IMG] x cols then [IMG_BREAK]; the last one [IMG_END]."""
    block = ([image_id] * (width // merged) + [IMAGE_BREAK_ID]) * (height // merged)
    block[-1] = IMAGE_END_ID
    return block


def make_vision_inputs(config, sizes: list[tuple[int, int]], offset: int, seed: int) -> dict[str, np.ndarray]:
    """input_ids [1, S], pixel_values [N, 3, H, W] (float64, 0 outside each image), image_sizes [N, 2] and, at a
    nonzero offset, position_ids [1, S]."""
    rng = np.random.default_rng(seed)
    vision = config.vision_config
    height, width = max(h for h, _ in sizes), max(w for _, w in sizes)
    pixel_values = np.zeros((len(sizes), vision.num_channels, height, width))
    for i, (h, w) in enumerate(sizes):
        pixel_values[i, :, :h, :w] = rng.standard_normal((vision.num_channels, h, w))
    text = lambda n: rng.integers(FIRST_TEXT_ID, config.text_config.vocab_size, size=n).tolist()  # noqa: E731
    merged = vision.patch_size * config.spatial_merge_size
    ids = [BOS_ID] + text(3)
    for h, w in sizes:
        ids += image_block(h, w, merged, config.image_token_index) + text(2)
    inputs = {"input_ids": np.array([ids], dtype=np.int64), "pixel_values": pixel_values,
              "image_sizes": np.array(sizes, dtype=np.int64)}
    if offset:
        inputs["position_ids"] = offset + np.arange(len(ids), dtype=np.int64)[None]
    return inputs


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


def rms_norm_f64(name: str):
    """The forward of Mistral4RMSNorm, PixtralRMSNorm and Mistral3RMSNorm (one formula) without the float32 cast."""
    def forward(self, hidden_states):
        _count(f"{name}.forward")
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))
    return forward


@torch.no_grad()
def rotary_f64(self, x, position_ids):
    """Mistral4RotaryEmbedding.forward with float64 inverse frequencies, angles and cos/sin."""
    _count("Mistral4RotaryEmbedding.forward")
    inv_freq, attention_factor = yarn_f64(self.config)
    freqs = position_ids[..., None].to(torch.float64) * inv_freq.to(x.device)
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * attention_factor).to(x.dtype), (emb.sin() * attention_factor).to(x.dtype)


def softmax_attention(module, query, key, value, attention_mask, scaling, dropout):
    """The eager attention of transformers (scores, additive mask, softmax, dropout, P·V) with the softmax in the
    query's dtype instead of float32."""
    attn_weights = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = torch.nn.functional.softmax(attn_weights, dim=-1)
    attn_weights = torch.nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


def eager_attention_f64(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Mistral4's eager_attention_forward (keys and values repeated per group) with the softmax lifted."""
    _count("eager_attention_forward")
    return softmax_attention(module, query, m4.repeat_kv(key, module.num_key_value_groups),
                             m4.repeat_kv(value, module.num_key_value_groups), attention_mask, scaling, dropout)


@torch.no_grad()
def pixtral_rotary_f64(self, x, position_ids):
    """PixtralVisionRotaryEmbedding.forward with the axial inverse frequencies (compute_axial_rope_parameters),
    angles and cos/sin in float64."""
    _count("PixtralVisionRotaryEmbedding.forward")
    config = self.config
    dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    inv_freq = 1.0 / (config.rope_parameters["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    inv_freq = torch.cat([inv_freq[0::2], inv_freq[1::2]]).to(x.device)
    freqs = position_ids[..., None].to(torch.float64) * inv_freq
    cos = self.recomposition_frequencies(freqs.cos() * self.attention_scaling)
    sin = self.recomposition_frequencies(freqs.sin() * self.attention_scaling)
    return cos.to(x.dtype), sin.to(x.dtype)


def pixtral_attention_f64(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Pixtral's eager_attention_forward with the softmax lifted."""
    _count("pixtral.eager_attention_forward")
    return softmax_attention(module, query, key, value, attention_mask, scaling, dropout)


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
def lifted(vision: bool = False):
    """Runs transformers' float32 islands in float64 (with `vision`, the vision path's too); checks on exit that
    every replacement was called."""
    LIFTED_CALLS.clear()
    with contextlib.ExitStack() as stack:
        stack.enter_context(patched(m4.Mistral4RMSNorm, {"forward": rms_norm_f64("Mistral4RMSNorm")}))
        stack.enter_context(patched(m4.Mistral4RotaryEmbedding, {"forward": rotary_f64}))
        stack.enter_context(patched(m4, {"eager_attention_forward": eager_attention_f64,
                                         "get_llama_4_attn_scale": llama_4_attn_scale_f64}))
        if vision:
            stack.enter_context(patched(px.PixtralRMSNorm, {"forward": rms_norm_f64("PixtralRMSNorm")}))
            stack.enter_context(patched(m3.Mistral3RMSNorm, {"forward": rms_norm_f64("Mistral3RMSNorm")}))
            stack.enter_context(patched(px.PixtralVisionRotaryEmbedding, {"forward": pixtral_rotary_f64}))
            stack.enter_context(patched(px, {"eager_attention_forward": pixtral_attention_f64}))
        yield
    expected = {"Mistral4RMSNorm.forward", "Mistral4RotaryEmbedding.forward", "eager_attention_forward",
                "get_llama_4_attn_scale"}
    if vision:
        expected |= {"PixtralRMSNorm.forward", "Mistral3RMSNorm.forward", "PixtralVisionRotaryEmbedding.forward",
                     "pixtral.eager_attention_forward"}
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


def vision_tap_hooks(model, taps: dict) -> list:
    """Registers the hooks that fill `taps` with the vision path's taps and the merged language-model input."""
    tower, projector = model.model.vision_tower, model.model.multi_modal_projector
    record = lambda name, pick=lambda out: out: lambda module, args, out: taps.__setitem__(name, pick(out))  # noqa
    modules = {"model.vision_tower.patch_conv": (tower.patch_conv, None),
               "model.vision_tower.ln_pre": (tower.ln_pre, None)}
    for i, layer in enumerate(tower.transformer.layers):
        name = f"model.vision_tower.transformer.layers.{i}"
        modules[f"{name}.attention_norm"] = (layer.attention_norm, None)
        modules[f"{name}.attention"] = (layer.attention, record(f"{name}.attention", lambda out: out[0]))
        modules[f"{name}.ffn_norm"] = (layer.ffn_norm, None)
        modules[f"{name}.feed_forward"] = (layer.feed_forward, None)
        modules[name] = (layer, None)
    modules["model.vision_tower"] = (tower, record("model.vision_tower", lambda out: out.last_hidden_state))
    modules["model.multi_modal_projector.norm"] = (projector.norm, None)
    modules["model.multi_modal_projector.patch_merger"] = (projector.patch_merger, None)
    modules["model.multi_modal_projector"] = (projector, None)
    handles = [module.register_forward_hook(hook or record(name)) for name, (module, hook) in modules.items()]

    def record_inputs_embeds(module, args, kwargs):
        taps["model.language_model#inputs_embeds"] = kwargs["inputs_embeds"].clone()

    handles.append(model.model.language_model.register_forward_pre_hook(record_inputs_embeds, with_kwargs=True))
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
    if "pixel_values" in inputs:
        handles += vision_tap_hooks(model, taps)
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


def valid_rows(array: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The token rows of a [b, s, ...] or [b*s, ...] tap whose attention_mask is 1 (rows flattened batch-major);
    with no mask (a vision tap), all rows of the last dimension."""
    if mask is None:
        return array.reshape(-1, array.shape[-1] if array.ndim else 1)
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


def is_vision_tap(name: str) -> bool:
    return name.startswith(("model.vision_tower", "model.multi_modal_projector"))


def compare_offset(label: str, offset: int, token_mask: np.ndarray, lifted_taps: dict, assay: dict, stock: dict,
                   extra: list[tuple[dict, dict]]) -> int:
    """Prints one row per tap; returns the number of failing taps (Assay vs lifted). `extra` holds the
    (taps, reference taps) pairs of the informational columns. Vision taps are compared whole, the others over the
    token rows whose mask is 1."""
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
        mask = None if is_vision_tap(name) else token_mask
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
    mask = token_mask
    print(f"# {label} offset {offset}: {int(mask.sum())} of {mask.size} token rows compared "
          f"({mask.size - int(mask.sum())} left-pad rows excluded)"
          + (f"; stock transformers is non-finite in up to {non_finite_stock} of them (left out of the stock "
             f"columns)" if non_finite_stock else ""))
    return failures


def tap_order(taps: dict):
    """Sort key: the order in which transformers produced the taps, unknown names last."""
    position = {name: i for i, name in enumerate(taps)}
    return lambda name: (position.get(name, len(position)), name)


WIDTHS = [13, 8, 56, 10, 9, 10, 9, 6]


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


def check_vision(args, scratch: Path) -> int:
    """Exports tiny-vision and runs every case of VISION_RUNS; returns the number of failing taps."""
    checkpoint = scratch / "checkpoint"  # export-checkpoint wants a directory that does not exist yet
    run_assay(args.assay, "export-checkpoint", "--preset", VISION_PRESET, "--seed", str(args.seed), "--out",
              str(checkpoint), "--dtype", "f64")
    model = load_model(checkpoint, torch.float64)
    assert model.config.vision_config._attn_implementation == "eager"
    # PixtralVisionRotaryEmbedding accepts only "axial"; config.json says "default", which the config rewrites
    assert model.config.vision_config.rope_parameters["rope_type"] == "axial"
    failures = 0
    for run, (case, sizes, offset) in enumerate(VISION_RUNS):
        inputs = make_vision_inputs(model.config, sizes, offset, args.seed + run)
        stem = f"{case}-{offset}"
        input_path = scratch / f"in-{stem}.safetensors"
        safetensors.numpy.save_file(inputs, str(input_path))
        stock = run_transformers(model, inputs)
        with lifted(vision=True):
            lifted_taps = run_transformers(model, inputs)
        if args.shapes_only:
            for name, value in lifted_taps.items():
                print(f"{VISION_PRESET}/{case} {offset} {name} {list(value.shape)}")
            continue
        assay = assay_taps(args.assay, checkpoint, input_path, scratch / f"taps-{stem}.safetensors", "--dtype", "f64")
        print(f"# {VISION_PRESET} case {case}: images {', '.join(f'{h}x{w}' for h, w in sizes)}, "
              f"S = {inputs['input_ids'].shape[1]} tokens, P = {lifted_taps['model.vision_tower'].shape[1]} patches")
        failures += compare_offset(f"{VISION_PRESET}/{case}", offset, np.ones_like(inputs["input_ids"]), lifted_taps,
                                   assay, stock, [])
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
    parser.add_argument("--bf16-report", action="store_true",
                        help="also report bfloat16 columns (informational; text presets only)")
    parser.add_argument("--vision", action="store_true",
                        help="check tiny-vision with images (alone: only that; with --preset/--checkpoint: both)")
    parser.add_argument("--shapes-only", action="store_true",
                        help="with --vision: print transformers' vision-run tap shapes and skip assay forward")
    args = parser.parse_args()
    args.offsets = [int(offset) for offset in args.offsets.split(",")]
    if args.checkpoint and args.preset:
        parser.error("--checkpoint and --preset exclude each other")
    if args.shapes_only and not args.vision:
        parser.error("--shapes-only needs --vision")
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
        elif args.preset or not args.vision:
            for preset in args.preset or ["tiny", "small"]:
                scratch = workdir / preset
                scratch.mkdir(exist_ok=True)
                checkpoint = scratch / "checkpoint"  # export-checkpoint wants a directory that does not exist yet
                run_assay(args.assay, "export-checkpoint", "--preset", preset, "--seed", str(args.seed), "--out",
                          str(checkpoint))
                failures += check_checkpoint(args, preset, checkpoint, scratch)
        if args.vision:
            scratch = workdir / VISION_PRESET
            scratch.mkdir(exist_ok=True)
            failures += check_vision(args, scratch)
    finally:
        if args.workdir or args.keep:
            print(f"# files kept in {workdir}")
        else:
            shutil.rmtree(workdir)
    print("PASS" if failures == 0 else f"FAIL ({failures} taps over 1e-20)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
