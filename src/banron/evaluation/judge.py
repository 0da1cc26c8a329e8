"""``banron eval judge``: the judge's learned parts against human labels.

Four measurements, each skipped with a note when its data is absent:

* **ArgQ** (IBM ArgQ-Rank-30k, test split): Pearson and Spearman of the judge's argument-quality
  estimate (``quality``) and of its rubric ``overall`` against the crowd's ``WA`` score. For
  reference only, a ridge probe fitted here on a sample of the *train* split (never shipped:
  the data's licence would travel with the weights) shows what the same features reach with
  in-domain labels.
* **ArgKP** (IBM ArgKP-2021, test split): key-point matching mAP, strict and relaxed, computed as
  the KPA-2021 track-1 scorer does (best key point per argument among its topic and stance; per
  topic and stance, the top 50% of arguments by score; unlabelled pairs count as wrong (strict)
  or right (relaxed)).
* **Claim stance** (IBM Claim Stance, test split): accuracy of pro/con per claim.
* **Korean fallacies** (``benchmarks/data/ko-fallacy/test.jsonl``, our own set, written apart
  from the training sentences and on other motions): accuracy and macro-F1 over the six
  fallacies and "none", one label per speech.

Vectors go through the embedding cache, so a second run costs seconds.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from banron.judge import fallacies, quality, stance
from banron.judge.keypoints import KeyPointMatcher
from banron.judge.learn import RidgeRegression
from banron.judge.speech import SpeechInput, SpeechJudge
from banron.judge.vectors import embed_queries
from banron.runtime import Runtime
from banron.util import atomic_write_text

TASKS = ("argq", "argkp", "stance", "ko-fallacy")
ENV = "BANRON_SHARED_DATA"
_REPO = Path(__file__).resolve().parents[3]  # the source checkout, for an editable install


def shared_data_dir() -> Path:
    """$BANRON_SHARED_DATA, else ``../shared/data`` from here or from the source checkout."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    for base in (Path.cwd(), _REPO):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "data"


def ko_fallacy_file() -> Path:
    for base in (Path.cwd(), _REPO):
        candidate = base / "benchmarks" / "data" / "ko-fallacy" / "test.jsonl"
        if candidate.is_file():
            return candidate
    return Path.cwd() / "benchmarks" / "data" / "ko-fallacy" / "test.jsonl"


@dataclass
class JudgeEvalReport:
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"results": self.results, "notes": self.notes, "settings": self.settings}


# -- metrics ----------------------------------------------------------------------------------------


