"""Sanity checks and statistics for the ko-counter BEIR set.  Run: python3 validate.py"""

import csv
import json
import math
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

D = Path(__file__).resolve().parent
errors = []


def jsonl(p):
    return [json.loads(line) for line in (D / p).read_text(encoding="utf-8").splitlines() if line.strip()]


corpus, queries = jsonl("corpus.jsonl"), jsonl("queries.jsonl")
motions = dict(r for r in csv.reader((D / "motions.tsv").open(encoding="utf-8"), delimiter="\t"))
motions.pop("motion", None)
docs = {d["_id"]: d for d in corpus}
qs = {q["_id"]: q for q in queries}
if len(docs) != len(corpus):
    errors.append("duplicate corpus ids")
if len(qs) != len(queries):
    errors.append("duplicate query ids")
for d in corpus:
    if set(d) != {"_id", "title", "text", "stance", "motion", "lang"}:
        errors.append(f"{d['_id']}: fields {sorted(d)}")
    if d["stance"] not in ("pro", "con", "neutral"):
        errors.append(f"{d['_id']}: stance")
    if d["lang"] not in ("ko", "en"):
        errors.append(f"{d['_id']}: lang")
    if d["motion"] not in motions:
        errors.append(f"{d['_id']}: motion")
    hangul = len(re.findall(r"[가-힣]", d["text"]))
    if (d["lang"] == "ko") != (hangul > 20):
        errors.append(f"{d['_id']}: lang tag vs script")
    n_sent = len(re.findall(r"[.!?](?:\s|$)", d["text"]))
    if not 2 <= n_sent <= 4:
        errors.append(f"{d['_id']}: {n_sent} sentences")
for q in queries:
    if q["side"] not in ("pro", "con") or q["motion"] not in motions:
        errors.append(f"{q['_id']}: side/motion")

