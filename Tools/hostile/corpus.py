"""The hostile-input corpus (issue 22): each case builds its bad input in a directory of its own and names the
`assay` command to run there, the exit code and the exact one-line message (or the verdict) it must give. Golden
sets are forged from goldens/tiny and goldens/tiny-vision with their checksums rewritten, so verify's sha256 checks
pass and only what the file means is wrong."""

import math
import os
import struct

from kit import edit_text, forge_set, pack_f32, read_st, replace_tensor, sha, write_st

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(REPO, "goldens", "tiny")
START_TAPS = os.path.join(TINY, "start.taps.safetensors")
START_INPUTS = os.path.join(TINY, "start.inputs.safetensors")
INDICES = "model.language_model.layers.1.mlp.gate#indices"
LM_HEAD = "lm_head"
CASES = []


def case(name, exit_code=1, message=None, stdout_has=None, after=None):
    """Registers `build(dir) -> args` as corpus case `name`; `after(dir)` may say what the run left wrong."""
    def register(build):
        CASES.append(dict(name=name, build=build, exit=exit_code, message=message, stdout_has=stdout_has, after=after))
        return build
    return register


def set_command(command, case_name="start"):
    """The command that reads the forged set `set`: verify it, conform its untouched source's taps of `case_name` to
    it, or run the reference over it (diff, coverage) — each must refuse it the same way."""
    return {"verify": ["verify", "set"],
            "conform": ["conform", "--goldens", "set", "--candidate", os.path.join(TINY, f"{case_name}.taps.safetensors"),
                        "--case", case_name],
            "diff": ["diff", "--backend", "reference", "--goldens", "set"],
            "coverage": ["coverage", "--backend", "reference", "--goldens", "set"]}[command]


def manifest_case(name, message, edit=None, text=None, command="verify"):
    """A forged copy of goldens/tiny as `set`, its manifest edited by `edit(dict)` or the regex pair `text`."""
    def build(d):
        forge_set(TINY, os.path.join(d, "set"), manifest=edit)
        if text:
            edit_text(os.path.join(d, "set", "manifest.json"), *text)
        return set_command(command)
    case(name, message=message)(build)


def tap_case(name, message, edit, command="verify"):
    """goldens/tiny as `set` with case start's taps edited by `edit(tensors)`, manifest and checksums matching."""
    def build(d):
        forge_set(TINY, os.path.join(d, "set"), edit=edit)
        return set_command(command)
    case(name, message=message)(build)


def dump_case(name, message, edit, exit_code=1, stdout_has=None):
    """A port's dump of case `start`: the golden taps edited by `edit(tensors)`, conformed against goldens/tiny."""
    def build(d):
        tensors, metadata = read_st(START_TAPS)
        write_st(os.path.join(d, "dump.safetensors"), edit(tensors), metadata)
        return ["conform", "--goldens", TINY, "--candidate", "dump.safetensors", "--case", "start"]
    case(name, exit_code, message, stdout_has)(build)


def shaped(tensors, name, shape):
    """Tensor `name` reshaped to `shape`, its data cut or zero-extended to fit (4-byte floats, 8-byte ints)."""
    t = next(t for t in tensors if t[0] == name)
    size = 8 if t[1] == "I64" else 4
    count = math.prod(shape)
    raw = (t[3] + bytes(size * count))[:size * count]
    return replace_tensor(tensors, name, shape=shape, raw=raw)


SEED_RANGE = "'seed' must be an integer in 0…18446744073709551615, written in digits; found "
PREFIX = "Error: manifest.json: "

# ---- golden-set manifests: every field by type and range ----------------------------------------------------------
manifest_case("seed-1e400", PREFIX + SEED_RANGE + "1e400", text=('"seed": 0', '"seed": 1e400'))
manifest_case("seed-negative", PREFIX + SEED_RANGE + "-5", text=('"seed": 0', '"seed": -5'))
manifest_case("seed-string", PREFIX + SEED_RANGE + "'abc'", edit=lambda m: m.update(seed="abc"))
manifest_case("seed-fraction", PREFIX + SEED_RANGE + "0.5", text=('"seed": 0', '"seed": 0.5'))
manifest_case("profile-unknown", PREFIX + "'profile' 'lenient' is not one of exact, hf-bf16, fp8-static, "
              "fp8-static-vllm, hf-fp8-static, nvfp4", edit=lambda m: m.update(profile="lenient"))
