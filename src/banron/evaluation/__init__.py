"""Measuring banron: retrieval quality on BEIR-layout datasets (``banron eval retrieval``)."""

from banron.evaluation.beir import (
    BeirDataset,
    BeirError,
    EvalReport,
    evaluate_retrieval,
    load_beir,
    render,
    write_json,
)
from banron.evaluation.metrics import evaluate, mrr_at_k, ndcg_at_k, recall_at_k

__all__ = [
    "BeirDataset",
    "BeirError",
    "EvalReport",
    "evaluate",
    "evaluate_retrieval",
    "load_beir",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
    "render",
    "write_json",
]
