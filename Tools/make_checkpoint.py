#!/usr/bin/env python3
"""Writes a small FP8 checkpoint in both of Mistral Small 4's layouts (spec/checkpoints.md), from a BF16 Hugging Face
checkpoint such as `assay export-checkpoint --preset tiny-vision` writes:

    hf-fp8/        config.json with quantization_config; two shards and model.safetensors.index.json; transformers'
                   names; each quantized linear as `weight` F8_E4M3 + `weight_scale_inv` F32 [] + `activation_scale`
                   F32 []; routed experts fused: `experts.gate_up_proj` [E, 2I, H] + `gate_up_proj_scale_inv`
                   [E, 1, 1] + `gate_up_proj_activation_scale` [E], the same for `down_proj`
    mistral-fp8/   params.json; consolidated.safetensors (no index); Mistral's names (`layers.N.attention.wq_a`,
                   `layers.N.experts.E.w1`, `tok_embeddings`, `output`, `vision_encoder.…`); `qscale_weight` /
                   `qscale_act` F32 []; vision q/k rows in native (interleaved-pair) order
    hf-fp8-halves/ hf-fp8 in one model.safetensors, except that the fused experts keep each half's own scale as
                   transformers' FP8Experts stores it: `gate_up_proj` holds w1's and w3's codes unchanged beside
                   `gate_up_proj_scale_inv` F32 [E, 2, 1] = [s_w1, s_w3] (activation scale max(s_a1, s_a3))
    expert-halves-cases.safetensors
                   `input` F64 [4, H] (standard normal, PCG64 with --seed + 1) and, for every routed expert e of
                   every MoE layer N, `layers.N.experts.e.output` F64 [4, H]: that expert of hf-fp8-halves on the
                   input, emulated here in float64 (spec/quant.md eq. 2 and 4 per half, spec/experts.md eq. 1)

The Mistral layout is the source: every quantized weight (each expert's w1, w2, w3 apart) gets its own scale
s_w = f32(amax / 448) and E4M3 codes round-to-nearest-even, and its own activation scale s_a = f32(u / 448), u drawn
uniformly from [4, 16) by numpy's PCG64 with --seed. The Hugging Face layout is what transformers'
convert_mistral4_weight_to_hf.py makes of it: w1 and w3 fused under max(s_w1, s_w3), the other half requantized
as E4M3(bf16(code * f32(s / s_max))), activation scale max(s_a1, s_a3). The Swift loader fuses Mistral's experts
itself, so the two layouts giving the same taps checks that rule from two implementations.

Needs numpy. The output is byte-identical for the same input and seed.

    python3 Tools/make_checkpoint.py --source DIR --out DIR [--seed 0]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from make_bad_safetensors import valid  # the stdlib safetensors writer of the bad-input corpus

E4M3_MAX = 448.0
# The 127 finite non-negative E4M3 values, by code (code 126 = 448; 127 is NaN).
E4M3 = np.array([(c >> 3 and (1 + (c & 7) / 8) * 2.0 ** ((c >> 3) - 7)) or (c & 7) / 8 * 2.0 ** -6
                 for c in range(127)])

QUANTIZED = ("q_a_proj", "q_b_proj", "q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj",
             "down_proj")


# --- numbers ---------------------------------------------------------------------------------------------------

def f32(x):
    return float(np.float32(x))


def bf16_round(x):
    """float32 array -> nearest bfloat16 values (ties to even), as float32."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return bits.astype(np.uint32).view(np.float32)


def e4m3_codes(x):
    """float array -> E4M3 byte codes, round to nearest with ties to the even code, saturating at +-448."""
    a = np.minimum(np.abs(np.asarray(x, dtype=np.float64)), E4M3_MAX)
    upper = np.clip(np.searchsorted(E4M3, a), 1, 126)
    lower = upper - 1
    d_low, d_up = a - E4M3[lower], E4M3[upper] - a
    code = np.where(d_low < d_up, lower, np.where(d_up < d_low, upper, np.where(lower % 2 == 0, lower, upper)))
    return (code | np.where(np.signbit(x), 0x80, 0)).astype(np.uint8)