def pearson(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    return float(np.corrcoef(np.asarray(x, float), np.asarray(y, float))[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    # Ties share their mean rank.
    values = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and values[j + 1] == values[i]:
            j += 1
        if j > i:
            ranks[order[i : j + 1]] = (i + j) / 2
        i = j + 1
    return ranks


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    return pearson(_ranks(np.asarray(x, float)), _ranks(np.asarray(y, float)))


def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the precision-recall steps, ties handled as scikit-learn does."""
    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    if y.sum() == 0:
        return 0.0
    last = np.r_[np.where(np.diff(s))[0], len(s) - 1]  # the last index of each distinct score
    tps = np.cumsum(y)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def macro_f1(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
) -> tuple[float, dict[str, float]]:
    per = {}
    for c in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p != c)
        per[c] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return sum(per.values()) / len(per), per


# -- tasks ------------------------------------------------------------------------------------------


def _sample(rows: list[Any], limit: int | None, seed: int = 13) -> list[Any]:
    if limit is None or limit >= len(rows):
        return rows
    picked = list(rows)
    random.Random(seed).shuffle(picked)
    return picked[:limit]


def eval_argq(rt: Runtime, folder: Path, limit: int | None, log: Callable[[str], None]) -> dict[str, Any]:
    path = folder / "arg_quality_rank_30k.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    test = _sample([r for r in rows if r["set"] == "test"], limit)
    log(f"ArgQ: embedding {len(test)} test arguments (cached after the first run)")
    texts = [r["argument"] for r in test]
    vecs = embed_queries(texts, rt.embedder, rt.cache)
    wa = [float(r["WA"]) for r in test]
    q = quality.default_model(rt.embedder.name).predict(vecs, texts)
    judge = SpeechJudge(rt.embedder, rt.tokenizer, rt.cache, key_points=0)
    log("ArgQ: judging each argument as a speech (rubric overall)")
    overall = [
        judge.judge(
            SpeechInput(str(i), r["topic"], "pro" if r["stance_WA"] == "1" else "con", r["argument"])
        ).overall_exact
        for i, r in enumerate(test)
    ]
    out: dict[str, Any] = {
        "n": len(test),
        "quality_pearson": round(pearson(q, wa), 4),
        "quality_spearman": round(spearman(q, wa), 4),
        "overall_pearson": round(pearson(overall, wa), 4),
        "overall_spearman": round(spearman(overall, wa), 4),
    }
    # Reference only (not shipped): the same features with a ridge fitted on the train split.
    train = _sample([r for r in rows if r["set"] == "train"], 2000, seed=0)
    log(f"ArgQ: reference probe on {len(train)} train arguments (not shipped)")
    tvecs = embed_queries([r["argument"] for r in train], rt.embedder, rt.cache)
    feats = np.hstack([tvecs, np.array([quality.surface(r["argument"]) for r in train])])
    probe = RidgeRegression(1000.0).fit(feats, np.array([float(r["WA"]) for r in train]))
    pred = probe.predict(np.hstack([vecs, np.array([quality.surface(t) for t in texts])]))
    out["reference_probe_pearson"] = round(pearson(pred, wa), 4)
    out["reference_probe_train_n"] = len(train)
    return out


def eval_argkp(
    rt: Runtime,
    folder: Path,
    limit: int | None,
    log: Callable[[str], None],
    split: str = "test",
) -> dict[str, Any]:
    """Track-1 mAP on one official split (``test`` for reporting; ``train``/``dev`` for choosing)."""
    splits = folder / "official_splits"

    def read(name: str) -> list[dict[str, str]]:
        with (splits / f"{name}_{split}.csv").open(encoding="utf-8") as f:
            return list(csv.DictReader(f))

    args, kps, labels = read("arguments"), read("key_points"), read("labels")
    args = _sample(args, limit)
    gold = {(r["arg_id"], r["key_point_id"]): int(r["label"]) for r in labels}
    log(f"ArgKP: embedding {len(args)} arguments and {len(kps)} key points")
    avecs = embed_queries([a["argument"] for a in args], rt.embedder, rt.cache)
    kvecs = embed_queries([k["key_point"] for k in kps], rt.embedder, rt.cache)
    matcher = KeyPointMatcher(rt.tokenizer)
    groups: dict[tuple[str, str], list[tuple[float, int, int]]] = defaultdict(list)
    for topic in sorted({a["topic"] for a in args}):
        topic_kps = [j for j, k in enumerate(kps) if k["topic"] == topic]
        for st in ("1", "-1"):
            ai = [i for i, a in enumerate(args) if a["topic"] == topic and a["stance"] == st]
            kj = [j for j in topic_kps if kps[j]["stance"] == st]
            if not ai or not kj:
                continue
            scores = matcher.scores(
                avecs[ai],
                kvecs[kj],
                [args[i]["argument"] for i in ai],
                [kps[j]["key_point"] for j in kj],
                center_on=kvecs[topic_kps],
            )
            for m in matcher.match(scores):
                a, k = args[ai[m.argument]], kps[kj[m.key_point]]
                label = gold.get((a["arg_id"], k["key_point_id"]))
                strict = 0 if label is None else label
                relaxed = 1 if label is None else label
                groups[(topic, st)].append((m.confidence, strict, relaxed))
    aps_strict, aps_relaxed = [], []
    for items in groups.values():
        top = sorted(items, key=lambda x: -x[0])[: int(len(items) * 0.5)]
        if not top:
            continue
        s = [x[0] for x in top]
        aps_strict.append(average_precision([x[1] for x in top], s))
        aps_relaxed.append(average_precision([x[2] for x in top], s))
    return {
        "split": split,
        "n_arguments": len(args),
        "n_key_points": len(kps),
        "topic_stance_groups": len(aps_strict),
        "map_strict": round(float(np.mean(aps_strict)), 4),
        "map_relaxed": round(float(np.mean(aps_relaxed)), 4),
    }


def eval_stance(rt: Runtime, folder: Path, limit: int | None, log: Callable[[str], None]) -> dict[str, Any]:
    with (folder / "claim_stance_dataset.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    rows = _sample(rows, limit)
    log(f"Claim stance: embedding {len(rows)} test claims")
    vecs = embed_queries([r["claims.claimCorrectedText"] for r in rows], rt.embedder, rt.cache)
    correct = 0
    for r, v in zip(rows, vecs, strict=True):
        guess = stance.stances(v[None, :], r["topicText"], rt.embedder.name, lang="en")[0]
        correct += guess.side == r["claims.stance"].lower()
    pro = sum(1 for r in rows if r["claims.stance"] == "PRO")
    return {
        "n": len(rows),
        "accuracy": round(correct / len(rows), 4),
        "majority_baseline": round(max(pro, len(rows) - pro) / len(rows), 4),
    }


def eval_ko_fallacy(rt: Runtime, path: Path, log: Callable[[str], None]) -> dict[str, Any]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    judge = SpeechJudge(rt.embedder, rt.tokenizer, rt.cache, key_points=0)
    log(f"Korean fallacies: judging {len(rows)} speeches")
    gold, pred, sentence_hits, found = [], [], 0, 0
    confusion: dict[str, dict[str, int]] = {g: defaultdict(int) for g in fallacies.LABELS}
    for r in rows:
        card = judge.judge(SpeechInput(r["id"], r["motion"], r["side"], r["text"]))
        p = card.fallacy or "none"
        gold.append(r["label"])
        pred.append(p)
        confusion[r["label"]][p] += 1
        if p == r["label"] != "none":
            found += 1
            sentence_hits += " ".join(card.fallacies[0].sentence.split()) == " ".join(r["sentence"].split())
    f1, per = macro_f1(gold, pred, fallacies.LABELS)
    return {
        "n": len(rows),
        "file": str(path),
        "accuracy": round(sum(g == p for g, p in zip(gold, pred, strict=True)) / len(rows), 4),
        "macro_f1": round(f1, 4),
        "f1": {k: round(v, 3) for k, v in per.items()},
        "offending_sentence_found": f"{sentence_hits}/{found}",
        "confusion": {g: dict(v) for g, v in confusion.items()},
    }


def evaluate_judge(
    rt: Runtime,
    *,
    data_dir: Path | None = None,
    tasks: Sequence[str] = TASKS,
    limit: int | None = None,
    ko_fallacy: Path | None = None,
    console: Console | None = None,
) -> JudgeEvalReport:
    """Run the chosen tasks; a task whose data is missing is skipped with a note."""
    data = data_dir or shared_data_dir()
    report = JudgeEvalReport(
        settings={
            "data_dir": str(data),
            "limit": limit,
            "embedder": rt.embedder.name,
            "tasks": list(tasks),
        }
    )

    def log(msg: str) -> None:
        if console is not None:
            console.print(f"[dim]{msg}[/]")

    sources: dict[str, tuple[Path, Callable[[], dict[str, Any]]]] = {
        "argq": (data / "ibm-argq-rank-30k", lambda: eval_argq(rt, data / "ibm-argq-rank-30k", limit, log)),
        "argkp": (data / "ibm-argkp-2021", lambda: eval_argkp(rt, data / "ibm-argkp-2021", limit, log)),
        "stance": (data / "ibm-claim-stance", lambda: eval_stance(rt, data / "ibm-claim-stance", limit, log)),
    }
    ko_path = ko_fallacy or ko_fallacy_file()
    for task in tasks:
        started = time.perf_counter()
        if task == "ko-fallacy":
            if not ko_path.is_file():
                report.notes.append(f"ko-fallacy skipped: {ko_path} not found")
                continue
            result = eval_ko_fallacy(rt, ko_path, log)
        else:
            folder, run = sources[task]
            if not folder.is_dir():
                report.notes.append(f"{task} skipped: {folder} not found (set {ENV})")
                continue
            result = run()
        result["seconds"] = round(time.perf_counter() - started, 1)
        report.results[task] = result
    if limit is not None:
        report.notes.append(
            f"subsampled: at most {limit} items per IBM test set (seeded); full sets without --limit"
        )
    return report


TARGETS = {
    ("argq", "quality_pearson"): 0.45,
    ("argkp", "map_strict"): 0.80,
    ("stance", "accuracy"): 0.80,
    ("ko-fallacy", "macro_f1"): 0.70,
}


def render(report: JudgeEvalReport) -> Table:
    table = Table("task", "n", "metric", "value", "target", title="banron judge vs human labels")
    rows: list[tuple[str, str, str]] = [
        ("argq", "quality_pearson", "Pearson (quality vs WA)"),
        ("argq", "quality_spearman", "Spearman (quality vs WA)"),
        ("argq", "overall_pearson", "Pearson (rubric overall vs WA)"),
        ("argq", "overall_spearman", "Spearman (rubric overall vs WA)"),
        ("argq", "reference_probe_pearson", "reference: ridge on train split, not shipped"),
        ("argkp", "map_strict", "mAP strict"),
        ("argkp", "map_relaxed", "mAP relaxed"),
        ("stance", "accuracy", "accuracy"),
        ("stance", "majority_baseline", "majority-class baseline"),
        ("ko-fallacy", "accuracy", "accuracy"),
        ("ko-fallacy", "macro_f1", "macro-F1"),
    ]
    for task, key, label in rows:
        res = report.results.get(task)
        if res is None or key not in res:
            continue
        n = res.get("n", res.get("n_arguments", ""))
        target = TARGETS.get((task, key))
        table.add_row(task, str(n), label, f"{res[key]:.3f}", f"≥ {target:.2f}" if target else "")
    return table


def write_json(report: JudgeEvalReport, path: Path) -> None:
    atomic_write_text(path, json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
