"""Synthetic chat corpus for the Sluice demo model (pure Python: no torch needed).

Tasks (each generator returns an Item):
  arith    integer +, -, x on numbers of 1 to 3 digits; exact answers. Products with a multi-digit
           second factor are worked out in the answer (distributive form), which a model this small
           needs in order to be exact.
  count    how many times a letter occurs in a word (the word is spelled out first).
  reverse  a word spelled backwards.
  units    cm/m/km, g/kg, minutes/hours.
  days     day-of-week arithmetic.
  qa       questions about Sluice and small talk, from the curated set QA below.

Held-out split: the test items are drawn first (fixed seed) and the training generator rejects
any item whose key (task, operands) is in the test set; for qa the held-out unit is the
phrasing (some paraphrases of each question are only in the test split); for count/reverse
it is the word.

Conversations are rendered with the model's own chat template (chat_template.jinja, the
DeepSeek-R1-Distill-Qwen one) through jinja2, the way transformers' apply_chat_template does;
the completion the model learns is appended after the generation prompt. Two modes:
  default  (enable_thinking unset): prompt ends "<|Assistant|><think>\\n</think>",
           completion "\\n\\n" + answer
  thinking (enable_thinking=true):  prompt ends "<|Assistant|><think>\\n",
           completion reasoning + "\\n</think>\\n\\n" + short answer
"""
from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal

from words import word_list

HERE = os.path.dirname(os.path.abspath(__file__))

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK = "<think>"
END_THINK = "</think>"
SPECIAL_TOKENS = [BOS, EOS, USER, ASSISTANT, THINK, END_THINK]

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are the Sluice demo model. Answer briefly.",
    "You are a concise assistant.",
    "Answer the user's question.",
]


@dataclass
class Item:
    task: str            # arith | count | reverse | units | days | qa
    bucket: str          # finer category for the report, e.g. add_2x2
    key: tuple           # identity for the held-out split
    question: str
    full: str            # answer in default mode (may include the working)
    think: str           # reasoning for thinking mode
    short: str           # answer after the reasoning in thinking mode
    expected: str        # what the checker looks for
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# arithmetic

ADD_Q = [
    "What is {a} + {b}?", "What is {a} plus {b}?", "what is {a}+{b}?", "What's {a} + {b}?",
    "Compute {a} + {b}.", "Calculate {a} + {b}.", "{a} + {b} = ?", "{a} + {b}", "{a}+{b}=",
    "How much is {a} plus {b}?", "Add {a} and {b}.", "What is the sum of {a} and {b}?",
    "Please add {a} to {b}.", "Can you tell me what {a} + {b} is?", "Solve: {a} + {b}",
    "What do you get if you add {a} and {b}?", "{a} plus {b}?", "Quick question: {a} + {b}?",
]
SUB_Q = [
    "What is {a} - {b}?", "What is {a} minus {b}?", "what is {a}-{b}?", "What's {a} - {b}?",
    "Compute {a} - {b}.", "Calculate {a} − {b}.", "{a} - {b} = ?", "{a} - {b}", "{a}-{b}=",
    "How much is {a} minus {b}?", "Subtract {b} from {a}.", "What is the difference {a} - {b}?",
    "What is {a} − {b}?", "Can you tell me what {a} - {b} is?", "Solve: {a} - {b}",
    "What do you get if you take {b} away from {a}?", "{a} minus {b}?", "Quick question: {a} - {b}?",
]
MUL_Q = [
    "What is {a} × {b}?", "What is {a} times {b}?", "what is {a}*{b}?", "What's {a} * {b}?",
    "Compute {a} × {b}.", "Calculate {a} * {b}.", "{a} × {b} = ?", "{a} * {b}", "{a}x{b}=",
    "How much is {a} times {b}?", "Multiply {a} by {b}.", "What is the product of {a} and {b}?",
    "What is {a} x {b}?", "Can you tell me what {a} × {b} is?", "Solve: {a} * {b}",
    "What do you get if you multiply {a} by {b}?", "{a} times {b}?", "Quick question: {a} × {b}?",
]
OPS = {"add": ("+", ADD_Q), "sub": ("-", SUB_Q), "mul": ("×", MUL_Q)}
DIGIT_BUCKETS = [(1, 1), (1, 2), (2, 1), (2, 2), (1, 3), (3, 1), (2, 3), (3, 2), (3, 3)]


