#!/usr/bin/env python3
"""Quick checks of the pieces that need no GPU: python3 test_local.py (numpy, jinja2, regex; torch
optional). Prints 'N passed, N failed'."""
from __future__ import annotations

import os
import random
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import corpus as C  # noqa: E402
import gguf_writer as G  # noqa: E402

RESULTS = []


def case(fn):
    try:
        fn()
        RESULTS.append((fn.__name__, None))
    except Exception as e:  # noqa: BLE001
        RESULTS.append((fn.__name__, e))
    return fn


@case
def template_matches_expected_rendering():
    msgs = [{"role": "user", "content": "What is 12 + 30?"}]
    assert C.render(msgs) == C.BOS + C.USER + "What is 12 + 30?" + C.ASSISTANT + "<think>\n</think>"
    assert C.render(msgs, True, True) == C.BOS + C.USER + "What is 12 + 30?" + C.ASSISTANT + "<think>\n"
    hist = [{"role": "system", "content": "S"}, {"role": "user", "content": "a"},
            {"role": "assistant", "content": "<think>\nx\n</think>\n\nb"}, {"role": "user", "content": "c"}]
    assert C.render(hist) == C.BOS + "S" + C.USER + "a" + C.ASSISTANT + "\n\nb" + C.EOS + C.USER + "c" + C.ASSISTANT + "<think>\n</think>"


@case
def multiplication_working_is_exact():
    rng = random.Random(0)
    for _ in range(2000):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        full, think = C.mul_working(a, b)
        assert full.endswith(f"= {a * b}."), full
        # every "x = y" step in the chain holds
        expr = full[:-1].split(" = ")
        vals = [eval(e.replace("×", "*")) for e in expr]  # noqa: S307
        assert all(v == a * b for v in vals), full
        assert think.split("\n")[-1].endswith(str(a * b))


@case
def split_is_held_out():
    c = C.Corpus(1234)
    rng = random.Random(5)
    keys = c.test_keys
    for _ in range(30000):
        it = c.train_item(rng)
        k = C.arith_key(*it.key[1:]) if it.task == "arith" else it.key
        assert k not in keys, it
        if it.task in ("count", "reverse"):
            assert it.key[1] not in c.test_words
    assert len({it.question for it in c.test if it.task == "qa"} & {q for qs, *_ in C.QA for q in qs[:-C.TEST_PARAPHRASES]}) == 0


@case
def checker_accepts_reference_answers_and_rejects_wrong_ones():
    c = C.Corpus(1234)
    for it in c.test:
        assert C.check(it, C.completion(it, False)), (it, C.completion(it, False))
        assert C.check(it, C.completion(it, True)), (it, C.completion(it, True))
    it = C.arith_item(random.Random(0), "add", 12, 30)
    assert not C.check(it, "\n\n12 + 30 = 43.")
    assert C.check(it, "\n\n12 + 30 = 42.")


@case
def corpus_is_deterministic():
    c = C.Corpus(1234)
    a = list(C.training_examples(c, 500, 9))
    b = list(C.training_examples(C.Corpus(1234), 500, 9))
    assert a == b


@case
def units_are_exact():
    rng = random.Random(3)
    for frm, to in C.UNITS:
        for _ in range(200):
            v = C.units_value(rng, frm, to)
            it = C.units_item(rng, frm, to, v)
            r = C.convert(frm, to, v)
            assert C.fmt_dec(r) == it.expected
            assert "E" not in it.expected and ("." not in it.expected or len(it.expected.split(".")[1]) <= 5), it.expected


@case
def q8_0_matches_ggml_reference():
    x = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    x[1, :32] = 0  # all-zero block
    raw = G.quantize_q8_0(x)
    assert raw.size == 8 * 34
    y = G.dequantize_q8_0(raw, x.size).reshape(x.shape)
    assert np.all(y[1, :32] == 0)
    # ggml: d = amax/127 as fp16, q = round(x/d); error bounded by d/2 (+ fp16 rounding of d)
    blocks = x.reshape(-1, 32)
    d = np.abs(blocks).max(1) / 127
    err = np.abs(y.reshape(-1, 32) - blocks).max(1)
    assert np.all(err <= d * 0.51 + 1e-3), (err, d)
    # the largest element maps to +-127
    q = raw.reshape(-1, 34)[0, 2:].view(np.int8)
    assert np.abs(q).max() == 127


