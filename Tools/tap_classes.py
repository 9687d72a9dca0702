"""The tolerance class of every tap, from its name alone (spec/goldens.md §4, spec/taps.md): what
Tools/conform.py compares by, so a golden set's manifest cannot choose its own limits. Stdlib only; a CLI check
(Tools/lib/cli-checks) holds it to Assay's tap table (Graph/TapKinds.swift) over every committed manifest."""

import re

# (class, pattern of the whole name); `(model\.language_model|model)` because a text-only model's taps start with
# `model.`. The first match decides.
RULES = [
    ("logits", r"lm_head"),
    ("router_indices", r".*\.mlp\.gate#indices"),
    ("margin", r".*\.mlp\.gate#margin"),
    ("router", r".*\.mlp\.gate#(logits|weights)"),
    ("exact", r"(model\.language_model|model)(#inputs_embeds|\.embed_tokens)"),
    ("norm", r".*\.(input_layernorm|post_attention_layernorm|attention_norm|ffn_norm)|.*\.norm|model\.vision_tower\.ln_pre"),
    ("matmul", r"model\.multi_modal_projector(\.patch_merger)?|model\.vision_tower\.patch_conv"),
    ("attention", r".*\.layers\.\d+\.(self_attn(#kv_latent)?|attention)"),
    ("mlp", r".*\.layers\.\d+\.(mlp(\.experts|\.shared_experts)?|feed_forward)"),
    ("block", r"(model\.language_model|model|model\.vision_tower\.transformer)\.layers\.\d+|model\.vision_tower"),
]


def tolerance_class(name):
    """The spec's class of tap `name`, or None for a name that is no tap of the model."""
    return next((kind for kind, pattern in RULES if re.fullmatch(pattern, name)), None)