lines = (D / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
if lines[0] != "query-id\tcorpus-id\tscore":
    errors.append("qrels header")
qrels = defaultdict(dict)
for ln in lines[1:]:
    qid, cid, s = ln.split("\t")
    if qid not in qs:
        errors.append(f"qrels: unknown query {qid}")
        continue
    if cid not in docs:
        errors.append(f"qrels: unknown doc {cid}")
        continue
    if cid in qrels[qid]:
        errors.append(f"qrels: duplicate {qid} {cid}")
    qrels[qid][cid] = int(s)
    q, d = qs[qid], docs[cid]
    if d["motion"] != q["motion"]:
        errors.append(f"{qid}->{cid}: other motion")
    if d["stance"] == q["side"]:
        errors.append(f"{qid}->{cid}: same side as the student")
    if d["stance"] == "neutral" and int(s) > 1:
        errors.append(f"{qid}->{cid}: neutral graded 2")
    if int(s) not in (1, 2):
        errors.append(f"{qid}->{cid}: score {s}")
for qid in qs:
    g = Counter(qrels[qid].values())
    if not (1 <= g[2] <= 3 and 1 <= g[1] <= 4):
        errors.append(f"{qid}: {g[2]} grade-2, {g[1]} grade-1")

# -- counts
print(f"passages {len(corpus)}, queries {len(queries)}, judgements {sum(map(len, qrels.values()))}")
print("passages per motion / stance / lang:")
for m in motions:
    ds = [d for d in corpus if d["motion"] == m]
    st, lg = Counter(d["stance"] for d in ds), Counter(d["lang"] for d in ds)
    qm = Counter(q["side"] for q in queries if q["motion"] == m)
    print(
        f"  {m}: {len(ds)} (pro {st['pro']}, con {st['con']}, neutral {st['neutral']}; ko {lg['ko']}, en {lg['en']})"
        f"  queries {sum(qm.values())} (pro {qm['pro']}, con {qm['con']})"
    )
lg = Counter(d["lang"] for d in corpus)
print(f"English passages: {lg['en']}/{len(corpus)} = {lg['en'] / len(corpus):.1%}")
print("query sides:", dict(Counter(q["side"] for q in queries)))
xl = [q for q in qs if any(docs[c]["lang"] == "en" for c, g in qrels[q].items() if g == 2)]
xl_only = [q for q in xl if all(docs[c]["lang"] == "en" for c, g in qrels[q].items() if g == 2)]
print(
    f"cross-lingual queries (an English grade-2 passage): {len(xl)}; of which only-English grade-2: {len(xl_only)}"
)
print("grades:", dict(Counter(g for r in qrels.values() for g in r.values())))


# -- lexical overlap (character bigrams inside words, Hangul/Latin/digits only)
def bigrams(s):
    out = set()
    for w in re.findall(r"[가-힣a-z0-9]+", s.lower()):
        out |= {w[i : i + 2] for i in range(len(w) - 1)}
    return out


def frac(q, d):
    Q = bigrams(q["text"])
    return len(Q & bigrams(d["title"] + " " + d["text"])) / len(Q)


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


g2_all, g2_ko, g1, same_mean, same_max = [], [], [], [], []
for qid, q in qs.items():
    r = qrels[qid]
    g2_all.append(mean([frac(q, docs[c]) for c, g in r.items() if g == 2]))
    ko = [frac(q, docs[c]) for c, g in r.items() if g == 2 and docs[c]["lang"] == "ko"]
    if ko:
        g2_ko.append(mean(ko))
    g1.append(mean([frac(q, docs[c]) for c, g in r.items() if g == 1]))
    same = [frac(q, d) for d in corpus if d["motion"] == q["motion"] and d["stance"] == q["side"]]
    same_mean.append(mean(same))
    same_max.append(max(same))
print("share of a query's content bigrams found in ... (mean over queries)")
print(f"  its grade-2 passages (all langs): {mean(g2_all):.3f}")
print(f"  its grade-2 passages (Korean only, {len(g2_ko)} queries): {mean(g2_ko):.3f}")
print(f"  its grade-1 passages: {mean(g1):.3f}")
print(f"  same-side passages of the motion (distractors), mean: {mean(same_mean):.3f}")
print(f"  same-side passages, the closest one per query: {mean(same_max):.3f}")


# -- a naive lexical baseline: BM25 over in-word character bigrams, whole corpus
def toks(s):
    return [w[i : i + 2] for w in re.findall(r"[가-힣a-z0-9]+", s.lower()) for i in range(len(w) - 1)]


dt = {d["_id"]: Counter(toks(d["title"] + " " + d["text"])) for d in corpus}
N, avg = len(dt), mean([sum(c.values()) for c in dt.values()])
df = Counter(t for c in dt.values() for t in c)


def bm25(q, c, k1=1.2, b=0.75):
    L = sum(c.values())
    return sum(
        math.log(1 + (N - df[t] + 0.5) / (df[t] + 0.5))
        * c[t]
        * (k1 + 1)
        / (c[t] + k1 * (1 - b + b * L / avg))
        for t in set(toks(q))
        if t in c
    )


nd, top_same = [], 0
for qid, q in qs.items():
    rank = sorted(dt, key=lambda i: -bm25(q["text"], dt[i]))
    r = qrels[qid]
    dcg = sum((2 ** r.get(c, 0) - 1) / math.log2(i + 2) for i, c in enumerate(rank[:10]))
    ideal = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(sorted(r.values(), reverse=True)[:10]))
    nd.append(dcg / ideal)
    top_same += docs[rank[0]]["stance"] == q["side"] and docs[rank[0]]["motion"] == q["motion"]
print(
    f"naive bigram BM25 (no stance filter): nDCG@10 {mean(nd):.3f}; top-1 is a same-side distractor for {top_same}/{len(qs)} queries"
)

if errors:
    print("\nERRORS:")
    [print(" ", e) for e in errors]
    sys.exit(1)
print("\nOK: all checks passed")