manifest_case("profile-fp8-on-exact-set", "Error: start.taps.safetensors: made in profile 'exact' (its assay.profile "
              "metadata); the manifest says 'fp8-static'", edit=lambda m: m.update(profile="fp8-static"))
manifest_case("tap-dtype-f16", PREFIX + "'tap_dtype' 'F16' is not F32 or F64", edit=lambda m: m.update(tap_dtype="F16"))
manifest_case("tap-dtype-number", PREFIX + "'tap_dtype' must be a string, found 32", edit=lambda m: m.update(tap_dtype=32))
manifest_case("tap-dtype-f64-on-f32-taps", "Error: start.taps.safetensors: tensor 'model.language_model.embed_tokens': "
              "dtype F32; this set stores it as F64 (tap_dtype F64)", edit=lambda m: m.update(tap_dtype="F64"))


def set_tap_field(m, tap, key, value, case_name="start"):
    entry = next(c for c in m["cases"] if c["name"] == case_name)
    for t in entry["taps"]["tensors"]:
        if t["name"] == tap:
            t[key] = value


def drop_tap_field(m, tap, key):
    for t in m["cases"][0]["taps"]["tensors"]:
        if t["name"] == tap:
            del t[key]


manifest_case("min-margin-string", f"Error: manifest.json: tensor '{INDICES}': min_margin must be a finite number ≥ 0, "
              "found 'x'", edit=lambda m: set_tap_field(m, INDICES, "min_margin", "x"))
manifest_case("min-margin-negative", f"Error: manifest.json: tensor '{INDICES}': min_margin must be a finite number "
              "≥ 0, found -1", edit=lambda m: set_tap_field(m, INDICES, "min_margin", -1))
manifest_case("min-margin-wrong", f"Error: manifest.json: tensor '{INDICES}': min_margin 0.5; its #margin tap's smallest "
              "value is 0.0 (margins are ≥ 0)", edit=lambda m: set_tap_field(m, INDICES, "min_margin", 0.5))
manifest_case("min-margin-missing", f"Error: manifest.json: tensor '{INDICES}': a router #indices tap needs min_margin",
              edit=lambda m: drop_tap_field(m, INDICES, "min_margin"))
manifest_case("min-margin-on-lm-head", f"Error: manifest.json: tensor '{LM_HEAD}': min_margin belongs to router #indices "
              "taps", edit=lambda m: set_tap_field(m, LM_HEAD, "min_margin", 0))
# The lie of issue 22: a manifest's class made lm_head a "margin" tap, and an all-NaN lm_head passed conform.
manifest_case("class-margin-on-lm-head", f"Error: manifest.json: tensor '{LM_HEAD}': tolerance_class 'margin'; the spec "
              "gives this tap 'logits' (spec/taps.md)", edit=lambda m: set_tap_field(m, LM_HEAD, "tolerance_class", "margin"),
              command="conform")
manifest_case("class-made-up", f"Error: manifest.json: tensor '{LM_HEAD}': tolerance_class 'lenient'; the spec gives "
              "this tap 'logits' (spec/taps.md)", edit=lambda m: set_tap_field(m, LM_HEAD, "tolerance_class", "lenient"),
              command="diff")
manifest_case("class-missing", PREFIX + "cases[0].taps.tensors[0] has no field 'tolerance_class'",
              edit=lambda m: m["cases"][0]["taps"]["tensors"][0].pop("tolerance_class"))
manifest_case("unknown-field", PREFIX + "the manifest has an unknown field 'trust_me' (spec/goldens.md §3)",
              edit=lambda m: m.update(trust_me=True))
manifest_case("missing-files", PREFIX + "the manifest has no field 'files'", edit=lambda m: m.pop("files"))
manifest_case("format-version-2", PREFIX + "format_version 2; this assay reads version 1",
              edit=lambda m: m.update(format_version=2))
manifest_case("format-other", PREFIX + "'format' is not \"assay-golden\": not an Assay golden set",
              edit=lambda m: m.update(format="other"))
manifest_case("preset-unknown", PREFIX + "'preset' 'huge' is not one of this assay's presets: tiny, tiny-vision, small, "
              "full-shape-L1, full", edit=lambda m: m.update(preset="huge"))
