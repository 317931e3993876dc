#!/usr/bin/env python3
"""Make tiny reference models with PyTorch + Hugging Face transformers.

For each architecture (llama, qwen2, qwen3, mistral) this builds a tiny random float32
model from a config (no downloads), re-initialises its weights with a wide spread so that
logits are well separated, and writes into OUT/<name>/:

  config.json, generation_config.json, model.safetensors   (save_pretrained, float32)
  tokenizer.json, tokenizer_config.json                     (tiny byte-level BPE, 320 ids)
  tokenizer_cases.json                                      (encode/decode expectations)
  expected.json                                             (input ids, greedy ids, margins)
  logits.f32                                                (raw little-endian f32 [12, vocab])

Extra copies: OUT/qwen2-sharded/ (same weights, >= 2 safetensors shards + index) and
OUT/llama-bf16/ (the llama weights rounded to bfloat16, with their own expectations,
computed by loading the bf16 checkpoint with dtype=float32).

Everything runs on the CPU in float32, single-threaded, so results are deterministic.
See README.md beside this file for the formats.
"""
import argparse
import copy
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

VOCAB = 320
BOS, EOS = "<|bos|>", "<|eos|>"
BOS_ID, EOS_ID = 0, 1
N_NEW = 32
# Fixed 12-token prompt: BOS, then ids spread over bytes and merges (all < VOCAB).
INPUT_IDS = [BOS_ID, 72, 101, 258, 300, 44, 17, 319, 150, 2, 263, 99]
TARGET_MARGIN = 1e-2   # preferred smallest top1-top2 gap over the greedy steps
REQUIRED_MARGIN = 1e-3  # hard floor (the brief's requirement)
MAX_SEED_TRIES = 40
MIN_DISTINCT = 8        # greedy continuation must use at least this many different tokens

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ bos_token }}{{ message['role'] }}\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ bos_token }}assistant\n{% endif %}"
)

TRAIN_TEXT = """\
The river ran quietly past the old mill, and the miller's children watched the water turn
the great wooden wheel. In the spring the stream was fast and cold; in the summer it was slow
and warm, and the children waded in it to catch small fish with their hands. Their father
said that the wheel had turned for a hundred years, and that it would turn for a hundred more
if the people of the valley took care of it. Every morning he walked along the bank to look
at the sluice gate, the narrow door that let the water into the race. When the gate was open
the wheel turned and the stones ground the grain; when it was closed the mill was silent.

A language model is a program that reads a sequence of tokens and predicts the next one.
It turns each token into a vector, passes the vectors through a stack of layers, and at the
end produces one score for every token in the vocabulary. The scores are called logits. To
generate text, the program picks a token from those scores, appends it to the sequence, and
repeats. Greedy decoding always picks the token with the highest score. Sampling draws a
token at random, with probabilities that come from the scores, so that the text is varied.

Attention lets every position look back at the positions before it. Each layer computes
queries, keys and values; the query of the current position is compared with the keys of
all earlier positions, and the values are mixed according to how well they match. Rotary
position embeddings rotate the queries and keys by an angle that grows with the position,
so that the comparison depends on the distance between two tokens. The key and value vectors
of earlier positions are kept in a cache, so that the next step does not recompute them.

I'm sure you've heard it before: we can't stop the river, but we'll build the mill where it
runs. They're waiting by the door, and it's getting late. Don't worry; she'll be there soon.
He said, "What's the time?" and I said, "It's half past seven." We'd better go, shouldn't we?

Numbers appear in text too: 1, 2, 3, 10, 42, 100, 2024, 12345, 3.14159 and 1e-5. A list of
prices might read $4.99, $12.50 and $100. Dates look like 2024-07-26 or 26 Jul 2024, and
times like 09:30 or 18:45. Code has its own shapes: for (int i = 0; i < n; i++) { sum += x[i]; }
and def forward(self, x): return self.norm(x + self.attn(x)).

The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs. How
vexingly quick daft zebras jump! Sphinx of black quartz, judge my vow. The five boxing
wizards jump quickly. Jackdaws love my big sphinx of quartz.

In the evening the valley grew quiet. The wheel slowed, the miller closed the gate, and the
children went home along the path by the river. The water went on running in the dark, past
the mill and the fields and the sleeping town, down to the sea.
"""

