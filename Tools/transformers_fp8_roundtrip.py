#!/usr/bin/env python3
"""Loads a Hugging Face FP8 checkpoint (static activations, no weight blocks) into transformers' own FP8 modules
and saves it back with `save_pretrained`, on CPU (spec/checkpoints.md §6).

The model is built from the checkpoint's config.json on the meta device, its linears and experts swapped for
transformers' `FP8Linear` and `FP8Experts` (`replace_with_fp8_linear`, as the FP8 quantizer does), and the stored
tensors assigned with `load_state_dict(strict=True)`: every name and shape must be the one transformers allocates
(transformers 5.25's FP8Experts allocates `gate_up_proj_scale_inv` [E, 2, 1], so the [E, 1, 1] fixture hf-fp8 is
refused and hf-fp8-halves is taken). Nothing runs forward: transformers' static FP8 matmul is a kernels-hub kernel,
and its CPU fallback dequantizes instead of keeping FP8 modules.

    python Tools/transformers_fp8_roundtrip.py --checkpoint DIR --out DIR
    assay forward --checkpoint DIR … and --checkpoint OUT …   # the same taps, byte for byte

Needs torch, transformers (5.x) and safetensors (README, Performance: /tmp/tfenv).
"""
import argparse
import glob
import os

import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForImageTextToText, FineGrainedFP8Config
from transformers.integrations.finegrained_fp8 import replace_with_fp8_linear


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="Hugging Face FP8 checkpoint directory")
    parser.add_argument("--out", required=True, help="directory save_pretrained writes")
    args = parser.parse_args()

    config = AutoConfig.from_pretrained(args.checkpoint)
    stored = config.quantization_config
    quantization = FineGrainedFP8Config(activation_scheme=stored["activation_scheme"],
                                        weight_block_size=stored.get("weight_block_size"),
                                        modules_to_not_convert=stored.get("modules_to_not_convert"))
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    model = replace_with_fp8_linear(model, quantization.modules_to_not_convert, quantization, pre_quantized=True)
    tensors = {}
    for shard in sorted(glob.glob(os.path.join(args.checkpoint, "*.safetensors"))):
        tensors.update(load_file(shard))
    model.load_state_dict(tensors, strict=True, assign=True)
    experts = [name for name, module in model.named_modules() if type(module).__name__ == "FP8Experts"]
    model.save_pretrained(args.out)
    print(f"{len(tensors)} tensors through transformers' FP8 modules ({len(experts)} FP8Experts) into {args.out}")


if __name__ == "__main__":
    main()