manifest_case("config-changed", PREFIX + "'config' differs from this assay's preset tiny: the set was made from another "
              "config; regenerate it", edit=lambda m: m["config"]["text_config"].update(rms_norm_eps=0.5))
manifest_case("cases-empty", PREFIX + "'cases' must be a non-empty array", edit=lambda m: m.update(cases=[]))
manifest_case("case-twice", PREFIX + "case 'start' is listed twice", edit=lambda m: m["cases"][1].update(name="start"))
manifest_case("case-name-empty", PREFIX + "cases[0].name is empty", edit=lambda m: m["cases"][0].update(name=""))
manifest_case("summary-number", PREFIX + "'cases[0].summary' must be a string, found 5",
              edit=lambda m: m["cases"][0].update(summary=5))
manifest_case("file-outside-set", PREFIX + "'cases[0].taps.file': '../outside.safetensors' is not a plain file name in the "
              "set (no directory, no '..')", edit=lambda m: m["cases"][0]["taps"].update(file="../outside.safetensors"))
manifest_case("file-absolute", PREFIX + f"'cases[0].inputs.file': '{START_INPUTS}' is not a plain file name in the set "
              "(no directory, no '..')", edit=lambda m: m["cases"][0]["inputs"].update(file=START_INPUTS))
manifest_case("file-is-manifest", PREFIX + "'cases[0].inputs.file': 'manifest.json' is not a plain file name in the set "
              "(no directory, no '..')", edit=lambda m: m["cases"][0]["inputs"].update(file="manifest.json"))
manifest_case("file-unlisted", PREFIX + "'start.taps.safetensors' is used but 'files' gives no sha256 for it",
              edit=lambda m: m["files"].pop("start.taps.safetensors"))
manifest_case("file-unused", PREFIX + "'files' lists 'notes.txt', which no case and no weights use",
              edit=lambda m: m["files"].update({"notes.txt": "0" * 64}))
manifest_case("file-used-twice", PREFIX + "'start.taps.safetensors' is used twice (each case has its own files)",
              edit=lambda m: m["cases"][1]["taps"].update(file="start.taps.safetensors"))
manifest_case("sha256-not-hex", PREFIX + "'files.config.json': 'XYZ' is not a sha256 (64 lowercase hex digits)",
              edit=lambda m: m["files"].update({"config.json": "XYZ"}))
manifest_case("weights-renamed", PREFIX + "'weights' must be {\"config\": \"config.json\", \"safetensors\": "
              "\"model.safetensors\"} or null", edit=lambda m: m["weights"].update(safetensors="other.safetensors"))
manifest_case("tensor-listed-twice", "Error: manifest.json: tensor 'input_ids': listed twice in cases[0].inputs",
              edit=lambda m: m["cases"][0]["inputs"]["tensors"].append(dict(m["cases"][0]["inputs"]["tensors"][0])))
manifest_case("dtype-unknown", "Error: manifest.json: tensor 'input_ids': dtype 'Q8' is not a safetensors dtype Assay "
              "reads", edit=lambda m: m["cases"][0]["inputs"]["tensors"][0].update(dtype="Q8"))
manifest_case("shape-negative", "Error: manifest.json: tensor 'input_ids': shape [-1, 8]: each extent must be an integer "
              "≥ 0", edit=lambda m: m["cases"][0]["inputs"]["tensors"][0].update(shape=[-1, 8]))
manifest_case("shape-huge", "Error: manifest.json: tensor 'input_ids': shape [99999999999999999999, 8]: each extent must "
              "be an integer ≥ 0", text=(r'"shape": \[\s*2,', '"shape": [99999999999999999999,'))
manifest_case("shape-string", "Error: manifest.json: tensor 'input_ids': shape must be an array of extents",
              edit=lambda m: m["cases"][0]["inputs"]["tensors"][0].update(shape="2x8"))
# ---- a set's source (issue 25): a config or a checkpoint instead of a preset --------------------------------------
def from_checkpoint(m, **changes):
    """goldens/tiny restated as made from its own shipped checkpoint (a true statement), then `changes` to `source`."""
    m.update(preset=None, weights=None, source=dict(kind="checkpoint", config_format="hugging-face",
                                                     layout="hugging-face", shipped=True,
                                                     files={n: m["files"][n] for n in ("config.json", "model.safetensors")}))
    m["source"].update(changes)
    m["source"] = {k: v for k, v in m["source"].items() if v is not None}