TOKENIZER_STRINGS = [
    "Hello world",
    "hello world",
    " Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "12345",
    "3.14159 and 1e-5, 2024-07-26",
    "a  b   c    d",
    "   leading and trailing   ",
    "line one\nline two\n\nline four\n",
    "\ttab\tseparated\t",
    "\r\n windows newline",
    "I'm sure we can't, they're sure we'll, it's HE'S",
    "héllo 世界 🙂",
    "naïve café résumé Ωμέγα Привет",
    "def forward(self, x): return x + 1",
    "$4.99!!! ??? ... ---",
    "sluice gate",
    "<|bos|>Hello<|eos|>",
    "user\nWhat is the time?<|eos|>",
    "",
]


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------------------- tokenizer
def train_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        min_frequency=2,
        special_tokens=[BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = TRAIN_TEXT.splitlines(keepends=True)
    tok.train_from_iterator(lines, trainer)
    # BOS is prepended when special tokens are asked for (Llama 3 style).
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, BOS_ID)]
    )
    assert tok.get_vocab_size(with_added_tokens=True) == VOCAB, tok.get_vocab_size()
    assert tok.token_to_id(BOS) == BOS_ID and tok.token_to_id(EOS) == EOS_ID
    return tok


def save_tokenizer(tok, d):
    tok.save(os.path.join(d, "tokenizer.json"))
    cfg = {
        "added_tokens_decoder": {
            str(BOS_ID): {"content": BOS, "lstrip": False, "normalized": False, "rstrip": False,
                          "single_word": False, "special": True},
            str(EOS_ID): {"content": EOS, "lstrip": False, "normalized": False, "rstrip": False,
                          "single_word": False, "special": True},
        },
        "bos_token": BOS,
        "eos_token": EOS,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 512,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
        f.write("\n")


def tokenizer_cases(d, raw):
    hf = AutoTokenizer.from_pretrained(d)
    cases = []
    for s in TOKENIZER_STRINGS:
        ids = hf.encode(s, add_special_tokens=False)
        ids_sp = hf.encode(s, add_special_tokens=True)
        raw_ids = raw.encode(s, add_special_tokens=False).ids
        assert ids == raw_ids, (s, ids, raw_ids)
        cases.append({
            "text": s,
            "ids": ids,
            "tokens": hf.convert_ids_to_tokens(ids),
            "ids_with_special": ids_sp,
            "decoded": hf.decode(ids),
            "decoded_skip_special": hf.decode(ids, skip_special_tokens=True),
        })
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there!"}]
    chat = hf.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    out = {
        "tokenizer": "tokenizer.json (byte-level BPE, ByteLevel pre-tokenizer and decoder)",
        "vocab_size": VOCAB,
        "bos": {"token": BOS, "id": BOS_ID},
        "eos": {"token": EOS, "id": EOS_ID},
        "cases": cases,
        "chat": {"messages": msgs, "add_generation_prompt": True, "rendered": chat,
                 "ids": hf.encode(chat, add_special_tokens=False)},
    }
    with open(os.path.join(d, "tokenizer_cases.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return out


# ---------------------------------------------------------------------------- models
def make_config(name):
    common = dict(vocab_size=VOCAB, bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=None,
                  max_position_embeddings=512, initializer_range=0.1, hidden_act="silu")
    if name == "llama":
        return LlamaConfig(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=128, rms_norm_eps=1e-5, tie_word_embeddings=True,
            rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                             "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 64},
            **common)
    if name == "qwen2":
        return Qwen2Config(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=160, rms_norm_eps=1e-6, tie_word_embeddings=False,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            use_sliding_window=False, sliding_window=None, **common)
    if name == "qwen3":
        return Qwen3Config(
            hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
            head_dim=32, intermediate_size=128, rms_norm_eps=1e-6, tie_word_embeddings=False,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            attention_bias=False, use_sliding_window=False, sliding_window=None, **common)
    if name == "mistral":
        return MistralConfig(
            hidden_size=96, num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2,
            intermediate_size=192, rms_norm_eps=1e-5, tie_word_embeddings=False,
            sliding_window=None,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            **common)
    raise ValueError(name)


MODEL_CLASSES = {"llama": LlamaForCausalLM, "qwen2": Qwen2ForCausalLM,
                 "qwen3": Qwen3ForCausalLM, "mistral": MistralForCausalLM}
SEED_BASE = {"llama": 1000, "qwen2": 2000, "qwen3": 3000, "mistral": 4000}


def build_model(name, seed):
    cfg = make_config(name)
    torch.manual_seed(seed)
    model = MODEL_CLASSES[name]._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    assert model.config._attn_implementation == "eager"
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            shape = p.shape
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(shape, generator=g))
            elif pname.endswith(".bias"):
                p.copy_(0.1 * torch.randn(shape, generator=g))
            elif "embed_tokens" in pname or pname.startswith("lm_head"):
                # A tied embedding makes each position favour its own input token (e.e >> e.e');
                # a smaller spread there lets the layers' contribution win.
                std = 0.1 if cfg.tie_word_embeddings else 0.3
                p.copy_(std * torch.randn(shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(shape, generator=g))
    model.eval()
    return model


def param_summary(model):
    return {n: list(p.shape) for n, p in model.named_parameters()}


@torch.no_grad()
def forward_logits(model, ids):
    x = torch.tensor([ids], dtype=torch.long)
    out = model(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False)
    return out.logits[0].float()


def top2_margin(row):
    v = torch.topk(row, 2).values
    return float(v[0] - v[1])


@torch.no_grad()
def greedy(model):
    """generate(do_sample=False) with the KV cache, checked against a no-cache argmax loop."""
    x = torch.tensor([INPUT_IDS], dtype=torch.long)
    gc = GenerationConfig(do_sample=False, max_new_tokens=N_NEW, min_new_tokens=0,
                          eos_token_id=None, pad_token_id=None, bos_token_id=BOS_ID,
                          num_beams=1, temperature=None, top_p=None, top_k=None,
                          repetition_penalty=None, return_dict_in_generate=True,
                          output_logits=True, use_cache=True)
    out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), generation_config=gc)
    seq = out.sequences[0].tolist()
    assert seq[:len(INPUT_IDS)] == INPUT_IDS
    new = seq[len(INPUT_IDS):]
    assert len(new) == N_NEW, f"generate produced {len(new)} tokens"
    gen_logits = [l[0].float() for l in out.logits]
    # Reference loop without cache: full forward each step, argmax of the last row.
    ids = list(INPUT_IDS)
    margins, manual, max_diff = [], [], 0.0
    for step in range(N_NEW):
        row = forward_logits(model, ids)[-1]
        t = int(torch.argmax(row))
        manual.append(t)
        margins.append(top2_margin(row))
        max_diff = max(max_diff, float((row - gen_logits[step]).abs().max()))
        ids.append(t)
    agree = manual == new
    return new, margins, agree, max_diff


def rope_check(model, name):
    """For llama3 rope scaling, check that some inv_freq really changed (and some did not)."""
    cfg = model.config
    rp = cfg.rope_parameters
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    theta = rp["rope_theta"]
    base = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    used = model.model.rotary_emb.inv_freq.float()
    info = {"head_dim": head_dim, "inv_freq_unscaled": base.tolist(), "inv_freq_used": used.tolist()}
    if rp.get("rope_type") == "llama3":
        changed = (~torch.isclose(base, used, rtol=1e-6, atol=0)).tolist()
        info["scaled"] = changed
        assert any(changed), "llama3 scaling changed no frequency"
        assert not all(changed), "llama3 scaling changed every frequency"
        # and a smoothed (between high and low wavelength) one, not only the pure /factor ones
        ratio = (base / used).tolist()
        info["ratio"] = ratio
        f = rp["factor"]
        assert any(1.0 + 1e-6 < r < f - 1e-6 for r in ratio), f"no smoothed frequency: {ratio}"
    else:
        assert torch.allclose(base, used, rtol=1e-6, atol=0), (base, used)
    return info


def add_legacy_rope_keys(d, cfg):
    """Checkpoints on the Hub carry rope_theta / rope_scaling (transformers v4 names);
    transformers v5 writes rope_parameters. Write both so readers of either kind work."""
    p = os.path.join(d, "config.json")
    with open(p, encoding="utf-8") as f:
        j = json.load(f)
    rp = dict(j.get("rope_parameters") or {})
    if "rope_theta" in rp:
        j["rope_theta"] = rp["rope_theta"]
    if rp.get("rope_type", "default") != "default":
        j["rope_scaling"] = {k: v for k, v in rp.items() if k != "rope_theta"}
    else:
        j["rope_scaling"] = None
    with open(p, "w", encoding="utf-8") as f:
        json.dump(j, f, indent=2, sort_keys=True)
        f.write("\n")


def write_expected(d, name, model_type, logits, new, margins, seed, weights_dtype, extra):
    arr = logits.detach().cpu().numpy().astype("<f4")
    assert arr.shape == (len(INPUT_IDS), VOCAB)
    arr.tofile(os.path.join(d, "logits.f32"))
    exp = {
        "model": name,
        "model_type": model_type,
        "input_ids": INPUT_IDS,
        "greedy_ids": new,
        "logits_shape": [len(INPUT_IDS), VOCAB],
        "logits_file": "logits.f32",
        "logits_layout": "little-endian float32, row-major [position][vocab]",
        "min_greedy_margin": min(margins),
        "greedy_margins": margins,
        "prompt_argmax": [int(i) for i in torch.argmax(logits, dim=-1).tolist()],
        "max_abs_logit": float(logits.abs().max()),
        "dtype": "float32",
        "weights_dtype": weights_dtype,
        "seed": seed,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    exp.update(extra)
    with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    return exp


def dir_size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def evaluate(model):
    logits = forward_logits(model, INPUT_IDS)
    new, margins, agree, max_diff = greedy(model)
    # generate's first step logits must equal the last prompt row
    return logits, new, margins, agree, max_diff


def choose_seed(name):
    best = None
    for k in range(MAX_SEED_TRIES):
        seed = SEED_BASE[name] + k
        model = build_model(name, seed)
        logits, new, margins, agree, max_diff = evaluate(model)
        m = min(margins)
        if name == "llama":
            # the bf16 copy must also be well separated
            bf = copy.deepcopy(model).to(torch.bfloat16).to(torch.float32)
            _, new_b, margins_b, agree_b, _ = evaluate(bf)
            m = min(m, min(margins_b))
            agree = agree and agree_b
        distinct = len(set(new))
        echo = sum(int(a == b) for a, b in zip(torch.argmax(logits, -1).tolist(), INPUT_IDS))
        varied = distinct >= MIN_DISTINCT and echo <= len(INPUT_IDS) // 3
        log(f"  {name} seed {seed}: min margin {m:.5f} agree {agree} distinct {distinct} echo {echo} "
            f"cache diff {max_diff:.2e}")
        if agree and varied and (best is None or m > best[1]):
            best = (seed, m)
        if agree and varied and m >= TARGET_MARGIN:
            return seed
    if best is None or best[1] < REQUIRED_MARGIN:
        raise SystemExit(f"{name}: no seed reached margin {REQUIRED_MARGIN} (best {best})")
    return best[0]


def make_model_dir(out, name, tok, summary):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    seed = choose_seed(name)
    model = build_model(name, seed)
    info = {"rope": rope_check(model, name)}
    logits, new, margins, agree, max_diff = evaluate(model)
    assert agree
    model.save_pretrained(d, safe_serialization=True)
    add_legacy_rope_keys(d, model.config)
    save_tokenizer(tok, d)
    tokenizer_cases(d, tok)
    # reload from disk and check the logits are bit-identical
    re = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    re_logits = forward_logits(re, INPUT_IDS)
    assert torch.equal(re_logits, logits), float((re_logits - logits).abs().max())
    extra = {"generate_vs_nocache_max_abs_diff": max_diff,
             "params": param_summary(model), "rope": info["rope"]}
    exp = write_expected(d, name, model.config.model_type, logits, new, margins, seed, "float32", extra)
    summary[name] = {"seed": seed, "min_greedy_margin": exp["min_greedy_margin"],
                     "bytes": dir_size(d), "files": sorted(os.listdir(d))}
    log(f"{name}: seed {seed} min margin {exp['min_greedy_margin']:.5f} greedy {new}")

    if name == "qwen2":
        ds = os.path.join(out, "qwen2-sharded")
        os.makedirs(ds, exist_ok=True)
        model.save_pretrained(ds, safe_serialization=True, max_shard_size="200KB")
        add_legacy_rope_keys(ds, model.config)
        save_tokenizer(tok, ds)
        shutil.copy(os.path.join(d, "tokenizer_cases.json"), ds)
        shards = [f for f in os.listdir(ds) if f.endswith(".safetensors")]
        assert len(shards) >= 2 and os.path.exists(os.path.join(ds, "model.safetensors.index.json")), shards
        re = AutoModelForCausalLM.from_pretrained(ds, dtype=torch.float32, attn_implementation="eager").eval()
        assert torch.equal(forward_logits(re, INPUT_IDS), logits)
        write_expected(ds, "qwen2-sharded", model.config.model_type, logits, new, margins, seed, "float32",
                       {"shards": sorted(shards), **extra})
        summary["qwen2-sharded"] = {"seed": seed, "min_greedy_margin": min(margins),
                                    "bytes": dir_size(ds), "files": sorted(os.listdir(ds))}
        log(f"qwen2-sharded: {len(shards)} shards")

    if name == "llama":
        db = os.path.join(out, "llama-bf16")
        os.makedirs(db, exist_ok=True)
        copy.deepcopy(model).to(torch.bfloat16).save_pretrained(db, safe_serialization=True)
        add_legacy_rope_keys(db, model.config)
        save_tokenizer(tok, db)
        shutil.copy(os.path.join(d, "tokenizer_cases.json"), db)
        bm = AutoModelForCausalLM.from_pretrained(db, dtype=torch.float32, attn_implementation="eager").eval()
        assert next(bm.parameters()).dtype == torch.float32
        b_logits, b_new, b_margins, b_agree, b_diff = evaluate(bm)
        assert b_agree
        with open(os.path.join(db, "config.json"), encoding="utf-8") as f:
            saved_dtype = json.load(f).get("dtype")
        write_expected(db, "llama-bf16", bm.config.model_type, b_logits, b_new, b_margins, seed, "bfloat16",
                       {"generate_vs_nocache_max_abs_diff": b_diff, "config_dtype": saved_dtype,
                        "max_abs_diff_vs_float32_logits": float((b_logits - logits).abs().max())})
        summary["llama-bf16"] = {"seed": seed, "min_greedy_margin": min(b_margins),
                                 "bytes": dir_size(db), "files": sorted(os.listdir(db))}
        log(f"llama-bf16: min margin {min(b_margins):.5f} greedy {b_new}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="llama,qwen2,qwen3,mistral")
    args = ap.parse_args()
    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    torch.use_deterministic_algorithms(True)
    log(f"torch {torch.__version__} transformers {transformers.__version__} python {sys.version.split()[0]}")
    os.makedirs(args.out, exist_ok=True)
    tok = train_tokenizer()
    summary = {}
    for name in args.models.split(","):
        make_model_dir(args.out, name, tok, summary)
    summary["torch"] = torch.__version__
    summary["transformers"] = transformers.__version__
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    log(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