def e4m3_values(codes):
    magnitude = E4M3[codes & 0x7F]
    return np.where(codes & 0x80, -magnitude, magnitude)


def bf16_round64(x):
    """float64 array -> nearest bfloat16 values (8 significant bits, ties to even), as float64: no float32 step."""
    mantissa, exponent = np.frexp(np.asarray(x, dtype=np.float64))
    return np.ldexp(np.round(mantissa * 256), exponent - 8)


def quantize(w):
    """A weight -> (codes, s_w): one scale per tensor, s_w = f32(amax / 448)."""
    scale = f32(float(np.abs(w).max()) / E4M3_MAX) or 1.0
    return e4m3_codes(w / scale), scale


def requantize(codes, scale, fused):
    """transformers' _rescale_fp8: E4M3(bf16(code * f32(scale / fused))), clamped to +-448."""
    if scale == fused:
        return codes
    ratio = np.float32(scale) / np.float32(fused)
    product = bf16_round(e4m3_values(codes).astype(np.float32) * ratio)
    return e4m3_codes(np.clip(product, -E4M3_MAX, E4M3_MAX))


# --- safetensors -----------------------------------------------------------------------------------------------

def read_safetensors(path):
    """name -> (dtype, shape, raw bytes), in file order."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    header.pop("__metadata__", None)
    data = blob[8 + length:]
    return {name: (e["dtype"], e["shape"], data[e["data_offsets"][0]:e["data_offsets"][1]]) for name, e in header.items()}


def as_float(dtype, shape, raw):
    if dtype == "BF16":
        return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if dtype in ("F32", "F64"):
        return np.frombuffer(raw, dtype=np.float32 if dtype == "F32" else np.float64).reshape(shape)
    sys.exit(f"make_checkpoint.py: source tensor of dtype {dtype}; expected BF16, F32 or F64")


def bf16(x):
    return ("BF16", list(np.shape(x)), (bf16_round(x).view(np.uint32) >> 16).astype("<u2").tobytes())


def fp8(codes):
    return ("F8_E4M3", list(codes.shape), codes.tobytes())


def scalar(value, shape=()):
    return ("F32", list(shape), np.full(shape, value, dtype="<f4").tobytes())


def write(path, tensors, metadata=None):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(valid(tensors, metadata))
    os.replace(tmp, path)


def f64(x):
    return ("F64", list(np.shape(x)), np.asarray(x, dtype="<f8").tobytes())


def write_json(path, document):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


# --- names -----------------------------------------------------------------------------------------------------

LAYER_MODULES = [("input_layernorm", "attention_norm"), ("post_attention_layernorm", "ffn_norm"),
                 ("self_attn.q_a_proj", "attention.wq_a"), ("self_attn.q_b_proj", "attention.wq_b"),
                 ("self_attn.q_proj", "attention.wq"), ("self_attn.kv_a_proj_with_mqa", "attention.wkv_a_with_mqa"),
                 ("self_attn.kv_b_proj", "attention.wkv_b"), ("self_attn.o_proj", "attention.wo"),
                 ("self_attn.q_a_layernorm", "attention.q_a_norm"), ("self_attn.kv_a_layernorm", "attention.kv_a_norm"),
                 ("mlp.gate", "gate"), ("mlp.shared_experts.gate_proj", "shared_experts.w1"),
                 ("mlp.shared_experts.up_proj", "shared_experts.w3"), ("mlp.shared_experts.down_proj", "shared_experts.w2"),
                 ("mlp.gate_proj", "feed_forward.w1"), ("mlp.up_proj", "feed_forward.w3"),
                 ("mlp.down_proj", "feed_forward.w2")]
VISION_PREFIXES = [("model.vision_tower.", "vision_encoder."),
                   ("model.multi_modal_projector.linear_1.", "vision_language_adapter.w_in."),
                   ("model.multi_modal_projector.linear_2.", "vision_language_adapter.w_out."),
                   ("model.multi_modal_projector.norm.", "pre_mm_projector_norm."),
                   ("model.multi_modal_projector.patch_merger.", "patch_merger.")]
VISION_MODULES = [("attention.q_proj.", "attention.wq."), ("attention.k_proj.", "attention.wk."),
                  ("attention.v_proj.", "attention.wv."), ("attention.o_proj.", "attention.wo."),
                  ("feed_forward.gate_proj.", "feed_forward.w1."), ("feed_forward.up_proj.", "feed_forward.w3."),
                  ("feed_forward.down_proj.", "feed_forward.w2.")]


def mistral_name(name, prefix):
    if name == "lm_head.weight":
        return "output.weight"
    if name == prefix + ".embed_tokens.weight":
        return "tok_embeddings.weight"
    if name == prefix + ".norm.weight":
        return "norm.weight"
    if name.startswith(prefix + ".layers."):
        _, layer, rest = name[len(prefix) + 1:].split(".", 2)
        for hf, mistral in LAYER_MODULES:
            if rest.startswith(hf + "."):
                return f"layers.{layer}.{mistral}{rest[len(hf):]}"
    for hf, mistral in VISION_PREFIXES:
        if name.startswith(hf):
            renamed = mistral + name[len(hf):]
            for module, native in VISION_MODULES:
                renamed = renamed.replace(module, native, 1)
            return renamed
    sys.exit(f"make_checkpoint.py: no Mistral name for '{name}'")


def native_rows(w, heads):
    """Undo transformers' vision q/k permutation: native row h*d + 2i + s <- HF row h*d + s*d/2 + i."""
    d = w.shape[0] // heads
    return w.reshape(heads, 2, d // 2, -1).transpose(0, 2, 1, 3).reshape(w.shape)


def is_quantized(name, prefix):
    if not name.startswith(prefix + ".layers.") or (".self_attn." not in name and ".mlp." not in name):
        return False
    return name.endswith(tuple(f"{m}.weight" for m in QUANTIZED)) or name.endswith(("experts.gate_up_proj",
                                                                                    "experts.down_proj"))


# --- params.json -----------------------------------------------------------------------------------------------

PARAMS = [("dim", "hidden_size"), ("n_layers", "num_hidden_layers"), ("hidden_dim", "intermediate_size"),
          ("n_heads", "num_attention_heads"), ("n_kv_heads", "num_key_value_heads"), ("norm_eps", "rms_norm_eps"),
          ("vocab_size", "vocab_size"), ("max_seq_len", "max_position_embeddings"), ("q_lora_rank", "q_lora_rank"),
          ("kv_lora_rank", "kv_lora_rank"), ("qk_nope_head_dim", "qk_nope_head_dim"),
          ("qk_rope_head_dim", "qk_rope_head_dim"), ("v_head_dim", "v_head_dim"), ("tied_embeddings", "tie_word_embeddings")]
MOE = [("num_experts", "n_routed_experts"), ("num_experts_per_tok", "num_experts_per_tok"),
       ("expert_hidden_dim", "moe_intermediate_size"), ("num_shared_experts", "n_shared_experts"),
       ("first_k_dense_replace", "first_k_dense_replace"), ("routed_scale", "routed_scaling_factor"),
       ("num_expert_groups", "n_group"), ("num_expert_groups_per_tok", "topk_group")]
VISION = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "head_dim", "num_channels",
          "image_size", "patch_size"]