def from_config(m, **changes):
    """goldens/tiny restated as made from its config file (`source` kind config), then `changes` to `source`."""
    m.update(preset=None, source=dict(kind="config", config_format="hugging-face", **changes))


# The restatement is true, so verify accepts it and diff runs the shipped checkpoint.
case("source-checkpoint-restated", exit_code=0, stdout_has="OK — checkpoint (hugging-face layout, 2 files, shipped)")(
    lambda d: forge_set(TINY, os.path.join(d, "set"), manifest=from_checkpoint) or set_command("verify"))
manifest_case("source-with-preset", PREFIX + "'source' belongs to sets made from a config or a checkpoint ('preset' is "
              "null there)", edit=lambda m: m.update(source=dict(kind="config", config_format="hugging-face")))
manifest_case("source-missing", PREFIX + "'preset' is null and there is no 'source': say what the set was made from",
              edit=lambda m: m.update(preset=None))
manifest_case("source-number", PREFIX + "'source' must be an object, found a number",
              edit=lambda m: m.update(preset=None, source=5))
manifest_case("source-kind-unknown", PREFIX + "'source.kind' must be \"config\" or \"checkpoint\", found 'magic'",
              edit=lambda m: from_checkpoint(m, kind="magic"))
manifest_case("source-unknown-field", PREFIX + "'source' has an unknown field 'trust_me' (spec/goldens.md §3)",
              edit=lambda m: from_config(m, trust_me=True))
manifest_case("source-config-format-unknown", PREFIX + "'source.config_format' 'yaml' is not hugging-face or mistral",
              edit=lambda m: from_checkpoint(m, config_format="yaml"))
manifest_case("source-layout-missing", PREFIX + "'source' has no field 'layout'", edit=lambda m: from_checkpoint(m, layout=None))
manifest_case("source-layout-unknown", PREFIX + "'source.layout' 'gguf' is not hugging-face or mistral",
              edit=lambda m: from_checkpoint(m, layout="gguf"))
manifest_case("source-shipped-string", PREFIX + "'source.shipped' must be true or false, found 'yes'",
              edit=lambda m: from_checkpoint(m, shipped="yes"))
manifest_case("source-files-empty", PREFIX + "'source.files' must be a non-empty object of file name → sha256, found an "
              "object", edit=lambda m: from_checkpoint(m, files={}))
manifest_case("source-file-outside", PREFIX + "'source.files': '../config.json' is not a plain file name in the set (no "
              "directory, no '..')", edit=lambda m: from_checkpoint(m, files={"../config.json": "0" * 64}))
manifest_case("source-file-sha256", PREFIX + "'source.files.config.json': 'XYZ' is not a sha256 (64 lowercase hex digits)",
              edit=lambda m: from_checkpoint(m, files={"config.json": "XYZ"}))
manifest_case("source-files-without-config", PREFIX + "'source.files' lacks params.json, the checkpoint's config "
              "(config_format mistral)", edit=lambda m: from_checkpoint(m, config_format="mistral"))
manifest_case("source-checkpoint-with-weights", PREFIX + "'weights' must be null in a set made from a checkpoint (its own "
              "files ship, named in 'source.files')",
              edit=lambda m: (from_checkpoint(m), m.update(weights=dict(config="config.json", safetensors="model.safetensors"))))
manifest_case("source-shipped-sha256-differs", PREFIX + "'files.config.json' differs from 'source.files.config.json': a "
              "shipped checkpoint file is the one the source records",
              edit=lambda m: from_checkpoint(m, files={"config.json": "0" * 64, "model.safetensors": m["files"]["model.safetensors"]}))
manifest_case("source-unshipped-file-listed", PREFIX + "'files' lists 'config.json', which no case and no weights use",
              edit=lambda m: from_checkpoint(m, shipped=False))
manifest_case("source-config-invalid", PREFIX + "'config' is not a valid config.json: text_config.num_experts_per_tok (9) "
              "must not exceed text_config.n_routed_experts (8)",
              edit=lambda m: (from_config(m), m["config"]["text_config"].update(num_experts_per_tok=9)))


