"""Consistency checks and statistics for the hand-written flow set.  Run: python3 validate.py

Checks every debate in ``debates.jsonl``:

* each line parses as JSON and has exactly the documented keys (debate, speech and claim level);
* debate ids are unique; speeches are numbered 1..N (4-6 speeches), alternate sides and use a
  known phase; claim ids are ``s{n}c{k}``, unique, numbered in order within speech ``n``;
* every claim ``text`` is one whole sentence of its speech's ``text`` (verbatim; when ``banron``
  is importable, it must equal a sentence produced by ``banron.kb.chunking.split_sentences``);
* speeches have 3-7 sentences and 2-4 marked claims;
* every id in ``answers`` names an EARLIER claim of the OTHER side;
* ``dropped`` equals exactly the set given by the rule: a claim is dropped iff the other side
  speaks after it and no later claim of the other side lists it in ``answers``.

Prints per-language counts and a lexical-overlap statistic: the share of an answering claim's
content units (Hangul in-word bigrams; English content words) found in the claim it answers,
against the same share for every other earlier opposite-side claim, and how often the earlier
opposite-side claim with the highest overlap is one the answer really answers ("lexical top-1").
Exits 1 on any error.
"""

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

D = Path(__file__).resolve().parent
errors: list[str] = []

try:
    from banron.kb.chunking import split_sentences
except ImportError:  # standalone: a simple splitter on final punctuation
    split_sentences = None


def sentences(text: str) -> list[str]:
    if split_sentences is not None:
        return [" ".join(text[s:e].split()) for s, e in split_sentences(text)]
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


_STOP = frozenset(
    "that this with they them their there then than what when which would will have from into also "  # noqa: SIM905
    "just only about because while whereas every these those were been being does your more most "
    "some such very much many even still same other".split()
)


def content(text: str) -> set[str]:
    """Hangul: in-word character bigrams; Latin: lower-cased words of 4+ letters, minus stopwords."""
    out = {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4 and w not in _STOP}
    for w in re.findall(r"[가-힣]+", text):
        out.update(w[i : i + 2] for i in range(len(w) - 1))
    return out


def overlap(answer: str, target: str) -> float:
    """Share of the answer's content units that also occur in the target."""
    a = content(answer)
    return len(a & content(target)) / len(a) if a else 0.0


DEBATE_KEYS = {"id", "lang", "motion", "speeches", "dropped"}
SPEECH_KEYS = {"n", "side", "phase", "text", "claims"}
CLAIM_KEYS = {"id", "text", "answers"}
PHASES = {"constructive", "rebuttal", "closing"}

debates = []
for i, line in enumerate((D / "debates.jsonl").read_text(encoding="utf-8").splitlines(), start=1):
    if not line.strip():
        continue
    try:
        debates.append(json.loads(line))
    except json.JSONDecodeError as e:
        errors.append(f"line {i}: {e}")