def params_json(config):
    text = config.get("text_config", config)
    rope = text["rope_parameters"]
    params = {mistral: text[hf] for mistral, hf in PARAMS if hf in text}
    params["rope_theta"] = rope["rope_theta"]
    params["yarn"] = {"original_max_position_embeddings": rope["original_max_position_embeddings"],
                      "factor": rope["factor"], "beta": rope["beta_fast"], "alpha": rope["beta_slow"]}
    params["llama_4_scaling"] = {"original_max_position_embeddings": rope["original_max_position_embeddings"],
                                 "beta": rope["llama_4_scaling_beta"]}
    params["moe"] = {mistral: text[hf] for mistral, hf in MOE}
    if "vision_config" in config:
        vision = config["vision_config"]
        params["vision_encoder"] = {key: vision[key] for key in VISION if key in vision}
        params["vision_encoder"].update(rope_theta=vision["rope_parameters"]["rope_theta"],
                                        spatial_merge_size=config["spatial_merge_size"],
                                        image_token_id=config["image_token_index"],
                                        adapter_bias=config["multimodal_projector_bias"])
    params["quantization"] = {"qformat_weight": "fp8_e4m3", "qscheme_act": "TENSOR"}
    return params


# --- the two layouts -------------------------------------------------------------------------------------------