@case("source-shipped-config-another", message="Error: config.json: differs from the manifest's 'config': the shipped "
      "weights are another model's")
def _(d):
    """The shipped config.json describes another model than the manifest's config (checksums rewritten)."""
    def edit(m):
        path = os.path.join(d, "set", "config.json")
        text = open(path).read()
        open(path, "w").write(text.replace('"rms_norm_eps": 0.001', '"rms_norm_eps": 0.002'))
        from_config(m)
        m["files"]["config.json"] = sha(open(path, "rb").read())
    forge_set(TINY, os.path.join(d, "set"), manifest=edit)
    return set_command("verify")


@case("diff-checkpoint-for-a-preset-set", message="Error: manifest.json: the set was made from preset tiny, not a "
      "checkpoint: it takes no --checkpoint")
def _(d):
    return ["diff", "--backend", "reference", "--goldens", TINY, "--checkpoint", TINY]


tap_case("name-with-newline", "Error: manifest.json: tensor 'fake\\n136 taps compared, 0 failed': not a tap of this "
         "model (spec/taps.md)", lambda ts: replace_tensor(ts, LM_HEAD, rename="fake\n136 taps compared, 0 failed"),
         command="conform")


@case("manifest-fifo", message="Error: manifest.json: not a regular file (a FIFO)")
def _(d):
    os.makedirs(os.path.join(d, "set"))
    os.mkfifo(os.path.join(d, "set", "manifest.json"))
    return ["verify", "set"]


@case("manifest-directory", message="Error: manifest.json: not a regular file (a directory)")
def _(d):
    os.makedirs(os.path.join(d, "set", "manifest.json"))
    return ["verify", "set"]


@case("manifest-duplicate-key", message='Error: manifest.json: invalid JSON at byte 42: duplicate key "preset"')
def _(d):
    os.makedirs(os.path.join(d, "set"))
    open(os.path.join(d, "set", "manifest.json"), "w").write('{"format": "assay-golden", "preset": "a", "preset": "b"}')
    return ["verify", "set"]


@case("set-is-a-file", message="Error: set: not a directory")
def _(d):
    open(os.path.join(d, "set"), "w").write("x")
    return ["verify", "set"]


@case("tap-data-corrupt", message="Error: start.taps.safetensors: tensor 'model.language_model.norm': sha256 differs "
      "from the manifest: the data is corrupt")
def _(d):
    forge_set(TINY, os.path.join(d, "set"))
    path = os.path.join(d, "set", "start.taps.safetensors")
    blob = bytearray(open(path, "rb").read())
    blob[-5] ^= 0x40
    open(path, "wb").write(bytes(blob))
    return ["verify", "set"]


@case("file-missing", message="Error: model.safetensors: missing (the manifest lists it)")
def _(d):
    forge_set(TINY, os.path.join(d, "set"))
    os.remove(os.path.join(d, "set", "model.safetensors"))
    return ["verify", "set"]


# ---- golden-set tensors forged with their checksums: shapes, dtypes, values ---------------------------------------
SHAPE = "Error: start.taps.safetensors: tensor '{}': shape {}; case 'start' makes it {}"
tap_case("indices-k1", SHAPE.format(INDICES, "[16, 1]", "[16, 2]"), lambda ts: shaped(ts, INDICES, [16, 1]), command="conform")
tap_case("indices-8x2", SHAPE.format(INDICES, "[8, 2]", "[16, 2]"), lambda ts: shaped(ts, INDICES, [8, 2]), command="diff")
tap_case("indices-k0", SHAPE.format(INDICES, "[16, 0]", "[16, 2]"), lambda ts: shaped(ts, INDICES, [16, 0]),
         command="coverage")
tap_case("lm-head-width-0", SHAPE.format(LM_HEAD, "[2, 8, 0]", "[2, 8, 128]"), lambda ts: shaped(ts, LM_HEAD, [2, 8, 0]))
tap_case("tap-0-d", SHAPE.format(LM_HEAD, "[]", "[2, 8, 128]"), lambda ts: shaped(ts, LM_HEAD, []), command="conform")
tap_case("margin-wrong-shape", SHAPE.format("model.language_model.layers.1.mlp.gate#margin", "[15]", "[16]"),
         lambda ts: shaped(ts, "model.language_model.layers.1.mlp.gate#margin", [15]))