def rand_digits(rng: random.Random, d: int) -> int:
    return rng.randint(0 if d == 1 else 10 ** (d - 1), 10 ** d - 1)


def mul_working(a: int, b: int) -> tuple[str, str]:
    """(default-mode answer, thinking text) for a × b, decomposing b by its digits."""
    s = str(b)
    parts = [(int(ch) * 10 ** (len(s) - 1 - i)) for i, ch in enumerate(s) if ch != "0"]
    c = a * b
    if len(parts) <= 1:
        line = f"{a} × {b} = {c}"
        return line + ".", line
    terms = " + ".join(f"{a} × {p}" for p in parts)
    prods = [a * p for p in parts]
    chain = [" + ".join(str(x) for x in prods)]
    acc = prods[0]
    rest = prods[1:]
    while len(rest) > 1:
        acc += rest[0]
        rest = rest[1:]
        chain.append(" + ".join(str(x) for x in [acc] + rest))
    chain.append(str(c))
    full = f"{a} × {b} = {terms} = " + " = ".join(chain) + "."
    think = f"{a} × {b} = {terms}\n" + "\n".join("= " + x for x in chain)
    return full, think


def arith_item(rng: random.Random, op: str, a: int, b: int) -> Item:
    sym, qs = OPS[op]
    q = rng.choice(qs).format(a=a, b=b)
    if op == "add":
        c = a + b
        line = f"{a} + {b} = {c}"
        full, think = line + ".", line
    elif op == "sub":
        c = a - b
        line = f"{a} - {b} = {c}" if c >= 0 else f"{a} - {b} = -({b} - {a}) = {c}"
        full, think = line + ".", line
    else:
        c = a * b
        full, think = mul_working(a, b)
    short = f"{a} {sym} {b} = {c}."
    da, db = len(str(a)), len(str(b))
    return Item("arith", f"{op}_{da}x{db}", ("arith", op, a, b), q, full, think, short, str(c))


def arith_key(op: str, a: int, b: int) -> tuple:
    # a + b and b + a (a × b and b × a) are the same problem for the held-out split
    if op in ("add", "mul"):
        a, b = min(a, b), max(a, b)
    return ("arith", op, a, b)


# ---------------------------------------------------------------------------------------------
# letters

COUNT_Q = [
    'How many times does the letter "{c}" appear in "{w}"?', "How many {c}'s are in {w}?",
    'How many "{c}" are there in the word "{w}"?', "Count the letter {c} in the word {w}.",
    "How many times does {c} occur in {w}?", 'Count how many "{c}" letters "{w}" has.',
    "In the word {w}, how many {c}'s are there?", "how many {c} in {w}?",
]
REVERSE_Q = [
    'Spell "{w}" backwards.', "Spell {w} backwards.", 'What is "{w}" reversed?',
    "Write the word {w} in reverse.", 'Reverse the word "{w}".', "How do you spell {w} backwards?",
    "Spell the word {w} in reverse order.", "reverse {w}",
]


ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
          "br", "ch", "cl", "dr", "fl", "gr", "pl", "qu", "sh", "sl", "st", "th", "tr", "x", "y", ""]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "oo", "ou", "y"]
CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "ck", "nd", "st", "x", "p"]


def pseudo_word(rng: random.Random) -> str:
    """A made-up word (teaches spelling of arbitrary token sequences, not just the word list)."""
    if rng.random() < 0.25:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
    w = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(rng.randint(1, 3)))
    return w[:12] if len(w) >= 3 else w + "ly"


