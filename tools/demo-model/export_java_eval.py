#!/usr/bin/env python3
"""Writes the held-out arithmetic items that DemoModelQualityTest (Java) runs through Sluice's own
engine: python3 export_java_eval.py [OUT.json]. Deterministic: the items are the first ones of
each bucket of the test split of corpus.Corpus(1234), the split train.py holds out, so the
shipped model never saw them as training questions.

  - 30 add_2x2 + 30 sub_2x2 (2-digit addition and subtraction)
  - 3 of each of the other 22 arithmetic buckets (+, -, x on 1 to 3 digits): 66 items

Each item carries the prompt as rendered here by the model's chat template (jinja2, one user
message, add_generation_prompt, enable_thinking unset), so the Java test also checks that its own
template rendering matches."""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import corpus as C  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "..", "..", "sluice-engine", "src", "test", "resources", "demo",
                           "arith-heldout.json")
TWO_DIGIT = 30   # per 2-digit add/sub bucket
OTHER = 3        # per other arithmetic bucket


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    corpus = C.Corpus(1234)
    taken: dict[str, int] = {}
    items = []
    for it in corpus.test:
        if it.task != "arith":
            continue
        n = TWO_DIGIT if it.bucket in ("add_2x2", "sub_2x2") else OTHER
        if taken.get(it.bucket, 0) >= n:
            continue
        taken[it.bucket] = taken.get(it.bucket, 0) + 1
        prompt = C.render([{"role": "user", "content": it.question}])
        items.append({"bucket": it.bucket, "question": it.question, "answer": it.expected,
                      "prompt": prompt})
    doc = {
        "source": "tools/demo-model/export_java_eval.py: test split of corpus.Corpus(seed=1234)",
        "prompt": "the model's chat template, messages=[{role: user, content: question}], "
                  "add_generation_prompt=true, enable_thinking unset: BOS <|User|> question "
                  "<|Assistant|> <think>\\n</think>",
        "check": "the last integer (-?\\d+) of the reply after the last </think> equals answer",
        "items": items,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(items)} items, buckets {taken}")


if __name__ == "__main__":
    main()