stats = defaultdict(lambda: defaultdict(int))
linked_overlap = defaultdict(list)
unlinked_overlap = defaultdict(list)
seen_ids = set()
for d in debates:
    did = d.get("id", "?")
    if set(d) != DEBATE_KEYS:
        errors.append(f"{did}: keys {sorted(d)}")
        continue
    if did in seen_ids:
        errors.append(f"{did}: duplicate debate id")
    seen_ids.add(did)
    if d["lang"] not in ("ko", "en"):
        errors.append(f"{did}: lang {d['lang']}")
    hangul = sum(len(re.findall(r"[가-힣]", sp.get("text", ""))) for sp in d["speeches"])
    if (d["lang"] == "ko") != (hangul > 100):
        errors.append(f"{did}: lang tag does not match script")
    speeches = d["speeches"]
    if not 4 <= len(speeches) <= 6:
        errors.append(f"{did}: {len(speeches)} speeches")
    claims = {}  # id -> (speech n, side, text)
    for k, sp in enumerate(speeches, start=1):
        where = f"{did} speech {sp.get('n')}"
        if set(sp) != SPEECH_KEYS:
            errors.append(f"{where}: keys {sorted(sp)}")
            continue
        if sp["n"] != k:
            errors.append(f"{where}: expected n={k}")
        if sp["side"] not in ("pro", "con"):
            errors.append(f"{where}: side {sp['side']}")
        if k > 1 and sp["side"] == speeches[k - 2]["side"]:
            errors.append(f"{where}: sides do not alternate")
        if sp["phase"] not in PHASES:
            errors.append(f"{where}: phase {sp['phase']}")
        sents = sentences(sp["text"])
        if not 3 <= len(sents) <= 7:
            errors.append(f"{where}: {len(sents)} sentences")
        if not 2 <= len(sp["claims"]) <= 4:
            errors.append(f"{where}: {len(sp['claims'])} claims")
        for j, c in enumerate(sp["claims"], start=1):
            if set(c) != CLAIM_KEYS:
                errors.append(f"{where}: claim keys {sorted(c)}")
                continue
            if c["id"] != f"s{sp['n']}c{j}":
                errors.append(f"{where}: claim id {c['id']} (expected s{sp['n']}c{j})")
            if c["id"] in claims:
                errors.append(f"{where}: duplicate claim id {c['id']}")
            if c["text"] not in sp["text"]:
                errors.append(f"{where}: {c['id']} text not verbatim in speech")
            elif c["text"] not in sents:
                errors.append(f"{where}: {c['id']} is not one whole sentence")
            for a in c["answers"]:
                if a not in claims:
                    errors.append(f"{where}: {c['id']} answers {a}, not an earlier claim")
                elif claims[a][1] == sp["side"]:
                    errors.append(f"{where}: {c['id']} answers {a} of its own side")
            if len(set(c["answers"])) != len(c["answers"]):
                errors.append(f"{where}: {c['id']} repeats an answer id")
            # lexical statistic: linked target vs. the other earlier opposite-side claims
            scored = []
            for tid, (_, tside, ttext) in claims.items():
                if tside != sp["side"]:
                    o = overlap(c["text"], ttext)
                    scored.append((o, tid))
                    (linked_overlap if tid in c["answers"] else unlinked_overlap)[d["lang"]].append(o)
            if c["answers"] and scored:
                stats[d["lang"]]["lexical top-1 hits"] += max(scored)[1] in c["answers"]
            stats[d["lang"]]["answer links"] += len(c["answers"])
            claims[c["id"]] = (sp["n"], sp["side"], c["text"])
    # the dropped rule
    answered = {a for sp in speeches for c in sp["claims"] for a in c["answers"]}
    expected, eligible = set(), 0
    for sp in speeches:
        if any(later["side"] != sp["side"] for later in speeches if later["n"] > sp["n"]):
            eligible += len(sp["claims"])
            expected.update(c["id"] for c in sp["claims"] if c["id"] not in answered)
    if len(set(d["dropped"])) != len(d["dropped"]):
        errors.append(f"{did}: duplicate ids in dropped")
    if set(d["dropped"]) != expected:
        errors.append(f"{did}: dropped {sorted(d['dropped'])} but the rule gives {sorted(expected)}")
    s = stats[d["lang"]]
    s["debates"] += 1
    s["speeches"] += len(speeches)
    s["claims"] += len(claims)
    s["eligible claims"] += eligible
    s["dropped"] += len(expected)
    s["dropped pro"] += sum(claims[c][1] == "pro" for c in expected)
    s["dropped con"] += sum(claims[c][1] == "con" for c in expected)
    s["answering claims"] += sum(bool(c["answers"]) for sp in speeches for c in sp["claims"])


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


langs = [*sorted(stats), "all"]
stats["all"] = defaultdict(int)
for lang in langs[:-1]:
    for k, v in stats[lang].items():
        stats["all"][k] += v
    linked_overlap["all"] += linked_overlap[lang]
    unlinked_overlap["all"] += unlinked_overlap[lang]
keys = [
    "debates",
    "speeches",
    "claims",
    "answering claims",
    "answer links",
    "eligible claims",
    "dropped",
    "dropped pro",
    "dropped con",
    "lexical top-1 hits",
]
print(f"{'':18}" + "".join(f"{lang:>8}" for lang in langs))
for k in keys:
    print(f"{k:18}" + "".join(f"{stats[lang][k]:>8}" for lang in langs))
print(
    f"{'dropped share':18}"
    + "".join(f"{stats[lang]['dropped'] / max(stats[lang]['eligible claims'], 1):>8.1%}" for lang in langs)
)
print(f"{'overlap linked':18}" + "".join(f"{_mean(linked_overlap[lang]):>8.3f}" for lang in langs))
print(f"{'overlap unlinked':18}" + "".join(f"{_mean(unlinked_overlap[lang]):>8.3f}" for lang in langs))
print(
    f"{'lexical top-1 rate':18}"
    + "".join(
        f"{stats[lang]['lexical top-1 hits'] / max(stats[lang]['answering claims'], 1):>8.1%}"
        for lang in langs
    )
)
print(f"(sentence splitter: {'banron' if split_sentences else 'fallback regex'})")

if errors:
    print(f"\n{len(errors)} error(s):", *errors, sep="\n  ")
    sys.exit(1)
print("OK")