def count_item(rng: random.Random, w: str, c: str) -> Item:
    q = rng.choice(COUNT_Q).format(c=c, w=w)
    n = w.count(c)
    spelled = "-".join(w)
    times = "1 time" if n == 1 else f"{n} times"
    full = f'"{w}" is spelled {spelled}. The letter "{c}" appears {times}.'
    think = f"{spelled}\n{c}: {n}"
    short = f'The letter "{c}" appears {times} in "{w}".'
    return Item("count", "count", ("count", w, c), q, full, think, short, str(n))


def reverse_item(rng: random.Random, w: str) -> Item:
    q = rng.choice(REVERSE_Q).format(w=w)
    r = w[::-1]
    spelled, rspelled = "-".join(w), "-".join(r)
    full = f'"{w}" is spelled {spelled}. Backwards that is {rspelled}, so the word reversed is "{r}".'
    think = f"{spelled}\n{rspelled}"
    short = f'"{w}" spelled backwards is "{r}".'
    return Item("reverse", "reverse", ("reverse", w), q, full, think, short, r)


# ---------------------------------------------------------------------------------------------
# unit conversions (exact decimals)

UNITS = {
    # (from, to): (factor as Decimal, from names, to names); to = from * factor
    ("m", "cm"): Decimal(100), ("cm", "m"): Decimal("0.01"),
    ("km", "m"): Decimal(1000), ("m", "km"): Decimal("0.001"),
    ("km", "cm"): Decimal(100000), ("cm", "km"): Decimal("0.00001"),
    ("kg", "g"): Decimal(1000), ("g", "kg"): Decimal("0.001"),
    ("hours", "minutes"): Decimal(60), ("minutes", "hours"): Decimal(1) / Decimal(60),
}
UNIT_WORDS = {
    "cm": ["cm", "centimeters", "centimetres"], "m": ["m", "meters", "metres"],
    "km": ["km", "kilometers", "kilometres"], "g": ["g", "grams"], "kg": ["kg", "kilograms"],
    "minutes": ["minutes", "min"], "hours": ["hours", "h"],
}
BASE = {  # how many of the small unit in one big unit, for the explanation
    frozenset(("m", "cm")): ("m", 100, "cm"), frozenset(("km", "m")): ("km", 1000, "m"),
    frozenset(("km", "cm")): ("km", 100000, "cm"), frozenset(("kg", "g")): ("kg", 1000, "g"),
    frozenset(("hours", "minutes")): ("hour", 60, "minutes"),
}
UNITS_Q = [
    "How many {tw} are in {v} {fw}?", "Convert {v} {fw} to {tw}.", "What is {v} {fw} in {tw}?",
    "{v} {fw} = ? {tw}", "How many {tw} is {v} {fw}?", "Express {v} {fw} in {tw}.",
    "convert {v} {fw} into {tw}", "{v} {fw} is how many {tw}?",
]


