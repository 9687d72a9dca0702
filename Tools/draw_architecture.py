#!/usr/bin/env python3
"""Draw spec/figures/architecture.svg from a preset config: the layer stack, MLA with its shapes, the MoE block and
the vision path of Mistral Small 4. Every number in the figure is read from the config.

    python3 Tools/draw_architecture.py [--config Sources/MistralSmall4/Presets/full.json] [--out spec/figures/architecture.svg]
    python3 Tools/draw_architecture.py --check      # exit 1 when the committed figure is not what the config draws

Standard library only; the output is byte-for-byte deterministic. A missing file or field is one line on stderr
naming it, exit 1.
"""

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "Sources" / "MistralSmall4" / "Presets" / "full.json"
DEFAULT_OUT = ROOT / "spec" / "figures" / "architecture.svg"

WIDTH, HEIGHT = 1420, 930
PANEL_FILL = {"stack": "#eef3fb", "mla": "#f3f8ee", "moe": "#fbf3ea", "vision": "#f4eefb"}
BOX_FILL = "#ffffff"
CACHE_FILL = "#ffe9a8"
STROKE = "#46505a"


class ConfigError(Exception):
    pass


def field(config: dict, path: str):
    """config[a][b]… for `a.b…`, or ConfigError naming the field."""
    value = config
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise ConfigError(f"no field '{path}'")
        value = value[key]
    return value


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Canvas:
    def __init__(self):
        self.items = []

    def panel(self, x, y, w, h, title, kind):
        self.items.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="10" fill="{PANEL_FILL[kind]}" '
                          f'stroke="#c8ced6"/>')
        self.text(x + 14, y + 24, title, size=16, weight="bold")

    def box(self, x, y, w, h, title, shape="", fill=BOX_FILL):
        """A box with a title line and, below it, a shape line in monospace; returns its anchor points."""
        self.items.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="5" fill="{fill}" stroke="{STROKE}"/>')
        if shape:
            self.text(x + w / 2, y + h / 2 - 3, title, anchor="middle")
            self.text(x + w / 2, y + h / 2 + 13, shape, anchor="middle", mono=True, size=11)
        else:
            self.text(x + w / 2, y + h / 2 + 4, title, anchor="middle")
        return {"top": (x + w / 2, y), "bottom": (x + w / 2, y + h), "left": (x, y + h / 2), "right": (x + w, y + h / 2)}

    def text(self, x, y, text, size=13, anchor="start", weight="normal", mono=False, color="#1d232a"):
        family = "DejaVu Sans Mono, monospace" if mono else "DejaVu Sans, sans-serif"
        self.items.append(f'<text x="{x:g}" y="{y:g}" font-family="{family}" font-size="{size}" '
                          f'font-weight="{weight}" text-anchor="{anchor}" fill="{color}">{escape(text)}</text>')

    def arrow(self, *points, label=""):
        """A polyline through `points` with a head at the last one."""
        path = " ".join(f"{x:g},{y:g}" for x, y in points)
        self.items.append(f'<polyline points="{path}" fill="none" stroke="{STROKE}" stroke-width="1.4" '
                          f'marker-end="url(#head)"/>')
        if label:
            (x1, y1), (x2, y2) = points[-2], points[-1]
            self.text((x1 + x2) / 2 + 6, (y1 + y2) / 2 + 4, label, size=11, color="#5b6470")

    def svg(self) -> str:
        head = ('<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#46505a"/></marker></defs>')
        body = "\n".join(self.items)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
                f'viewBox="0 0 {WIDTH} {HEIGHT}">\n<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>\n'
                f'{head}\n{body}\n</svg>\n')