def make(source, out, seed):
    with open(os.path.join(source, "config.json")) as f:
        config = json.load(f)
    tensors = read_safetensors(os.path.join(source, "model.safetensors"))
    prefix = "model.language_model" if "text_config" in config else "model"
    heads = config.get("vision_config", {}).get("num_attention_heads", 1)
    rng = np.random.Generator(np.random.PCG64(seed))

    def activation_scale():
        return f32(rng.uniform(4, 16) / E4M3_MAX)

    mistral, hf, halves, expert_parts = {}, {}, {}, {}
    for name, stored in tensors.items():
        w = as_float(*stored)
        if not is_quantized(name, prefix):
            hf[name] = bf16(w)
            native = native_rows(w, heads) if name.endswith(("attention.q_proj.weight", "attention.k_proj.weight")) \
                and name.startswith("model.vision_tower.") else w
            mistral[mistral_name(name, prefix)] = bf16(native)
        elif name.endswith("experts.gate_up_proj") or name.endswith("experts.down_proj"):
            expert_parts[name] = experts(name, w, mistral, hf, halves, activation_scale)
        else:
            codes, s_w = quantize(w)
            s_a = activation_scale()
            module = name[:-len(".weight")]
            hf.update({name: fp8(codes), module + ".weight_scale_inv": scalar(s_w),
                       module + ".activation_scale": scalar(s_a)})
            stored_module = mistral_name(name, prefix)[:-len(".weight")]
            mistral.update({stored_module + ".weight": fp8(codes), stored_module + ".qscale_weight": scalar(s_w),
                            stored_module + ".qscale_act": scalar(s_a)})

    hf_dir, mistral_dir = os.path.join(out, "hf-fp8"), os.path.join(out, "mistral-fp8")
    halves_dir = os.path.join(out, "hf-fp8-halves")
    for directory in (hf_dir, mistral_dir, halves_dir):
        os.makedirs(directory, exist_ok=True)
    write(os.path.join(mistral_dir, "consolidated.safetensors"), mistral)
    write_json(os.path.join(mistral_dir, "params.json"), params_json(config))

    x = np.random.Generator(np.random.PCG64(seed + 1)).standard_normal((4, tensors[prefix + ".norm.weight"][1][0]))
    write(os.path.join(out, "expert-halves-cases.safetensors"), dict(input=f64(x), **emulated_experts(x, expert_parts)))

    config = dict(config, quantization_config={
        "quant_method": "fp8", "activation_scheme": "static", "weight_block_size": None,
        "modules_to_not_convert": ["model.vision_tower", "model.multi_modal_projector", "lm_head"]})
    write_json(os.path.join(halves_dir, "config.json"), config)
    write(os.path.join(halves_dir, "model.safetensors"), {**hf, **halves}, {"format": "pt"})
    write_json(os.path.join(hf_dir, "config.json"), config)
    names = list(hf)
    halves = {"model-00001-of-00002.safetensors": names[:len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    for shard, members in halves.items():
        write(os.path.join(hf_dir, shard), {n: hf[n] for n in members}, {"format": "pt"})
    write_json(os.path.join(hf_dir, "model.safetensors.index.json"), {
        "metadata": {"total_size": sum(len(t[2]) for t in hf.values())},
        "weight_map": {n: shard for shard, members in halves.items() for n in members}})
    print(f"wrote {len(hf)} tensors to {hf_dir} and {halves_dir}, {len(mistral)} to {mistral_dir}")


def experts(name, w, mistral, hf, halves, activation_scale):
    """Per-expert Mistral tensors, the fused Hugging Face ones the converter makes of them, and the fused ones
    that keep each half's scale (`halves`). Returns each expert's parts as (codes, s_w, s_a)."""
    layer = name.split(".layers.")[1].split(".")[0]
    parts = ("w1", "w3") if name.endswith("gate_up_proj") else ("w2",)
    rows = w.shape[1] // len(parts)
    fused_codes, fused_scales, fused_activations, per_expert = [], [], [], []
    for e in range(w.shape[0]):
        quantized = []
        for k, part in enumerate(parts):
            codes, s_w = quantize(w[e, k * rows:(k + 1) * rows])
            s_a = activation_scale()
            module = f"layers.{layer}.experts.{e}.{part}"
            mistral.update({module + ".weight": fp8(codes), module + ".qscale_weight": scalar(s_w),
                            module + ".qscale_act": scalar(s_a)})
            quantized.append((codes, s_w, s_a))
        s_max = max(s for _, s, _ in quantized)
        fused_codes.append(np.concatenate([requantize(c, s, s_max) for c, s, _ in quantized]))
        fused_scales.append(s_max)
        fused_activations.append(max(a for _, _, a in quantized))
        per_expert.append(quantized)
    experts_count = w.shape[0]
    hf[name] = fp8(np.stack(fused_codes))
    hf[name + "_scale_inv"] = ("F32", [experts_count, 1, 1], np.array(fused_scales, dtype="<f4").tobytes())
    hf[name + "_activation_scale"] = ("F32", [experts_count], np.array(fused_activations, dtype="<f4").tobytes())
    half_scales = np.array([[s for _, s, _ in quantized] for quantized in per_expert], dtype="<f4")
    halves[name] = fp8(np.stack([np.concatenate([c for c, _, _ in quantized]) for quantized in per_expert]))
    halves[name + "_scale_inv"] = ("F32", [experts_count, len(parts), 1], half_scales.tobytes())   # [E, 2, 1]
    return [[(c, s, a) for c, s, _ in quantized] for quantized, a in zip(per_expert, fused_activations)]


def emulated_linear(x, codes, s_w, s_a):
    """spec/quant.md eq. (2) and (4) in float64: x_q = E4M3(bf16(x / s_a)), y = (x_q · w_qᵀ) · s_a · s_w, summed
    exactly (every partial sum of E4M3 products is a multiple of 2^-18 far below 2^53 of them)."""
    x_q = e4m3_values(e4m3_codes(bf16_round64(x / s_a)))
    return (x_q @ e4m3_values(codes).T) * s_a * s_w


def emulated_experts(x, expert_parts):
    """Every routed expert of hf-fp8-halves on `x`: gate and up each under its own s_w and the shared s_a, then
    silu(gate) * up, then down (spec/experts.md eq. 1)."""
    cases = {}
    for name, gate_up in expert_parts.items():
        if not name.endswith("experts.gate_up_proj"):
            continue
        layer = name.split(".layers.")[1].split(".")[0]
        down = expert_parts[name[:-len("gate_up_proj")] + "down_proj"]
        for e, ((gate, up), (w2,)) in enumerate(zip(gate_up, down)):
            g, u = emulated_linear(x, *gate), emulated_linear(x, *up)
            cases[f"layers.{layer}.experts.{e}.output"] = f64(emulated_linear(g / (1 + np.exp(-g)) * u, *w2))
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="BF16 Hugging Face checkpoint (config.json, model.safetensors)")
    parser.add_argument("--out", required=True, help="directory to write hf-fp8/ and mistral-fp8/ into")
    parser.add_argument("--seed", type=int, default=0, help="seed of the activation scales")
    args = parser.parse_args()
    make(args.source, args.out, args.seed)


if __name__ == "__main__":
    main()
