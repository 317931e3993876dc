#!/usr/bin/env python3
"""Render fixed conversations through real chat templates with transformers' own machinery.

For every templates/*.jinja (the templates as the models ship them, copied from
shared/fixtures/chat-templates), each case is rendered with
PreTrainedTokenizerFast.apply_chat_template(..., tokenize=False) on a tokenizer whose
bos_token / eos_token are the model family's real strings and whose chat_template is the
file's text. The result goes to OUT/expected.json (a list; see README.md). Where
transformers raises, the entry holds {"error": message} instead of "expected".
"""
import argparse
import copy
import glob
import json
import os
import sys

import transformers
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
DATE = "26 Jul 2024"

DS_BOS, DS_EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
SPECIAL = {
    # file-name prefix -> (bos_token, eos_token) as in the model's tokenizer_config.json
    "Qwen-Qwen2.5-7B-Instruct": (None, "<|im_end|>"),
    "Qwen-Qwen3-0.6B": (None, "<|im_end|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B": (DS_BOS, DS_EOS),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": (DS_BOS, DS_EOS),
    "deepseek-ai-DeepSeek-V3.1": (DS_BOS, DS_EOS),
    "meta-llama-Llama-3.1-8B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistralai-Mistral-Nemo-Instruct-2407": ("<s>", "</s>"),
}

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}
USER1 = {"role": "user", "content": "What's the capital of France?\nAnswer in \"one\" word."}
ASSIST1 = {"role": "assistant", "content": "Paris."}
USER2 = {"role": "user", "content": "And of Japan? Écris en français, s'il te plaît 🙂"}
THINK_ASSIST = {"role": "assistant",
                "content": "<think>\nThe user asks for the capital of France. It is Paris.\n</think>\n\nParis."}
TOOL_USER = {"role": "user", "content": "What is the weather like in Paris today?"}
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}]
TOOL_CALL_ASSIST = {"role": "assistant", "content": "", "tool_calls": [{
    "id": "call12345", "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
               "content": "{\"temperature\": 21, \"sky\": \"sunny\"}"}


def cases_for(name, text):
    c = [
        ("a_system_user_gen", [SYSTEM, USER1], None, True, {}),
        ("b_system_user_nogen", [SYSTEM, USER1], None, False, {}),
        ("c_multi_turn_gen", [USER1, ASSIST1, USER2], None, True, {}),
        ("d_user_only_nogen", [USER1], None, False, {}),
        ("e_tools_user_gen", [TOOL_USER], TOOLS, True, {}),
        ("f_think_multi_turn_gen", [USER1, THINK_ASSIST, USER2], None, True, {}),
        ("g_system_multi_turn_nogen", [SYSTEM, USER1, ASSIST1, USER2, ASSIST1], None, False, {}),
        ("h_tool_call_round_trip_gen", [TOOL_USER, TOOL_CALL_ASSIST, TOOL_RESULT], TOOLS, True, {}),
    ]
    if "enable_thinking" in text:
        c.append(("i_enable_thinking_false", [USER1], None, True, {"enable_thinking": False}))
        c.append(("j_enable_thinking_true", [USER1], None, True, {"enable_thinking": True}))
    return c


def make_tokenizer(bos, eos, template):
    vocab = {"<unk>": 0}
    for t in (bos, eos):
        if t is not None:
            vocab.setdefault(t, len(vocab))
    raw = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    kw = {"tokenizer_object": raw, "chat_template": template}
    if bos is not None:
        kw["bos_token"] = bos
    if eos is not None:
        kw["eos_token"] = eos
    return PreTrainedTokenizerFast(**kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--templates", default=os.path.join(HERE, "templates"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    files = sorted(glob.glob(os.path.join(args.templates, "*.jinja")))
    if not files:
        sys.exit(f"no templates in {args.templates}")
    results, errors = [], []
    for path in files:
        fname = os.path.basename(path)
        key = fname[:-len(".jinja")]
        if key not in SPECIAL:
            sys.exit(f"no bos/eos known for {fname}")
        bos, eos = SPECIAL[key]
        with open(path, encoding="utf-8") as f:
            text = f.read()
        tok = make_tokenizer(bos, eos, text)
        smap = tok.special_tokens_map
        assert smap.get("bos_token") == bos and smap.get("eos_token") == eos, smap
        for case, messages, tools, agp, extra_kw in cases_for(key, text):
            extra = {"date_string": DATE, **extra_kw}
            entry = {
                "template": fname,
                "case": case,
                "bos_token": bos,
                "eos_token": eos,
                "messages": copy.deepcopy(messages),
                "tools": copy.deepcopy(tools),
                "add_generation_prompt": agp,
                "extra": extra,
            }
            try:
                out = tok.apply_chat_template(copy.deepcopy(messages), tools=copy.deepcopy(tools),
                                              add_generation_prompt=agp, tokenize=False, **extra)
                assert isinstance(out, str), type(out)
                entry["expected"] = out
            except Exception as e:  # record what transformers says
                entry["error"] = f"{type(e).__name__}: {e}"
                errors.append(f"{fname} {case}: {entry['error']}")
            results.append(entry)
    meta = {"transformers": transformers.__version__}
    try:
        import jinja2
        meta["jinja2"] = jinja2.__version__
    except ImportError:
        pass
    with open(os.path.join(args.out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(args.out, "versions.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"{len(results)} cases from {len(files)} templates, {len(errors)} errors; {meta}", flush=True)
    for e in errors:
        print("  raised:", e, flush=True)


if __name__ == "__main__":
    main()