def draw(config: dict) -> str:
    t = field(config, "text_config")
    v = field(config, "vision_config")
    H, V, L = field(t, "hidden_size"), field(t, "vocab_size"), field(t, "num_hidden_layers")
    n, rq, rkv = field(t, "num_attention_heads"), field(t, "q_lora_rank"), field(t, "kv_lora_rank")
    dn, dr, dv = field(t, "qk_nope_head_dim"), field(t, "qk_rope_head_dim"), field(t, "v_head_dim")
    E, k, I = field(t, "n_routed_experts"), field(t, "num_experts_per_tok"), field(t, "moe_intermediate_size")
    shared = field(t, "n_shared_experts")
    rope = field(t, "rope_parameters")
    factor, original = field(rope, "factor"), field(rope, "original_max_position_embeddings")
    beta = field(rope, "llama_4_scaling_beta")
    Hv, Lv, Iv = field(v, "hidden_size"), field(v, "num_hidden_layers"), field(v, "intermediate_size")
    patch, side = field(v, "patch_size"), field(v, "image_size")
    merge = field(config, "spatial_merge_size")
    dqk = dn + dr
    c = Canvas()
    c.text(20, 32, f"Mistral Small 4 — {L} decoder layers, hidden {H}; T tokens, P image patches", size=20,
           weight="bold")

    # Panel A: the layer stack.
    c.panel(20, 50, 300, 860, "Layer stack", "stack")
    ids = c.box(50, 90, 240, 44, "input ids", "[T]")
    emb = c.box(50, 160, 240, 50, "embed_tokens", f"[T, {H}]")
    c.arrow(ids["bottom"], emb["top"])
    c.items.append(f'<rect x="40" y="250" width="260" height="420" rx="8" fill="none" stroke="{STROKE}" '
                   f'stroke-dasharray="5,4"/>')
    c.text(170, 270, f"× {L} decoder layers", anchor="middle", weight="bold")
    steps = [("input_layernorm", "RMSNorm"), ("self_attn", "MLA →"), ("+ residual", ""),
             ("post_attention_layernorm", "RMSNorm"), ("mlp", "MoE →"), ("+ residual", "")]
    previous = emb["bottom"]
    for index, (title, note) in enumerate(steps):
        y = 285 + index * 62
        box = c.box(60, y, 220, 44, title, note)
        c.arrow(previous, box["top"])
        previous = box["bottom"]
    norm = c.box(50, 700, 240, 44, "norm", "RMSNorm")
    c.arrow(previous, norm["top"])
    head = c.box(50, 780, 240, 50, "lm_head", f"[T, {V}]")
    c.arrow(norm["bottom"], head["top"])
    c.text(170, 860, "logits", anchor="middle", size=12, color="#5b6470")

    # Panel B: MLA with its shapes.
    c.panel(340, 50, 560, 860, "Multi-head latent attention (self_attn)", "mla")
    x = c.box(520, 80, 200, 44, "x (normed)", f"[T, {H}]")
    qa = c.box(370, 160, 230, 44, "q_a_proj", f"[T, {rq}]")
    qn = c.box(370, 230, 230, 44, "q_a_layernorm", "RMSNorm ε 1e-6")
    qb = c.box(370, 300, 230, 50, "q_b_proj", f"[T, {n} × ({dn} + {dr})]")
    split_q = c.box(370, 376, 230, 50, "split per head", f"q_nope {dn} | q_rope {dr}")
    rope_q = c.box(370, 452, 230, 50, "RoPE on q_rope", f"YaRN ×{factor:g}, interleaved")
    tau = c.box(370, 528, 230, 50, "τ(p) on the whole q", f"1 + {beta:g}·ln(1 + ⌊p/{original}⌋)")
    kva = c.box(640, 160, 240, 50, "kv_a_proj_with_mqa", f"[T, {rkv} + {dr}]")
    kvn = c.box(640, 236, 110, 50, "kv_a_layernorm", f"c [T, {rkv}]")
    kr = c.box(770, 236, 110, 50, "RoPE on k_r", f"[T, {dr}]")
    cache = c.box(640, 312, 240, 56, "latent cache", f"{rkv} + {dr} = {rkv + dr} / token / layer",
                  fill=CACHE_FILL)
    kvb = c.box(640, 394, 240, 50, "kv_b_proj", f"[T, {n} × ({dn} + {dv})]")
    split_kv = c.box(640, 470, 240, 50, "split per head", f"k_nope {dn} | v {dv}")
    c.arrow(x["bottom"], (620, 140), qa["top"])
    c.arrow(x["bottom"], (620, 140), kva["top"])
    for a, b in [(qa, qn), (qn, qb), (qb, split_q), (split_q, rope_q), (rope_q, tau)]:
        c.arrow(a["bottom"], b["top"])
    c.arrow(kva["bottom"], (760, 222), (695, 222), kvn["top"])
    c.arrow(kva["bottom"], (760, 222), (825, 222), kr["top"])
    c.arrow(kvn["bottom"], (695, 300), (700, 312))
    c.arrow(kr["bottom"], (825, 300), (820, 312))
    c.arrow(cache["bottom"], kvb["top"])
    c.arrow(kvb["bottom"], split_kv["top"])
    scores = c.box(420, 620, 420, 56, "scores q · [k_nope | k_r] × σ, causal mask",
                   f"σ = mscale² / √{dqk};  [{n}, T, T]")
    c.arrow(tau["bottom"], (485, 620))
    c.arrow(split_kv["bottom"], (760, 620), label="k")
    soft = c.box(420, 700, 420, 44, "softmax · v", f"[T, {n} × {dv}]")
    c.arrow(scores["bottom"], soft["top"])
    c.arrow(split_kv["right"], (888, 495), (888, 722), soft["right"], label="v")
    out = c.box(520, 770, 220, 50, "o_proj", f"[T, {H}]")
    c.arrow(soft["bottom"], out["top"])
    c.text(620, 850, "absorbed (decode): W_UK folded into q, scores over the", anchor="middle", size=12,
           color="#5b6470")
    c.text(620, 866, f"{rkv + dr}-wide cache rows, W_UV after the sum (Appendix A)", anchor="middle", size=12,
           color="#5b6470")

    # Panel C: the MoE block.
    c.panel(920, 50, 480, 420, "Mixture of experts (mlp)", "moe")
    mx = c.box(1060, 80, 200, 44, "x (normed)", f"[T, {H}]")
    gate = c.box(940, 150, 210, 50, "gate (router)", f"[T, {E}] logits")
    route = c.box(940, 226, 210, 50, f"softmax, top-{k}", "renormalize (+1e-20)")
    experts = c.box(940, 310, 210, 64, f"{k} of {E} routed experts", f"SwiGLU {H}→{I}→{H}")
    shared_box = c.box(1170, 310, 210, 64, f"{shared} shared expert", f"SwiGLU {H}→{I * shared}→{H}")
    combine = c.box(1060, 400, 200, 44, "weighted sum + shared", f"[T, {H}]")
    c.arrow(mx["bottom"], (1160, 138), (1045, 138), gate["top"])
    c.arrow(gate["bottom"], route["top"])
    c.arrow(route["bottom"], experts["top"], label="weights, ids")
    c.arrow(mx["bottom"], (1160, 138), (1275, 138), shared_box["top"])
    c.arrow(experts["bottom"], (1045, 388), (1120, 388), (1120, 400))
    c.arrow(shared_box["bottom"], (1275, 388), (1200, 388), (1200, 400))
    c.text(1160, 463, "gate_up fused [E, 2I, H]: gate rows, then up rows", anchor="middle", size=11,
           color="#5b6470")

    # Panel D: the vision path.
    c.panel(920, 490, 480, 420, "Vision path (Pixtral tower, projector)", "vision")
    px = c.box(940, 525, 200, 44, "pixels", f"[3, H, W], side ≤ {side}")
    conv = c.box(1180, 525, 200, 44, "patch_conv", f"{patch}×{patch} → [P, {Hv}]")
    tower = c.box(1180, 595, 200, 64, f"× {Lv} Pixtral blocks", f"2D RoPE, per-image attn")
    pnorm = c.box(1180, 685, 200, 44, "projector norm", f"[P, {Hv}]")
    merger = c.box(940, 685, 200, 50, f"patch_merger {merge}×{merge}", f"[P/{merge * merge}, {Hv}]")
    mlp = c.box(940, 760, 200, 58, "linear_1, GELU, linear_2", f"[P/{merge * merge}, {H}]")
    c.arrow(px["right"], conv["left"])
    c.arrow(conv["bottom"], tower["top"])
    c.arrow(tower["bottom"], pnorm["top"])
    c.arrow(pnorm["left"], merger["right"])
    c.arrow(merger["bottom"], mlp["top"])
    c.text(1280, 790, f"ln_pre first; blocks: SwiGLU {Hv}→{Iv}", anchor="middle", size=11, color="#5b6470")
    c.text(1280, 806, "attention block-diagonal over images", anchor="middle", size=11, color="#5b6470")
    c.arrow(mlp["bottom"], (1040, 895), (310, 895), (310, 185), emb["right"], label="")
    c.text(660, 890, "image features replace the [IMG] token rows of the embeddings", anchor="middle", size=12,
           color="#5b6470")
    return c.svg()


def write_atomically(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".tmp-")
    with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)
    os.replace(temporary, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = parser.parse_args()
    try:
        config = json.loads(args.config.read_text(encoding="utf-8"))
        svg = draw(config)
    except OSError as error:
        print(f"{args.config}: cannot be read ({error.strerror})", file=sys.stderr)
        return 1
    except json.JSONDecodeError as error:
        print(f"{args.config}: not JSON ({error.msg}, line {error.lineno})", file=sys.stderr)
        return 1
    except ConfigError as error:
        print(f"{args.config}: {error}", file=sys.stderr)
        return 1
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
        if current != svg:
            print(f"{args.out}: differs from what {args.config} draws; run Tools/draw_architecture.py", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date")
        return 0
    write_atomically(args.out, svg)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
