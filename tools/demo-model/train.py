#!/usr/bin/env python3
"""Trains Sluice's built-in demo model from scratch and exports it as GGUF.

  python3 train.py --out OUTDIR [--train-seconds 310] [--steps N] [--seed 1234]

Steps (fixed seeds throughout):
  1. synthetic chat corpus (corpus.py), rendered with chat_template.jinja; held-out test split
  2. byte-level BPE vocabulary (Hugging Face `tokenizers`, Qwen2's pre-tokenizer layout)
  3. a qwen2-architecture model (model.py), trained on the assistant completions
  4. evaluation at temperature 0 on the test split (eval.json)
  5. GGUF export (gguf_writer.py): F16 and Q8_0, tokenizer, chat template, metadata

--steps fixes the number of optimizer steps (exact reproduction); without it the step count is
derived from --train-seconds after timing the first steps, and printed.
Needs torch (and `tokenizers` for the real vocabulary; --byte-tokenizer runs without it, for
tests on a machine without the library).
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import sys
import time
from multiprocessing import Pool

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import corpus as C  # noqa: E402
import gguf_writer as G  # noqa: E402

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")

T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


# ---------------------------------------------------------------------------------------------
# tokenizers

def bytes_to_unicode():
    """GPT-2's byte -> printable unicode map (the byte-level alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


_U2B = {u: b for b, u in bytes_to_unicode().items()}


def decode_byte_level(tokens, ids):
    """Token ids -> text: special tokens verbatim, others through the byte-level map."""
    out, buf = [], bytearray()
    for i in ids:
        t = tokens[i]
        if t in C.SPECIAL_TOKENS:
            out.append(buf.decode("utf-8", "replace"))
            buf = bytearray()
            out.append(t)
        else:
            buf.extend(_U2B[ch] for ch in t)
    out.append(buf.decode("utf-8", "replace"))
    return "".join(out)


class HFTokenizer:
    """Byte-level BPE trained with `tokenizers`, laid out exactly like Qwen2's tokenizer.json."""

    def __init__(self, texts, vocab_size: int):
        from tokenizers import Tokenizer, Regex, decoders, models, pre_tokenizers, trainers
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                      special_tokens=C.SPECIAL_TOKENS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(texts, trainer=trainer)
        self._setup(tok)

    @classmethod
    def from_json(cls, tok):
        self = cls.__new__(cls)
        self._setup(tok)
        return self

    def _setup(self, tok):
        self.tok = tok
        vocab = tok.get_vocab(with_added_tokens=True)
        self.tokens = [None] * len(vocab)
        for t, i in vocab.items():
            self.tokens[i] = t
        assert all(t is not None for t in self.tokens), "vocabulary ids are not dense"
        model = json.loads(tok.to_str())["model"]
        self.merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
        self.special_ids = [vocab[s] for s in C.SPECIAL_TOKENS]

    def encode_batch(self, texts):
        return [e.ids for e in self.tok.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids):
        return decode_byte_level(self.tokens, ids)

    def save(self, path):
        self.tok.save(path)


class ByteTokenizer:
    """No merges: special tokens, then the 256 byte-level symbols. For tests without `tokenizers`."""

    def __init__(self):
        import regex
        self.b2u = bytes_to_unicode()
        self.u2b = {u: b for b, u in self.b2u.items()}
        self.tokens = list(C.SPECIAL_TOKENS) + [self.b2u[b] for b in range(256)]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.merges = []
        self.special_ids = list(range(len(C.SPECIAL_TOKENS)))
        self.split = regex.compile("(" + "|".join(regex.escape(s) for s in C.SPECIAL_TOKENS) + ")")

    def encode_batch(self, texts):
        out = []
        for t in texts:
            ids = []
            for part in self.split.split(t):
                if part in self.ids and part in C.SPECIAL_TOKENS:
                    ids.append(self.ids[part])
                else:
                    ids.extend(self.ids[self.b2u[b]] for b in part.encode("utf-8"))
            out.append(ids)
        return out

    def decode(self, ids):
        return decode_byte_level(self.tokens, ids)

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"tokens": self.tokens}, f)