def fmt_dec(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def units_value(rng: random.Random, frm: str, to: str) -> Decimal:
    f = UNITS[(frm, to)]
    if (frm, to) == ("minutes", "hours"):
        return Decimal(15 * rng.randint(1, 60))
    if f >= 1:  # big -> small: integers, sometimes one decimal
        if rng.random() < 0.3:
            return Decimal(rng.randint(1, 199)) / 10
        return Decimal(rng.randint(1, 999 if f <= 1000 else 99))
    # small -> big: the result should be a short exact decimal
    if (frm, to) == ("cm", "km"):
        return Decimal(rng.randint(1, 99) * 1000)
    return Decimal(rng.choice([rng.randint(1, 99), rng.randint(1, 999), rng.randint(1, 99) * 10, rng.randint(1, 99) * 100]))


def convert(frm: str, to: str, v: Decimal) -> Decimal:
    if (frm, to) == ("minutes", "hours"):
        return v / Decimal(60)  # exact: v is a multiple of 15
    return v * UNITS[(frm, to)]


def units_item(rng: random.Random, frm: str, to: str, v: Decimal) -> Item:
    r = convert(frm, to, v)
    vs, rs = fmt_dec(v), fmt_dec(r)
    q = rng.choice(UNITS_Q).format(v=vs, fw=rng.choice(UNIT_WORDS[frm]), tw=rng.choice(UNIT_WORDS[to]))
    big, n, small = BASE[frozenset((frm, to))]
    rule = f"There are {n} {small} in 1 {big}"
    if UNITS[(frm, to)] > 1:
        think = f"{rule}.\n{vs} × {n} = {rs}"
    else:
        think = f"{rule}.\n{vs} / {n} = {rs}"
    short = f"{vs} {frm} = {rs} {to}."
    full = f"{rule}, so {vs} {frm} = {rs} {to}."
    return Item("units", f"{frm}_to_{to}", ("units", frm, to, vs), q, full, think, short, rs)


# ---------------------------------------------------------------------------------------------
# days of the week

DAYS_AFTER_Q = [
    "If today is {d}, what day of the week will it be in {n} days?",
    "Today is {d}. What day will it be {n} days from now?",
    "What day of the week is {n} days after {d}?", "{d} plus {n} days is which day?",
    "It's {d} today. Which day is it in {n} days?",
]
DAYS_BEFORE_Q = [
    "If today is {d}, what day of the week was it {n} days ago?",
    "What day of the week is {n} days before {d}?", "Today is {d}. What day was it {n} days ago?",
    "{d} minus {n} days is which day?",
]
DAYS_NAMED = {  # n, direction, phrasing
    "tomorrow": (1, 1, ["If today is {d}, what day is tomorrow?", "Today is {d}. What day is it tomorrow?"]),
    "yesterday": (1, -1, ["If today is {d}, what day was yesterday?", "Today is {d}. What day was it yesterday?"]),
    "after tomorrow": (2, 1, ["If today is {d}, what day is the day after tomorrow?"]),
    "before yesterday": (2, -1, ["If today is {d}, what day was the day before yesterday?"]),
}


def days_item(rng: random.Random, d: int, n: int, sign: int, named: str | None = None) -> Item:
    day = DAYS[d]
    res = DAYS[(d + sign * n) % 7]
    if named:
        q = rng.choice(DAYS_NAMED[named][2]).format(d=day)
        rel = {"tomorrow": "Tomorrow", "yesterday": "Yesterday", "after tomorrow": "The day after tomorrow",
               "before yesterday": "The day before yesterday"}[named]
        verb = "is" if sign > 0 else "was"
        full = f"{rel} {verb} {res}."
        think = f"{day} {'+' if sign > 0 else '-'} {n} = {res}"
        return Item("days", "days_named", ("days", d, n, sign), q, full, think, full, res)
    q = rng.choice(DAYS_AFTER_Q if sign > 0 else DAYS_BEFORE_Q).format(d=day, n=n)
    w, k = divmod(n, 7)
    rel = "after" if sign > 0 else "before"
    if w == 0:
        work = f"{n} days {rel} {day} is {res}."
    else:
        weeks = "1 week" if w == 1 else f"{w} weeks"
        days = "1 day" if k == 1 else f"{k} days"
        work = f"{n} days is {weeks} and {days}, so {n} days {rel} {day} is {res}."
    think = f"{n} = {w} × 7 + {k}\n{day} {'+' if sign > 0 else '-'} {k} = {res}"
    short = f"{n} days {rel} {day} is {res}."
    return Item("days", "days_after" if sign > 0 else "days_before", ("days", d, n, sign), q, work, think, short, res)


# ---------------------------------------------------------------------------------------------
# Sluice Q&A and small talk (curated). Each intent: (questions, answer, must-contain key, topic).
# The last TEST_PARAPHRASES questions of an intent are held out for the test split.

QA = [
    (["How do I start Sluice?", "How do I run the Sluice server?", "What command starts Sluice?",
      "How can I launch Sluice?", "How do I start the server?", "How do I get Sluice running?",
      "What's the command to run sluice?", "how to start sluice", "How do I start serving with Sluice?",
      "Which command do I use to start Sluice?", "How do I bring up a Sluice server?"],
     "Run `sluice serve`. It serves the built-in demo model over an OpenAI-compatible API at "
     "http://127.0.0.1:8080/v1; `--port` and `--host` change the address.",
     "sluice serve", "starting Sluice"),
    (["How do I set a rate limit?", "How can I limit requests per minute in Sluice?",
      "How do I configure rate limiting in Sluice?", "Can Sluice throttle clients?",
      "How do I limit how many tokens a key can use?", "how to set rate limits in sluice",
      "Where do I configure rate limits?", "How do I stop one client from sending too many requests?",
      "How do I set a rate limit for an API key?", "How does Sluice rate limiting work?"],
     "Rate limits are not available yet in this version of Sluice. The server bounds its queue instead: "
     "`sluice serve --max-waiting N` sets how many requests may wait, and more get HTTP 503 with "
     "Retry-After. `--max-tokens-cap N` caps the max_tokens a request may ask for.",
     "not available", "rate limits"),
    (["How do I add a model?", "How can I serve another model with Sluice?", "How do I load a GGUF model?",
      "How do I add a new model to Sluice?", "How do I serve my own model?", "how to add a model to sluice",
      "Can I use my own GGUF file with Sluice?", "How do I register a model in Sluice?",
      "How do I make Sluice serve a model from Hugging Face?", "How do I configure models in Sluice?"],
     "Run `sluice serve --model PATH.gguf` with a GGUF file, or `sluice serve --model hf:ORG/REPO[:FILE]` "
     "to download one from Hugging Face. `--served-model-name NAME` sets the name clients put in the "
     "model field.",
     "--model", "adding a model"),
    (["How do I read metrics?", "Where are Sluice's metrics?", "Does Sluice export Prometheus metrics?",
      "How do I monitor Sluice?", "How can I see Sluice metrics?", "how to get metrics from sluice",
      "Which endpoint has the metrics?", "How do I scrape Sluice with Prometheus?",
      "Where can I find request metrics?", "Does Sluice have a metrics endpoint?"],
     "Send GET /metrics. Sluice answers in the Prometheus text format, with names like "
     "sluice_requests_total and sluice_time_to_first_token_seconds, so Prometheus can scrape it directly. "
     "Readiness is at GET /health/ready.",
     "/metrics", "metrics"),
    (["What is Sluice?", "Tell me about Sluice.", "What does Sluice do?", "what is sluice",
      "Can you describe Sluice?", "What is the Sluice project?", "Explain what Sluice is."],
     "Sluice is an LLM serving stack written in Java 25: a pure-Java inference engine and a server "
     "with an OpenAI-compatible API and Prometheus metrics, started with `sluice serve`.",
     "Java", "Sluice"),
    (["Which API does Sluice support?", "Is Sluice compatible with the OpenAI API?",
      "What API does Sluice expose?", "Can I use the OpenAI client with Sluice?",
      "which api does sluice speak", "Does Sluice work with OpenAI SDKs?"],
     "Sluice serves an OpenAI-compatible API under /v1, for example POST /v1/chat/completions, "
     "POST /v1/completions and GET /v1/models, so the official OpenAI clients work with it.",
     "OpenAI", "the API"),
    (["Which model formats does Sluice support?", "Can Sluice load safetensors?",
      "What file formats can Sluice read?", "Does Sluice support GGUF?", "which formats does sluice load",
      "What kinds of model files does Sluice accept?"],
     "Sluice loads GGUF files, Hugging Face safetensors folders and llama2.c checkpoints. "
     "`sluice convert` turns a safetensors folder into GGUF, and `sluice quantize` makes q8_0 or q4_0.",
     "safetensors", "model formats"),
    (["What commands does Sluice have?", "Which sluice commands are there?", "What can the sluice CLI do?",
      "List the Sluice commands.", "what commands does sluice have", "How do I chat with a model from the terminal?",
      "Which subcommands does the sluice command have?", "What does the sluice command line offer?"],
     "`sluice serve` runs the server, `sluice generate` completes a prompt, `sluice chat` chats in the "
     "terminal, `sluice tokenize` prints token ids, `sluice convert` and `sluice quantize` make GGUF "
     "files, and `sluice bench` runs benchmarks.",
     "sluice chat", "the sluice commands"),
    (["Who are you?", "What are you?", "What is your name?", "who are you", "Are you a big model?",
      "Introduce yourself.", "Tell me about yourself."],
     "I am the Sluice demo model, a small model that the Sluice project trains itself. I can do "
     "arithmetic, count letters, spell words backwards, convert units, work out days of the week, "
     "and answer questions about Sluice.",
     "demo model", "me"),
    (["What can you do?", "What can I ask you?", "Help", "What are you good at?", "what can you do",
      "What tasks can you handle?"],
     "I can add, subtract and multiply whole numbers, count letters in a word, spell words backwards, "
     "convert cm, m, km, g, kg, minutes and hours, work out days of the week, and answer questions "
     "about Sluice.",
     "spell", "what I can do"),
    (["Hello", "Hi!", "Hey there", "hello", "Good morning!", "Hi, how are you?", "Hey!", "Greetings."],
     "Hello! I am the Sluice demo model. Ask me some arithmetic, a unit conversion, a day of the week "
     "or a question about Sluice.",
     "Hello", "a greeting"),
    (["Thanks!", "Thank you.", "thanks", "Thank you very much!", "Great, thanks.", "Cheers!"],
     "You're welcome!",
     "welcome", "thanks"),
]
TEST_PARAPHRASES = 2
SMALL_TALK_FROM = 8  # intents from here on are small talk (no "Sluice question:" prefixes)
PREFIXES = ["Hi! ", "Hey, ", "Quick question: ", "Please tell me: ", "I have a question. ", "Sluice question: ",
            "Can you help? ", "Hello, "]
SUFFIXES = [" Thanks!", " Thank you.", " Please.", " Briefly.", " (Sluice)"]


def augment_question(rng: random.Random, q: str, about_sluice: bool) -> str:
    if about_sluice:
        if rng.random() < 0.2:
            q = rng.choice(PREFIXES) + (q[:1].lower() + q[1:] if rng.random() < 0.5 else q)
        if rng.random() < 0.1:
            q = q + rng.choice(SUFFIXES)
    r = rng.random()
    if r < 0.15:
        q = q.lower()
    elif r < 0.3:
        q = q.rstrip("?.!")
    elif r < 0.35:
        q = q.upper()
    return q


def qa_item(rng: random.Random, intent: int, phr: int) -> Item:
    qs, ans, key, topic = QA[intent]
    think = f"The user asks about {topic}."
    return Item("qa", f"qa_{intent}", ("qa", intent, phr), qs[phr], ans, think, ans, key,
                {"answer": ans})


# ---------------------------------------------------------------------------------------------
# checking a reply

NUM_RE = re.compile(r"-?\d+(?:\.\d+)?")
INT_RE = re.compile(r"-?\d+")
QUOTED_RE = re.compile(r'"([^"]*)"')
DAY_RE = re.compile("|".join(DAYS))


def final_answer(reply: str) -> str:
    """The part of a reply after the reasoning, if any."""
    if END_THINK in reply:
        reply = reply.split(END_THINK)[-1]
    return reply.strip()


def check(item: Item, reply: str) -> bool:
    ans = final_answer(reply)
    if item.task in ("arith", "count"):
        m = INT_RE.findall(ans)
        return bool(m) and m[-1] == item.expected
    if item.task == "units":
        m = NUM_RE.findall(ans)
        return bool(m) and Decimal(m[-1]) == Decimal(item.expected)
    if item.task == "reverse":
        m = QUOTED_RE.findall(ans)
        return bool(m) and m[-1] == item.expected
    if item.task == "days":
        m = DAY_RE.findall(ans)
        return bool(m) and m[-1] == item.expected
    if item.task == "qa":
        return item.expected.lower() in ans.lower()
    raise ValueError(item.task)


def exact_qa(item: Item, reply: str) -> bool:
    return final_answer(reply) == item.meta.get("answer")


# ---------------------------------------------------------------------------------------------
# the corpus

TASK_WEIGHTS = {"add": 0.20, "sub": 0.22, "mul": 0.24, "count": 0.07, "reverse": 0.07,
                "units": 0.07, "days": 0.08, "qa": 0.05}


class Corpus:
    """Deterministic train/test item generator."""

    def __init__(self, seed: int = 1234, test_word_frac: float = 0.1):
        self.seed = seed
        rng = random.Random(seed)
        words = word_list()
        rng.shuffle(words)
        n_test = max(10, int(len(words) * test_word_frac))
        self.test_words = sorted(words[:n_test])
        self.train_words = sorted(words[n_test:])
        self.test: list[Item] = []
        self.test_keys: set = set()
        self._make_test(rng)

    # -- test split ---------------------------------------------------------------------------
    def _add_test(self, it: Item, key=None):
        k = key if key is not None else it.key
        if k in self.test_keys:
            return False
        self.test_keys.add(k)
        self.test.append(it)
        return True

    def _make_test(self, rng: random.Random):
        # 2-digit addition and subtraction: 300 each (report "add_2x2", "sub_2x2")
        # whole arithmetic set: 100 per (op, digits) bucket, bucket (1,1) excluded (those are
        # single facts the model must see in training)
        per_bucket = {(op, b): (300 if b == (2, 2) and op in ("add", "sub") else 100)
                      for op in OPS for b in DIGIT_BUCKETS if b != (1, 1)}
        for (op, (da, db)), n in per_bucket.items():
            got = 0
            while got < n:
                a, b = rand_digits(rng, da), rand_digits(rng, db)
                it = arith_item(rng, op, a, b)
                if self._add_test(it, arith_key(op, a, b)):
                    got += 1
        for _ in range(200):
            w = rng.choice(self.test_words)
            c = rng.choice(w) if rng.random() < 0.8 else rng.choice("abcdefghijklmnopqrstuvwxyz")
            self._add_test(count_item(rng, w, c))
        for w in self.test_words:
            self._add_test(reverse_item(rng, w))
        pairs = list(UNITS)
        got = 0
        while got < 200:
            frm, to = pairs[got % len(pairs)]
            if self._add_test(units_item(rng, frm, to, units_value(rng, frm, to))):
                got += 1
        got = 0
        while got < 200:
            sign = 1 if got % 2 == 0 else -1
            n = rng.randint(3, 365)
            if self._add_test(days_item(rng, rng.randrange(7), n, sign)):
                got += 1
        for i, (qs, *_rest) in enumerate(QA):
            for p in range(len(qs) - TEST_PARAPHRASES, len(qs)):
                self._add_test(qa_item(rng, i, p))

    # -- training items -----------------------------------------------------------------------
    def train_item(self, rng: random.Random) -> Item:
        tasks, weights = zip(*TASK_WEIGHTS.items())
        while True:
            t = rng.choices(tasks, weights)[0]
            if t in OPS:
                da, db = rng.choice(DIGIT_BUCKETS)
                a, b = rand_digits(rng, da), rand_digits(rng, db)
                if arith_key(t, a, b) in self.test_keys:
                    continue
                return arith_item(rng, t, a, b)
            if t == "count":
                w = rng.choice(self.train_words) if rng.random() < 0.5 else pseudo_word(rng)
                if w in self.test_words:
                    continue
                c = rng.choice(w) if rng.random() < 0.8 else rng.choice("abcdefghijklmnopqrstuvwxyz")
                return count_item(rng, w, c)
            if t == "reverse":
                w = rng.choice(self.train_words) if rng.random() < 0.5 else pseudo_word(rng)
                if w in self.test_words:
                    continue
                return reverse_item(rng, w)
            if t == "units":
                frm, to = rng.choice(list(UNITS))
                it = units_item(rng, frm, to, units_value(rng, frm, to))
            elif t == "days":
                r = rng.random()
                if r < 0.15:
                    named = rng.choice(list(DAYS_NAMED))
                    n, sign, _ = DAYS_NAMED[named]
                    return days_item(rng, rng.randrange(7), n, sign, named)
                n = rng.randint(1, 14) if r < 0.5 else rng.randint(1, 365)
                it = days_item(rng, rng.randrange(7), n, rng.choice((1, -1)))
            else:
                i = rng.randrange(len(QA))
                p = rng.randrange(len(QA[i][0]) - TEST_PARAPHRASES)
                it = qa_item(rng, i, p)
                it.question = augment_question(rng, it.question, i < SMALL_TALK_FROM)
            if it.key in self.test_keys:
                continue
            return it


# ---------------------------------------------------------------------------------------------
# rendering with the chat template

_TEMPLATE = None


def chat_template_text() -> str:
    with open(os.path.join(HERE, "chat_template.jinja"), encoding="utf-8") as f:
        return f.read()


def render(messages: list[dict], add_generation_prompt: bool = True, enable_thinking: bool | None = None) -> str:
    """Renders like transformers' apply_chat_template (jinja2 sandbox, trim_blocks, lstrip_blocks)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=["jinja2.ext.loopcontrols"])
        env.filters["tojson"] = lambda x, **kw: __import__("json").dumps(x, ensure_ascii=False)
        _TEMPLATE = env.from_string(chat_template_text())
    kw = dict(messages=messages, add_generation_prompt=add_generation_prompt, bos_token=BOS, eos_token=EOS)
    if enable_thinking is not None:
        kw["enable_thinking"] = enable_thinking
    return _TEMPLATE.render(**kw)


def completion(item: Item, thinking: bool) -> str:
    if thinking:
        return item.think + "\n" + END_THINK + "\n\n" + item.short
    return "\n\n" + item.full


def history_content(rng: random.Random, item: Item) -> str:
    r = rng.random()
    if r < 0.4:
        return item.full
    if r < 0.7:
        return "\n\n" + item.full
    return THINK + "\n" + completion(item, True)  # the template keeps only what follows </think>


def make_example(rng: random.Random, item: Item, history: Item | None = None,
                 thinking: bool | None = None, system: str | None = None) -> tuple[str, str]:
    """(prompt text, completion text without EOS) for one training or test conversation."""
    if thinking is None:
        thinking = rng.random() < 0.3
    msgs = []
    if system:
        msgs.append({"role": "system", "content": system})
    if history is not None:
        msgs.append({"role": "user", "content": history.question})
        msgs.append({"role": "assistant", "content": history_content(rng, history)})
    msgs.append({"role": "user", "content": item.question})
    prompt = render(msgs, True, True if thinking else None)
    return prompt, completion(item, thinking)


def training_examples(corpus: Corpus, n: int, seed: int):
    """Yields n (prompt, completion, task) training conversations."""
    rng = random.Random(seed)
    for _ in range(n):
        item = corpus.train_item(rng)
        history = corpus.train_item(rng) if rng.random() < 0.1 else None
        system = rng.choice(SYSTEM_PROMPTS) if rng.random() < 0.1 else None
        prompt, comp = make_example(rng, item, history, None, system)
        if rng.random() < 0.03:
            prompt = BOS + prompt  # a client that also adds BOS at tokenization
        yield prompt, comp, item.task


def tokenizer_training_text(corpus: Corpus, n: int, seed: int):
    """Texts for training the BPE vocabulary: conversations plus every word and Q&A text."""
    for p, c, _ in training_examples(corpus, n, seed):
        yield p + c
    for w in corpus.train_words:
        yield f"{w} {w.capitalize()} \"{w}\" '{w}'"
    for qs, ans, _k, _t in QA:
        yield " ".join(qs) + " " + ans