tap_case("index-out-of-range", f"Error: start.taps.safetensors: tensor '{INDICES}': expert id 99 outside 0..<8",
         lambda ts: replace_tensor(ts, INDICES, raw=struct.pack("<q", 99) + next(t for t in ts if t[0] == INDICES)[3][8:]))
tap_case("tap-f64-in-f32-set", "Error: start.taps.safetensors: tensor 'lm_head': dtype F64; this set stores it as F32 "
         "(tap_dtype F32)", lambda ts: replace_tensor(ts, LM_HEAD, dtype="F64", raw=next(t for t in ts if t[0] == LM_HEAD)[3] * 2))
tap_case("golden-nan", "Error: start.taps.safetensors: tensor 'lm_head': element 0 is nan; golden values are finite",
         lambda ts: replace_tensor(ts, LM_HEAD, raw=pack_f32([math.nan]) + next(t for t in ts if t[0] == LM_HEAD)[3][4:]),
         command="conform")
tap_case("tap-unknown", "Error: manifest.json: tensor 'model.language_model.layers.9': not a tap of this model "
         "(spec/taps.md)", lambda ts: replace_tensor(ts, LM_HEAD, rename="model.language_model.layers.9"))


def inputs_case(name, message, edit):
    """goldens/tiny with case start's inputs file edited by `edit(tensors)`, the manifest and checksum matching."""
    def build(d):
        forge_set(TINY, os.path.join(d, "set"), edit=edit, part="inputs")
        return ["verify", "set"]
    case(name, message=message)(build)


def ids_as_i32(tensors):
    ids = next(t for t in tensors if t[0] == "input_ids")
    return replace_tensor(tensors, "input_ids", dtype="I32", raw=struct.pack("<16i", *struct.unpack("<16q", ids[3])))


inputs_case("input-i32-in-set", "Error: start.inputs.safetensors: tensor 'input_ids': dtype I32; a golden set stores it "
            "as I64", ids_as_i32)
inputs_case("input-extra-tensor", "Error: start.inputs.safetensors: tensor 'token_type_ids': not an input of a case "
            "(input_ids, position_ids, attention_mask, pixel_values, image_sizes)",
            lambda ts: ts + [("token_type_ids", "I64", [2, 8], bytes(128))])

inputs_case("input-hidden-states-in-a-whole-model-set", "Error: start.inputs.safetensors: tensor 'hidden_states': not an "
            "input of a case (input_ids, position_ids, attention_mask, pixel_values, image_sizes)",
            lambda ts: ts + [("hidden_states", "F32", [2, 8, 64], bytes(4096))])

# ---- a layer-range set's `layers` (issue 25, spec/goldens.md §3.2) -------------------------------------------------
manifest_case("layers-past-the-model", PREFIX + "'layers' {\"first\": 1, \"last\": 5} is not a range of the model's "
              "decoder layers: integers with 0 ≤ first ≤ last ≤ 2", edit=lambda m: m.update(layers=dict(first=1, last=5)))
manifest_case("layers-reversed", PREFIX + "'layers' {\"first\": 2, \"last\": 1} is not a range of the model's decoder "
              "layers: integers with 0 ≤ first ≤ last ≤ 2", edit=lambda m: m.update(layers=dict(first=2, last=1)))
manifest_case("layers-unknown-field", PREFIX + "'layers' has an unknown field 'step' (spec/goldens.md §3)",
              edit=lambda m: m.update(layers=dict(first=0, last=1, step=1)))
manifest_case("layers-on-a-whole-model-set", "Error: start.inputs.safetensors: tensor 'hidden_states': missing: a "
              "layer-range set's case starts from it", edit=lambda m: m.update(layers=dict(first=0, last=2)))


# ---- a port's dumps against goldens/tiny ---------------------------------------------------------------------------
DUMP = "Error: dump.safetensors: tensor '{}': {}"
dump_case("dump-indices-k1", DUMP.format(INDICES, "shape [16, 1], the golden's is [16, 2]"),
          lambda ts: shaped(ts, INDICES, [16, 1]))
dump_case("dump-indices-8x2", DUMP.format(INDICES, "shape [8, 2], the golden's is [16, 2]"),
          lambda ts: shaped(ts, INDICES, [8, 2]))