# ---------------------------------------------------------------------------------------------
# data

N_CHUNKS = 64  # corpus chunks (fixed, so the corpus does not depend on the core count)
_W = {}


def _init_worker(kind, tok_json, seed):
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if kind == "hf":
        from tokenizers import Tokenizer
        _W["tok"] = HFTokenizer.from_json(Tokenizer.from_str(tok_json))
    else:
        _W["tok"] = ByteTokenizer()
    _W["corpus"] = C.Corpus(seed)


def _gen_chunk(args):
    """Generates and tokenizes one chunk: (flat ids, lengths, prompt lengths, dropped)."""
    seed, chunk, n, eos_id, max_len = args
    tok = _W["tok"]
    ex = list(C.training_examples(_W["corpus"], n, seed * 1000 + chunk + 1))
    P = tok.encode_batch([p for p, _, _ in ex])
    Q = tok.encode_batch([c for _, c, _ in ex])
    seqs, plens, dropped = [], [], 0
    for p, q in zip(P, Q):
        seq = p + q + [eos_id]
        if len(seq) > max_len:
            dropped += 1
            continue
        seqs.append(seq)
        plens.append(len(p))
    lens = np.array([len(q) for q in seqs], dtype=np.int32)
    flat = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int32, count=int(lens.sum()))
    return flat, lens, np.array(plens, dtype=np.int32), dropped


