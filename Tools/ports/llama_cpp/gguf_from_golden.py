#!/usr/bin/env python3
"""A golden set's checkpoint as a float32 GGUF for llama.cpp's `mistral4` architecture.

    gguf_from_golden.py SET OUT.gguf [--llama4-temperature]

llama.cpp's own converter (convert_hf_to_gguf.py: Mistral3Model.Mistral4Model, a DeepseekV2Model) cannot take a
golden set: the set has no tokenizer, and the converter needs torch and transformers. This script writes what the
converter writes for a `Mistral3ForConditionalGeneration` checkpoint with a `mistral4` text config, the same
metadata keys from the same config fields and the same tensor names (gguf's TensorNameMap) and transforms:
kv_b_proj split per head into attn_k_b (transposed, [n_head, r_kv, d_nope]) and attn_v_b ([n_head, d_v, r_kv]),
the fused experts.gate_up_proj kept fused (ffn_gate_up_exps), the `language_model.` prefix dropped, the vision
tower and projector left out. The vocabulary is `tokenizer.ggml.model = none` with `vocab_size` dummy tokens
(the inputs are token ids). Every tensor is float32: the BF16 weights are exact in float32.

An FP8 set (manifest profile fp8-static, fp8-static-vllm or hf-fp8-static) stores the BF16 weights its FP8 ones
derive from (spec/quant.md §6): the quantized projections are written dequantized, w = E(W / s_w) · s_w (eq. 9;
s_w per tensor, per expert, shared by an MLP's gate_proj and up_proj), which float32 holds to 2^-24. The static
activation scales s_a (eq. 2–3, 10) have no place in a GGUF: llama.cpp's graph has no activation quantization,
so it runs such a set as weight-only FP8.

The converter writes no Llama-4 query temperature for this architecture (llama_4_scaling_beta is read only by
its Ministral3 and Mistral-format paths), so llama.cpp runs mistral4 GGUFs without τ (spec/rope.md eq. 11).
--llama4-temperature adds the two keys llama.cpp's deepseek2 loader reads for it
(`attention.temperature_scale` = llama_4_scaling_beta, `attention.temperature_length` =
original_max_position_embeddings), to check the rest of llama.cpp's graph at large positions.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import gguf

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hostile"))
from kit import read_st  # noqa: E402
from make_checkpoint import e4m3_codes, e4m3_values  # noqa: E402  E(·): nearest even, saturating at ±448


class Refused(Exception):
    """A checkpoint this script cannot write: one line, exit 1."""


def f32(dtype: str, shape: list, raw: bytes, name: str) -> np.ndarray:
    """A stored tensor as float32: BF16 widened exactly (its 16 bits are the top half of a float32)."""
    if dtype == "BF16":
        return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if dtype == "F32":
        return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
    raise Refused(f"model.safetensors: tensor {name} is {dtype}; only BF16 and F32 weights are written")


FP8_PROFILES = ("fp8-static", "fp8-static-vllm", "hf-fp8-static")
FP8_LEAVES = ("q_a_proj.weight", "q_b_proj.weight", "q_proj.weight", "kv_a_proj_with_mqa.weight", "kv_b_proj.weight",
              "o_proj.weight", "gate_proj.weight", "up_proj.weight", "down_proj.weight", "experts.gate_up_proj",
              "experts.down_proj")  # spec/quant.md §6: the text decoder's attention and MLP projections
MLP_TWINS = ((".gate_proj.", ".up_proj."), (".up_proj.", ".gate_proj."))


def fp8_dequantized(stored: dict) -> dict:
    """Each quantized weight as E(W / s_w) · s_w with s_w = F(amax / 448) over its scale group (eq. 9)."""
    out = dict(stored)
    for name, w in stored.items():
        if not (name.startswith("model.language_model.layers.") and name.endswith(FP8_LEAVES)):
            continue
        if name.endswith((".experts.gate_up_proj", ".experts.down_proj")):
            group = np.abs(w.astype(np.float64)).reshape(w.shape[0], -1).max(axis=1)[:, None, None]  # per expert
        else:  # per tensor, but an MLP's gate_proj and up_proj share one scale
            twin = next((name.replace(a, b) for a, b in MLP_TWINS if a in name), name)
            group = max(np.abs(w).max(), np.abs(stored[twin]).max())
        scale = np.where(group > 0, np.float32(group) / np.float32(448), 1.0).astype(np.float64)
        out[name] = (e4m3_values(e4m3_codes(w.astype(np.float64) / scale)) * scale).astype(np.float32)
    return out


def text_config(set_dir: Path) -> dict:
    config = json.loads((set_dir / "config.json").read_text())
    text = {**config, **config.get("text_config", {})}  # the converter's TextModel lifts text_config
    if text.get("model_type") != "mistral4":
        raise Refused(f"{set_dir / 'config.json'}: text model_type {text.get('model_type')!r} is not mistral4")
    return text


def write_metadata(w: gguf.GGUFWriter, c: dict, temperature: bool) -> None:
    """The keys of TextModel.set_gguf_parameters and DeepseekV2Model.set_gguf_parameters, in their order."""
    rope = c["rope_parameters"]
    w.add_block_count(c["num_hidden_layers"])
    w.add_context_length(c["max_position_embeddings"])
    w.add_embedding_length(c["hidden_size"])
    w.add_feed_forward_length(c["intermediate_size"])
    w.add_head_count(c["num_attention_heads"])
    w.add_head_count_kv(1)  # MLA runs as MQA over the latent
    if rope["rope_type"] != "yarn":
        raise Refused(f"config.json: rope_type {rope['rope_type']!r} is not yarn")
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(rope["factor"])
    w.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
    w.add_rope_scaling_yarn_beta_fast(rope["beta_fast"])
    w.add_rope_scaling_yarn_beta_slow(rope["beta_slow"])
    w.add_rope_freq_base(rope["rope_theta"])
    w.add_layer_norm_rms_eps(c["rms_norm_eps"])
    w.add_expert_count(c["n_routed_experts"])
    w.add_expert_used_count(c["num_experts_per_tok"])
    w.add_expert_group_count(c["n_group"])
    w.add_expert_group_used_count(c["topk_group"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_leading_dense_block_count(c["first_k_dense_replace"])
    w.add_vocab_size(c["vocab_size"])
    w.add_q_lora_rank(c["q_lora_rank"])
    w.add_kv_lora_rank(c["kv_lora_rank"])
    w.add_key_length(c["kv_lora_rank"] + c["qk_rope_head_dim"])
    w.add_value_length(c["kv_lora_rank"])
    w.add_key_length_mla(c["qk_nope_head_dim"] + c["qk_rope_head_dim"])
    w.add_value_length_mla(c["v_head_dim"])
    w.add_expert_feed_forward_length(c["moe_intermediate_size"])
    w.add_expert_shared_count(c["n_shared_experts"])
    w.add_expert_weights_scale(c["routed_scaling_factor"])
    if c["norm_topk_prob"]:
        w.add_expert_weights_norm(True)
    w.add_rope_dimension_count(c["qk_rope_head_dim"])
    w.add_rope_scaling_yarn_log_mul(0.1 * rope["mscale_all_dim"])  # the converter's [TAG_DEEPSEEK2_YARN_LOG_MUL_FIX]
    if temperature:
        w.add_attn_temperature_scale(rope["llama_4_scaling_beta"])
        w.add_attn_temperature_length(rope["original_max_position_embeddings"])
    w.add_tokenizer_model("none")


def tensors(set_dir: Path, c: dict):
    """(GGUF name, float32 array in the checkpoint's row-major shape) for every text tensor."""
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.MISTRAL4, c["num_hidden_layers"])
    heads, nope, dv = c["num_attention_heads"], c["qk_nope_head_dim"], c["v_head_dim"]
    checkpoint, _ = read_st(set_dir / "model.safetensors")
    stored = {name: f32(dtype, shape, raw, name) for name, dtype, shape, raw in checkpoint
              if name == "lm_head.weight" or name.startswith("model.language_model.")}  # no vision tower, projector
    if json.loads((set_dir / "manifest.json").read_text())["profile"] in FP8_PROFILES:
        stored = fp8_dequantized(stored)
    for name, data in stored.items():
        hf = name.replace("language_model.", "")
        hf = hf if hf.endswith(".weight") else hf + ".weight"  # fused experts are stored without .weight
        if hf.endswith("kv_b_proj.weight"):
            kv_b = data.reshape(heads, nope + dv, -1)  # rows per head: [k_nope | v]
            yield names.get_name(hf.replace("kv_b_proj", "k_b_proj"), try_suffixes=(".weight",)), \
                np.ascontiguousarray(kv_b[:, :nope, :].transpose(0, 2, 1))  # [heads, r_kv, nope]
            yield names.get_name(hf.replace("kv_b_proj", "v_b_proj"), try_suffixes=(".weight",)), \
                np.ascontiguousarray(kv_b[:, nope:, :])  # [heads, dv, r_kv]
            continue
        mapped = names.get_name(hf, try_suffixes=(".weight",))
        if mapped is None:
            raise Refused(f"model.safetensors: tensor {name} has no mistral4 GGUF name")
        yield mapped, data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set", type=Path, help="a golden set holding config.json and model.safetensors")
    parser.add_argument("out", type=Path, help="the GGUF file to write")
    parser.add_argument("--llama4-temperature", action="store_true",
                        help="add the query temperature keys the converter leaves out")
    args = parser.parse_args()
    try:
        c = text_config(args.set)
        w = gguf.GGUFWriter(str(args.out), "mistral4")
        write_metadata(w, c, args.llama4_temperature)
        for name, data in tensors(args.set, c):
            w.add_tensor(name, data)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    except (Refused, OSError) as error:
        print(f"gguf_from_golden.py: {error}", file=sys.stderr)
        return 1
    except KeyError as error:
        print(f"gguf_from_golden.py: {args.set}: config.json or manifest.json has no field {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