dump_case("dump-0-d", DUMP.format(LM_HEAD, "shape [], the golden's is [2, 8, 128]"), lambda ts: shaped(ts, LM_HEAD, []))
dump_case("dump-missing-tap", DUMP.format(LM_HEAD, "missing: case 'start' has this tap"),
          lambda ts: [t for t in ts if t[0] != LM_HEAD])
dump_case("dump-extra-tensor", DUMP.format("my.debug", "not a tap of case 'start' (spec/taps.md names)"),
          lambda ts: ts + [("my.debug", "F32", [1], pack_f32([0.0]))])
dump_case("dump-name-with-newline", DUMP.format("x\\n136 taps compared, 0 failed", "not a tap of case 'start' "
          "(spec/taps.md names)"), lambda ts: ts + [("x\n136 taps compared, 0 failed", "F32", [1], pack_f32([0.0]))])
dump_case("dump-indices-as-floats", DUMP.format(INDICES, "a float dtype; router indices need an integer dtype"),
          lambda ts: replace_tensor(ts, INDICES, dtype="F64"))
dump_case("dump-all-nan-lm-head", None, lambda ts: replace_tensor(
    ts, LM_HEAD, raw=pack_f32([math.nan] * 2048)), stdout_has="31 taps compared, 1 failed")
# Row 1 of case start is left-padded: its first two tokens are not compared, but a NaN there still fails.
dump_case("dump-nan-in-padding-row", None, lambda ts: replace_tensor(
    ts, "model.language_model.layers.0", raw=(lambda raw: raw[:512 * 4] + pack_f32([math.nan]) + raw[513 * 4:])(
        next(t for t in ts if t[0] == "model.language_model.layers.0")[3])), stdout_has="31 taps compared, 1 failed")