def generate(tok, seed: int, n: int, procs: int, eos_id: int, max_len: int):
    per = [n // N_CHUNKS + (1 if i < n % N_CHUNKS else 0) for i in range(N_CHUNKS)]
    kind, js = ("hf", tok.tok.to_str()) if isinstance(tok, HFTokenizer) else ("byte", None)
    with Pool(procs, initializer=_init_worker, initargs=(kind, js, seed)) as pool:
        parts = pool.map(_gen_chunk, [(seed, i, per[i], eos_id, max_len) for i in range(N_CHUNKS)])
    return Dataset(parts)


class Dataset:
    """Token ids of all conversations, flat; loss on the completion tokens and the final EOS."""

    def __init__(self, parts):
        self.flat = np.concatenate([p[0] for p in parts])
        self.lens = np.concatenate([p[1] for p in parts])
        self.plens = np.concatenate([p[2] for p in parts])
        self.dropped = sum(p[3] for p in parts)
        self.offsets = np.zeros(len(self.lens) + 1, dtype=np.int64)
        np.cumsum(self.lens, out=self.offsets[1:])

    def __len__(self):
        return len(self.lens)

    def batches(self, batch_size: int, rng: np.random.Generator, pad_multiple: int = 16):
        """Endless stream of (inputs, targets) int64 arrays; length-bucketed; targets -100 where no loss."""
        while True:
            perm = rng.permutation(len(self))
            mega = batch_size * 32
            order = []
            for s in range(0, len(perm) - batch_size + 1, mega):
                chunk = perm[s:s + mega]
                chunk = chunk[np.argsort(self.lens[chunk], kind="stable")]
                for b in range(0, len(chunk) - batch_size + 1, batch_size):
                    order.append(chunk[b:b + batch_size])
            for i in rng.permutation(len(order)):
                idx = order[i]
                T = int(self.lens[idx].max()) - 1
                T = (T + pad_multiple - 1) // pad_multiple * pad_multiple
                x = np.zeros((batch_size, T), dtype=np.int64)
                y = np.full((batch_size, T), -100, dtype=np.int64)
                for r, j in enumerate(idx):
                    o, n, p = self.offsets[j], self.lens[j], self.plens[j]
                    s = self.flat[o:o + n]
                    x[r, :n - 1] = s[:-1]
                    y[r, p - 1:n - 1] = s[p:]
                yield x, y


# ---------------------------------------------------------------------------------------------
# generation and evaluation

def greedy(model, prompts_ids, eos_id, max_new, device, batch=1024):
    """Greedy decoding without a KV cache; prompts grouped by length so no padding is needed.
    Returns, per prompt, (generated ids without EOS, ended_with_eos)."""
    import torch
    out = [None] * len(prompts_ids)
    by_len = {}
    for i, p in enumerate(prompts_ids):
        by_len.setdefault(len(p), []).append(i)
    model.eval()
    with torch.no_grad():
        for L, idxs in sorted(by_len.items()):
            for s in range(0, len(idxs), batch):
                chunk = idxs[s:s + batch]
                x = torch.tensor([prompts_ids[i] for i in chunk], dtype=torch.long, device=device)
                done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
                gen = []
                for _ in range(max_new):
                    with autocast(device):
                        h = model.hidden(x)[:, -1]
                        nxt = model.logits(h).float().argmax(-1)
                    nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
                    gen.append(nxt)
                    done |= nxt == eos_id
                    x = torch.cat([x, nxt[:, None]], 1)
                    if bool(done.all()):
                        break
                g = torch.stack(gen, 1).tolist()
                for r, i in enumerate(chunk):
                    ids = g[r]
                    if eos_id in ids:
                        out[i] = (ids[:ids.index(eos_id)], True)
                    else:
                        out[i] = (ids, False)
    return out


def autocast(device):
    import contextlib
    import torch
    if str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def evaluate(model, tok, items, eos_id, device, thinking: bool, max_new: int, seed: int):
    rng = random.Random(seed)
    prompts = [C.make_example(rng, it, None, thinking)[0] for it in items]
    ids = tok.encode_batch(prompts)
    res = greedy(model, ids, eos_id, max_new, device)
    per, samples, shown = {}, [], {}
    for it, (g, eos) in zip(items, res):
        reply = tok.decode(g)
        ok = C.check(it, reply)
        keys = {it.task, it.bucket} | ({"arith_all"} if it.task == "arith" and it.meta.get("in_all") else set())
        for key in sorted(keys):
            d = per.setdefault(key, {"n": 0, "correct": 0, "eos": 0})
            d["n"] += 1
            d["correct"] += int(ok)
            d["eos"] += int(eos)
        if it.task == "qa":
            d = per.setdefault("qa_exact", {"n": 0, "correct": 0, "eos": 0})
            d["n"] += 1
            d["correct"] += int(C.exact_qa(it, reply))
            d["eos"] += int(eos)
        k = (it.bucket, ok)
        if shown.get(k, 0) < (6 if not ok else 2):
            shown[k] = shown.get(k, 0) + 1
            samples.append({"q": it.question, "reply": reply, "expected": it.expected, "ok": ok, "eos": eos})
    for d in per.values():
        d["accuracy"] = round(d["correct"] / d["n"], 4)
        d["eos_rate"] = round(d["eos"] / d["n"], 4)
    n = len(res)
    summary = {"n": n, "eos_rate": round(sum(e for _, e in res) / n, 4)}
    return {"summary": summary, "per_task": dict(sorted(per.items())), "samples": samples}


def test_items(corpus):
    """The held-out split, with the items of the whole-arithmetic set marked (100 per bucket)."""
    seen = {}
    items = []
    for it in corpus.test:
        if it.task == "arith":
            k = seen.get(it.bucket, 0)
            if k < 100:
                it.meta["in_all"] = True
            seen[it.bucket] = k + 1
        items.append(it)
    return items


# ---------------------------------------------------------------------------------------------
# export

def gguf_tensors(model):
    """(gguf name, numpy float32 array in torch order) for the qwen2 layout."""
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    out = [("token_embd.weight", sd["model.embed_tokens.weight"])]
    for i in range(model.config.num_hidden_layers):
        p = f"model.layers.{i}."
        b = f"blk.{i}."
        out += [
            (b + "attn_norm.weight", sd[p + "input_layernorm.weight"]),
            (b + "attn_q.weight", sd[p + "self_attn.q_proj.weight"]),
            (b + "attn_q.bias", sd[p + "self_attn.q_proj.bias"]),
            (b + "attn_k.weight", sd[p + "self_attn.k_proj.weight"]),
            (b + "attn_k.bias", sd[p + "self_attn.k_proj.bias"]),
            (b + "attn_v.weight", sd[p + "self_attn.v_proj.weight"]),
            (b + "attn_v.bias", sd[p + "self_attn.v_proj.bias"]),
            (b + "attn_output.weight", sd[p + "self_attn.o_proj.weight"]),
            (b + "ffn_norm.weight", sd[p + "post_attention_layernorm.weight"]),
            (b + "ffn_gate.weight", sd[p + "mlp.gate_proj.weight"]),
            (b + "ffn_up.weight", sd[p + "mlp.up_proj.weight"]),
            (b + "ffn_down.weight", sd[p + "mlp.down_proj.weight"]),
        ]
    out.append(("output_norm.weight", sd["model.norm.weight"]))
    return out


def load_gguf_tensors(model, tensors):
    """Inverse of gguf_tensors: loads (dequantized) GGUF tensors into the PyTorch model."""
    import torch
    names = dict((g, None) for g, _ in gguf_tensors(model))
    hf = {}
    inv = {"attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
           "attn_q.bias": "self_attn.q_proj.bias", "attn_k.weight": "self_attn.k_proj.weight",
           "attn_k.bias": "self_attn.k_proj.bias", "attn_v.weight": "self_attn.v_proj.weight",
           "attn_v.bias": "self_attn.v_proj.bias", "attn_output.weight": "self_attn.o_proj.weight",
           "ffn_norm.weight": "post_attention_layernorm.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
           "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight"}
    for g in names:
        if g == "token_embd.weight":
            k = "model.embed_tokens.weight"
        elif g == "output_norm.weight":
            k = "model.norm.weight"
        else:
            _, i, rest = g.split(".", 2)
            k = f"model.layers.{i}." + inv[rest]
        hf[k] = torch.from_numpy(np.ascontiguousarray(tensors[g]))
    missing, unexpected = model.load_state_dict(hf, strict=True), None
    return missing


def export_gguf(path, model, tok, quant: str, name="sluice-demo"):
    c = model.config
    w = G.GGUFWriter()
    w.add("general.architecture", G.string("qwen2"))
    w.add("general.name", G.string(name))
    w.add("general.description", G.string("Sluice built-in demo model, trained by tools/demo-model/train.py"))
    w.add("general.license", G.string("Apache-2.0"))
    w.add("general.file_type", G.u32(7 if quant == "q8_0" else 1))  # LLAMA_FTYPE_MOSTLY_Q8_0 / _F16
    w.add("general.quantization_version", G.u32(2))
    w.add("general.alignment", G.u32(G.ALIGNMENT))
    w.add("qwen2.context_length", G.u32(c.max_position_embeddings))
    w.add("qwen2.embedding_length", G.u32(c.hidden_size))
    w.add("qwen2.block_count", G.u32(c.num_hidden_layers))
    w.add("qwen2.feed_forward_length", G.u32(c.intermediate_size))
    w.add("qwen2.attention.head_count", G.u32(c.num_attention_heads))
    w.add("qwen2.attention.head_count_kv", G.u32(c.num_key_value_heads))
    w.add("qwen2.attention.layer_norm_rms_epsilon", G.f32(c.rms_norm_eps))
    w.add("qwen2.rope.freq_base", G.f32(c.rope_theta))
    w.add("tokenizer.ggml.model", G.string("gpt2"))
    w.add("tokenizer.ggml.pre", G.string("qwen2"))
    w.add("tokenizer.ggml.tokens", G.str_array(tok.tokens))
    # BOS/EOS/role markers are control tokens (3, hidden in output); the reasoning tags are
    # user-defined (4) as in DeepSeek-R1's tokenizer ("special": false), so they stay visible in
    # generated text and a server can split <think>...</think> into reasoning_content.
    special = set(tok.special_ids)
    user_defined = {tok.special_ids[C.SPECIAL_TOKENS.index(t)] for t in (C.THINK, C.END_THINK)}
    w.add("tokenizer.ggml.token_type", G.i32_array([4 if i in user_defined else 3 if i in special else 1 for i in range(len(tok.tokens))]))
    w.add("tokenizer.ggml.merges", G.str_array(tok.merges))
    w.add("tokenizer.ggml.bos_token_id", G.u32(tok.special_ids[0]))
    w.add("tokenizer.ggml.eos_token_id", G.u32(tok.special_ids[1]))
    w.add("tokenizer.ggml.padding_token_id", G.u32(tok.special_ids[1]))
    w.add("tokenizer.ggml.add_bos_token", G.boolean(True))
    w.add("tokenizer.ggml.add_eos_token", G.boolean(False))
    w.add("tokenizer.chat_template", G.string(C.chat_template_text()))
    for gname, a in gguf_tensors(model):
        if a.ndim == 1:
            t = G.GGML_F32
        else:
            t = G.GGML_Q8_0 if quant == "q8_0" else G.GGML_F16
        w.add_tensor(gname, a, t)
    w.write(path)
    return os.path.getsize(path)


# ---------------------------------------------------------------------------------------------
# cross-check against transformers (diagnostic only)

def check_against_transformers(model, device):
    import torch
    try:
        from transformers import Qwen2Config, Qwen2ForCausalLM
    except Exception as e:  # noqa: BLE001
        return f"skipped: {e}"
    c = model.config
    try:
        kw = dict(vocab_size=c.vocab_size, hidden_size=c.hidden_size, intermediate_size=c.intermediate_size,
                  num_hidden_layers=c.num_hidden_layers, num_attention_heads=c.num_attention_heads,
                  num_key_value_heads=c.num_key_value_heads, max_position_embeddings=c.max_position_embeddings,
                  rms_norm_eps=c.rms_norm_eps, tie_word_embeddings=True, attn_implementation="eager")
        try:
            cfg = Qwen2Config(rope_parameters={"rope_type": "default", "rope_theta": c.rope_theta}, **kw)
        except TypeError:
            cfg = Qwen2Config(rope_theta=c.rope_theta, **kw)
        ref = Qwen2ForCausalLM(cfg).to(device).float().eval()
        sd = dict(model.state_dict())
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
        missing, unexpected = ref.load_state_dict(sd, strict=False)
        ids = torch.randint(0, c.vocab_size, (2, 48), device=device, generator=torch.Generator(device).manual_seed(0))
        model.eval()
        with torch.no_grad():
            a = model(ids).float()
            b = ref(ids).logits.float()
        diff = (a - b).abs().max().item()
        return {"max_abs_logit_diff": diff, "logit_scale": a.abs().max().item(),
                "missing": list(missing), "unexpected": list(unexpected)}
    except Exception as e:  # noqa: BLE001
        return f"failed: {type(e).__name__}: {e}"


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--examples", type=int, default=3_000_000)
    ap.add_argument("--bpe-examples", type=int, default=200_000)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--max-len", type=int, default=384)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=0, help="optimizer steps (0: derive from --train-seconds)")
    ap.add_argument("--train-seconds", type=float, default=310)
    ap.add_argument("--max-steps", type=int, default=20000)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--max-new", type=int, default=160)
    ap.add_argument("--think-eval-per-bucket", type=int, default=20)
    ap.add_argument("--byte-tokenizer", action="store_true", help="no BPE (tests without `tokenizers`)")
    ap.add_argument("--procs", type=int, default=min(16, os.cpu_count() or 1))
    ap.add_argument("--skip-eval", action="store_true")
    args = ap.parse_args()

    import torch
    from model import Config, Qwen2

    os.makedirs(args.out, exist_ok=True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    log("torch", torch.__version__, "device", device, torch.cuda.get_device_name(0) if device == "cuda" else "")
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        # cuDNN attention builds a graph per shape; shapes vary a lot here (length buckets, decoding)
        if hasattr(torch.backends.cuda, "enable_cudnn_sdp"):
            torch.backends.cuda.enable_cudnn_sdp(False)

    # 1. corpus ---------------------------------------------------------------------------------
    corpus = C.Corpus(args.seed)
    items = test_items(corpus)
    log(f"test split: {len(items)} items; words train/test {len(corpus.train_words)}/{len(corpus.test_words)}")
    # 2. tokenizer --------------------------------------------------------------------------------
    if args.byte_tokenizer:
        tok = ByteTokenizer()
    else:
        bpe_texts = list(C.tokenizer_training_text(corpus, args.bpe_examples, args.seed + 7))
        tok = HFTokenizer(bpe_texts, args.vocab_size)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    bos_id, eos_id = tok.special_ids[0], tok.special_ids[1]
    log(f"vocabulary: {len(tok.tokens)} tokens, {len(tok.merges)} merges, bos {bos_id} eos {eos_id}")
    probe = "<｜begin▁of▁sentence｜><｜User｜>What is 12 + 30?<｜Assistant｜><think>\n</think>\n\n12 + 30 = 42."
    pid = tok.encode_batch([probe])[0]
    log("probe:", [tok.tokens[i] for i in pid])
    if tok.decode(pid) != probe:
        log("WARNING: decode round trip differs:", repr(tok.decode(pid)))

    data = generate(tok, args.seed, args.examples, args.procs, eos_id, args.max_len)
    log(f"dataset: {len(data)} sequences ({data.dropped} dropped > {args.max_len}), {int(data.offsets[-1])} tokens, "
        f"mean len {data.lens.mean():.1f}, max {data.lens.max()}")

    # 3. model ------------------------------------------------------------------------------------
    cfg = Config(vocab_size=len(tok.tokens), hidden_size=args.hidden, num_hidden_layers=args.layers,
                 num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                 intermediate_size=args.ffn, max_position_embeddings=args.ctx)
    model = Qwen2(cfg).to(device)
    n_params = model.num_params()
    log(f"model: {cfg.to_dict()} params {n_params:,}")

    # early export + reader round trip (catches export bugs before the long training)
    tmp = os.path.join(args.out, "untrained.gguf")
    export_gguf(tmp, model, tok, "q8_0")
    meta, tens, _ = G.read_gguf(tmp)
    assert meta["general.architecture"] == "qwen2" and len(meta["tokenizer.ggml.tokens"]) == cfg.vocab_size
    os.remove(tmp)
    log("export pre-check ok:", check_against_transformers(model, device))

    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt_kw = dict(lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    if device == "cuda":
        opt_kw["fused"] = True
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], **opt_kw)

    rng = np.random.default_rng(args.seed)
    stream = data.batches(args.batch, rng)

    def lr_at(step, total):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
        return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))

    def train_step(step, total):
        x, y = next(stream)
        x = torch.from_numpy(x).to(device, non_blocking=True)
        y = torch.from_numpy(y).to(device, non_blocking=True)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total)
        with autocast(device):
            h = model.hidden(x)
            sel = y >= 0
            logits = model.logits(h[sel]).float()
            loss = torch.nn.functional.cross_entropy(logits, y[sel])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    model.train()
    total = args.steps if args.steps > 0 else None
    t_train = time.time()
    step = 0
    probe_from, probe_to = 20, 80  # time steps after the warm-up ones
    losses = []
    t_probe = None
    while True:
        if total is None and step in (probe_from, probe_to):
            if device == "cuda":
                torch.cuda.synchronize()
            if step == probe_from:
                t_probe = time.time()
            else:
                per = (time.time() - t_probe) / (probe_to - probe_from)
                left = args.train_seconds - (time.time() - t_train)
                total = max(probe_to + 1, min(args.max_steps, probe_to + int(left / per)))
                log(f"{per * 1000:.1f} ms/step -> {total} steps for {args.train_seconds:.0f}s")
        if total is not None and step >= total:
            break
        loss = train_step(step, total if total is not None else 10 ** 9)
        step += 1
        if step % args.log_every == 0 or step == 1:
            lv = loss.item()
            losses.append((step, lv))
            log(f"step {step}/{total} loss {lv:.4f} lr {lr_at(step, total or 10 ** 9):.2e}")
    if device == "cuda":
        torch.cuda.synchronize()
    train_time = time.time() - t_train
    log(f"trained {step} steps in {train_time:.1f}s")
    model.eval()
    torch.save({"config": cfg.to_dict(), "state_dict": model.state_dict()}, os.path.join(args.out, "model.pt"))

    # 4. export -----------------------------------------------------------------------------------
    sizes = {}
    for q in ("q8_0", "f16"):
        path = os.path.join(args.out, f"demo-{q}.gguf")
        sizes[q] = export_gguf(path, model, tok, q)
        log(f"wrote {path}: {sizes[q]:,} bytes")

    report = {
        "config": cfg.to_dict(), "params": n_params, "vocab_size": len(tok.tokens), "merges": len(tok.merges),
        "train": {"steps": step, "batch": args.batch, "seconds": round(train_time, 1), "lr": args.lr,
                  "examples": len(data), "tokens": int(data.offsets[-1]), "seed": args.seed,
                  "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
                  "loss_curve": losses},
        "gguf_bytes": sizes,
        "transformers_check": check_against_transformers(model, device),
    }

    def save_report():
        with open(os.path.join(args.out, "eval.json"), "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)

    save_report()
    if args.skip_eval:
        return

    # 5. evaluation -----------------------------------------------------------------------------
    demo = ["What is 12 + 30?", "What is 7 * 8?", "What is 345 - 178?", "What is 123 × 45?",
            'How many r\'s are in "strawberry"?', "Spell house backwards.", "How many cm are in 2.5 m?",
            "If today is Monday, what day will it be in 10 days?", "How do I start Sluice?",
            "How do I read Sluice metrics?", "How do I set a rate limit?", "Hello", "Who are you?"]
    dp = [C.render([{"role": "user", "content": q}]) for q in demo]
    dp += [C.render([{"role": "user", "content": q}], True, True) for q in demo[:4]]
    outs = greedy(model, tok.encode_batch(dp), eos_id, args.max_new, device)
    report["demo"] = [{"prompt": p, "reply": tok.decode(g), "eos": e} for p, (g, e) in zip(dp, outs)]
    for d in report["demo"]:
        log("demo:", json.dumps(d, ensure_ascii=False))
    save_report()

    t = time.time()
    report["eval_default_torch"] = evaluate(model, tok, items, eos_id, device, False, args.max_new, args.seed + 11)
    log(f"eval (default mode, torch) {time.time() - t:.1f}s:", json.dumps(headline(report["eval_default_torch"])))
    save_report()

    t = time.time()
    qmodel = Qwen2(cfg).to(device)
    _, tens, _ = G.read_gguf(os.path.join(args.out, "demo-q8_0.gguf"))
    load_gguf_tensors(qmodel, tens)
    report["eval_default_q8_0"] = evaluate(qmodel, tok, items, eos_id, device, False, args.max_new, args.seed + 11)
    log(f"eval (default mode, Q8_0 file) {time.time() - t:.1f}s:", json.dumps(headline(report["eval_default_q8_0"])))
    save_report()

    t = time.time()
    counts, sub = {}, []
    for it in items:
        k = counts.get(it.bucket, 0)
        if k < args.think_eval_per_bucket:
            sub.append(it)
        counts[it.bucket] = k + 1
    report["eval_thinking_torch"] = evaluate(model, tok, sub, eos_id, device, True, args.max_new, args.seed + 13)
    log(f"eval (thinking mode, torch, subset) {time.time() - t:.1f}s:", json.dumps(headline(report["eval_thinking_torch"])))
    save_report()
    log("done")


def headline(ev):
    keys = ["add_2x2", "sub_2x2", "arith_all", "arith", "count", "reverse", "units", "days", "qa", "qa_exact"]
    out = {k: ev["per_task"][k]["accuracy"] for k in keys if k in ev["per_task"]}
    out["eos_rate"] = ev["summary"]["eos_rate"]
    return out


if __name__ == "__main__":
    main()
