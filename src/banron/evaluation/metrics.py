"""Ranking metrics, computed the way pytrec_eval / BEIR compute them.

``qrels`` maps a document id to its graded relevance; a ranking is a list of document ids, best
first, already without duplicates. A document is *relevant* when its grade is above zero.

* nDCG@k: gains are the grades themselves (trec_eval's ``ndcg_cut``), discounted by
  ``log2(rank + 1)``; the ideal ranking is built from all of the query's qrels, not only from the
  retrieved documents.
* Recall@k: relevant documents in the top k over all relevant documents of the query.
* MRR@k: one over the rank of the first relevant document in the top k, else 0.

A query whose qrels hold no relevant document scores 0 on every metric (as in pytrec_eval).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Sequence[str]]

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    dcg = sum(
        max(qrels.get(doc, 0), 0) / math.log2(rank + 1) for rank, doc in enumerate(ranking[:k], start=1)
    )
    ideal_gains = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal_gains, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    for rank, doc in enumerate(ranking[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def per_query(ranking: Sequence[str], qrels: Mapping[str, int]) -> dict[str, float]:
    return {
        "ndcg@10": ndcg_at_k(ranking, qrels, 10),
        "recall@10": recall_at_k(ranking, qrels, 10),
        "recall@100": recall_at_k(ranking, qrels, 100),
        "mrr@10": mrr_at_k(ranking, qrels, 10),
    }


def evaluate(run: Run, qrels: Qrels) -> dict[str, float]:
    """Mean of each metric over the queries of ``qrels`` (a query missing from ``run`` scores 0)."""
    if not qrels:
        raise ValueError("no queries to evaluate")
    totals = dict.fromkeys(METRICS, 0.0)
    for qid, judged in qrels.items():
        for name, value in per_query(run.get(qid, []), judged).items():
            totals[name] += value
    return {name: total / len(qrels) for name, total in totals.items()}