dump_case("dump-inf-everywhere", None, lambda ts: [replace_tensor([t], t[0], raw=pack_f32([math.inf] * (len(t[3]) // 4)))[0]
                                                     if t[1] == "F32" else t for t in ts], stdout_has="failed")


@case("dump-fifo", message="Error: dump.safetensors: not a regular file (a FIFO)")
def _(d):
    os.mkfifo(os.path.join(d, "dump.safetensors"))
    return ["conform", "--goldens", TINY, "--candidate", "dump.safetensors", "--case", "start"]


@case("dump-not-safetensors", message="Error: dump.safetensors: file is 5 bytes, shorter than the 8-byte header length")
def _(d):
    open(os.path.join(d, "dump.safetensors"), "w").write("hello")
    return ["conform", "--goldens", TINY, "--candidate", "dump.safetensors", "--case", "start"]


@case("dump-unknown-case", message="Error: manifest.json: no case 'middle'; cases: start, step, long, far, images")
def _(d):
    return ["conform", "--goldens", TINY, "--candidate", START_TAPS, "--case", "middle"]


# ---- inputs, outputs and options of forward, diff, coverage --------------------------------------------------------
def ids_file(d, dtype, fmt):
    write_st(os.path.join(d, "in.safetensors"), [("input_ids", dtype, [1, 4], struct.pack(f"<4{fmt}", 20, 21, 22, 23))])


for dtype, fmt in [("BOOL", "B"), ("I8", "b"), ("U8", "B")]:
    @case(f"input-ids-{dtype.lower()}", message=f"Error: in.safetensors: tensor 'input_ids': dtype {dtype}; token ids "
          "must be I64 or I32")
    def _(d, dtype=dtype, fmt=fmt):
        ids_file(d, dtype, fmt)
        return ["forward", "--preset", "tiny", "--input", "in.safetensors", "--output", "out.safetensors"]


@case("input-past-the-last-position", message="Error: in.safetensors: tensor 'input_ids': 1048577 tokens per sequence; "
      "without position_ids they take positions 0…1048576, past the model's 1048576 (max_position_embeddings)")
def _(d):
    count = 1_048_577
    write_st(os.path.join(d, "in.safetensors"), [("input_ids", "I32", [1, count], struct.pack(f"<{count}i", *[20] * count))])
    return ["forward", "--preset", "tiny", "--input", "in.safetensors", "--output", "out.safetensors"]


@case("prompt-image-token-without-image", message="Error: --prompt: tensor 'input_ids': image tokens "
      "(id 10 at sequence 0 token 1) but no image: give each [IMG] block its image (pixel_values and image_sizes, or --image)")
def _(d):
    return ["forward", "--preset", "tiny-vision", "--prompt", "1,10,5", "--output", "out.safetensors"]


@case("input-fifo", message="Error: in.safetensors: not a regular file (a FIFO)")
def _(d):
    os.mkfifo(os.path.join(d, "in.safetensors"))
    return ["forward", "--preset", "tiny", "--input", "in.safetensors", "--output", "out.safetensors"]


@case("config-fifo", message="Error: config.json: not a regular file (a FIFO)")
def _(d):
    os.mkfifo(os.path.join(d, "config.json"))
    return ["params", "--config", "config.json"]


@case("taps-matching-nothing", message="Error: --taps 'nothing-is-called-this' matches no tap of this run; nothing written",
      after=lambda d: os.path.exists(os.path.join(d, "out.safetensors")) and "an output was written")
def _(d):
    ids_file(d, "I64", "q")
    return ["forward", "--preset", "tiny", "--input", "in.safetensors", "--output", "out.safetensors",
            "--taps", "nothing-is-called-this"]


def link_kept(d):
    return not os.path.islink(os.path.join(d, "out.safetensors")) and "the symlink was replaced"


@case("output-symlink", message="Error: out.safetensors: not a regular file (a symbolic link); only a new path "
      "or a regular file is replaced", after=link_kept)
def _(d):
    ids_file(d, "I64", "q")
    os.symlink("target.safetensors", os.path.join(d, "out.safetensors"))
    return ["forward", "--preset", "tiny", "--input", "in.safetensors", "--output", "out.safetensors"]


@case("output-fifo", message="Error: out.safetensors: not a regular file (a FIFO); only a new path or a "
      "regular file is replaced")
def _(d):
    ids_file(d, "I64", "q")
    os.mkfifo(os.path.join(d, "out.safetensors"))
    return ["forward", "--preset", "tiny", "--input", "in.safetensors", "--output", "out.safetensors"]


@case("output-device", message="Error: /dev/full: not a regular file (a character device); only a new path "
      "or a regular file is replaced",
      after=lambda d: not os.path.exists("/dev/full") or os.path.isfile("/dev/full") and "/dev/full was replaced")
def _(d):
    ids_file(d, "I64", "q")
    return ["forward", "--preset", "tiny", "--input", "in.safetensors", "--output", "/dev/full"]


@case("checkpoint-is-a-file", message="Error: model.safetensors: not a directory (--checkpoint takes the "
      "checkpoint's directory)")
def _(d):
    ids_file(d, "I64", "q")
    open(os.path.join(d, "model.safetensors"), "w").write("x")
    return ["forward", "--checkpoint", "model.safetensors", "--input", "in.safetensors", "--output", "out.safetensors"]


@case("plugin-not-a-library", message="Error: plugin libfake.so: cannot load ./libfake.so (a path without a slash is "
      "taken in the current directory): ./libfake.so: file too short")
def _(d):
    open(os.path.join(d, "libfake.so"), "w").write("not an ELF file")
    return ["diff", "--backend", "plugin:libfake.so", "--goldens", TINY]


@case("plugin-missing", message="Error: plugin libnothing.so: cannot load ./libnothing.so (a path without a slash is "
      "taken in the current directory): ./libnothing.so: cannot open shared object file: No such file or directory")
def _(d):
    return ["diff", "--backend", "plugin:libnothing.so", "--goldens", TINY]


@case("diff-profile-ignored", exit_code=64, message="Error: --profile sets the reference backend's precision profile; "
      "backend 'blas' has none (it computes as it computes: compare with --backend reference --profile …)")
def _(d):
    return ["diff", "--backend", "blas", "--profile", "hf-bf16", "--goldens", TINY]


@case("diff-plugin-option-ignored", exit_code=64, message="Error: --in-process applies to plugin backends; blas runs none")
def _(d):
    return ["diff", "--backend", "blas", "--in-process", "--goldens", TINY]


@case("diff-taps-matching-nothing", exit_code=64, message="Error: --taps 'nothing-is-called-this' matches no tap of "
      + TINY)
def _(d):
    return ["diff", "--backend", "reference", "--goldens", TINY, "--taps", "nothing-is-called-this"]