@case
def gguf_round_trip():
    w = G.GGUFWriter()
    w.add("general.architecture", G.string("qwen2"))
    w.add("qwen2.block_count", G.u32(1))
    w.add("x.f", G.f32(1e-6))
    w.add("x.b", G.boolean(True))
    w.add("tokenizer.ggml.tokens", G.str_array(["a", "Ġb", "<｜User｜>"]))
    w.add("tokenizer.ggml.token_type", G.i32_array([1, 1, 3]))
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 64)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    w.add_tensor("w8", a, G.GGML_Q8_0)
    w.add_tensor("w16", a, G.GGML_F16)
    w.add_tensor("b", b, G.GGML_F32)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.gguf")
        w.write(p)
        meta, t, types = G.read_gguf(p)
        raw = open(p, "rb").read()
    assert meta["general.architecture"] == "qwen2" and meta["qwen2.block_count"] == 1 and meta["x.b"] is True
    assert abs(meta["x.f"] - 1e-6) < 1e-12
    assert meta["tokenizer.ggml.tokens"] == ["a", "Ġb", "<｜User｜>"]
    assert np.array_equal(t["b"], b)
    assert np.allclose(t["w16"], a, atol=1e-2) and t["w16"].shape == (3, 64)
    assert np.allclose(t["w8"], a, atol=0.03)
    assert types == {"w8": 8, "w16": 1, "b": 0}
    assert raw[:4] == b"GGUF"


@case
def model_export_round_trip():
    try:
        import torch
    except ImportError:
        return
    import train
    from model import Config, Qwen2
    torch.manual_seed(0)
    cfg = Config(vocab_size=262, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, intermediate_size=96, max_position_embeddings=64)
    m = Qwen2(cfg)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # non-trivial biases and norms
    tok = train.ByteTokenizer()
    ids = torch.tensor([tok.encode_batch([C.render([{"role": "user", "content": "What is 12 + 30?"}])])[0]])
    with tempfile.TemporaryDirectory() as d:
        for q, tol in (("f16", 2e-3), ("q8_0", 2e-2)):
            p = os.path.join(d, q + ".gguf")
            train.export_gguf(p, m, tok, q)
            meta, tens, types = G.read_gguf(p)
            assert meta["tokenizer.ggml.pre"] == "qwen2" and meta["tokenizer.ggml.bos_token_id"] == 0
            tt = meta["tokenizer.ggml.token_type"]
            assert sorted(tt[:6]) == [3, 3, 3, 3, 4, 4] and tt[6] == 1
            assert "output.weight" not in tens and len(tens) == 2 + 12 * cfg.num_hidden_layers
            assert tens["blk.0.attn_k.weight"].shape == (32, 64)  # torch order after reading back
            m2 = Qwen2(cfg)
            train.load_gguf_tensors(m2, tens)
            with torch.no_grad():
                a, b = m(ids), m2(ids)
            rel = ((a - b).abs().max() / a.abs().max()).item()
            assert rel < tol, (q, rel)


@case
def tokenizer_fallback_round_trip():
    try:
        import regex  # noqa: F401
    except ImportError:
        return
    import train
    tok = train.ByteTokenizer()
    s = C.render([{"role": "user", "content": "Spell \"naïve\" backwards – ok?"}]) + "\n\nx"
    assert tok.decode(tok.encode_batch([s])[0]) == s


if __name__ == "__main__":
    failed = [(n, e) for n, e in RESULTS if e is not None]
    for n, e in RESULTS:
        print(("FAIL " if e else "ok   ") + n + (f": {type(e).__name__}: {e}"[:400] if e else ""))
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)
