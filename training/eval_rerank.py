"""Rerank banron's own search results with a trained counter cross-encoder; nDCG@10 per variant.

    python training/eval_rerank.py /tmp/counter.pt --beir ../shared/data/arguana/beir_style \
        --ignore-identical-ids --limit 300 --top-k 15
    python training/eval_rerank.py /tmp/counter.pt --beir benchmarks/data/ko-counter --mode hybrid+stance

The rankings come from ``banron.evaluation.beir.search_mode``, exactly what ``banron eval
retrieval`` scores. The top ``--top-k`` documents are scored by the cross-encoder and reordered by
the cross-encoder alone, and by reciprocal rank fusion of both orders (cross-encoder weight w).
Queries are numbered in qrels order: odd ones choose a variant, even ones test it.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import torch
from cross_encoder import E5Torch
from rich.console import Console

from banron.evaluation.beir import QueryMemo, build_index, load_beir, search_mode
from banron.evaluation.metrics import ndcg_at_k
from banron.kb.e5_engine import E5Encoder
from banron.kb.search import Retriever
from banron.runtime import Runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("model", type=Path, help="state dict from train_counter.py")
    ap.add_argument("--beir", type=Path, required=True)
    ap.add_argument("--mode", default="hybrid", help="hybrid or hybrid+stance")
    ap.add_argument("--ignore-identical-ids", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="a random sample of this many queries")
    ap.add_argument("--top-k", type=int, default=15)
    ap.add_argument("--query-tokens", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=192)
    args = ap.parse_args()
    torch.set_num_threads(2)

    ds = load_beir(args.beir)
    if args.limit:
        keep = set(random.Random(7).sample([q.id for q in ds.queries], args.limit))
        ds.queries = [q for q in ds.queries if q.id in keep]
    number = {q.id: i + 1 for i, q in enumerate(ds.queries)}
    rt = Runtime()
    console = Console(stderr=True)
    built = build_index(ds, rt, processes=1, chunk_tokens=rt.embedder.max_tokens, console=console)
    memo = QueryMemo(rt.embedder)
    retriever = Retriever(built.index, memo, rt.tokenizer, rt.settings.kb)
    ignore = args.ignore_identical_ids
    runs, _ = search_mode(retriever, built, ds, args.mode, ignore_identical_ids=ignore, memo=memo)
    text = {d.id: f"{d.title} {d.text}".strip() for d in ds.corpus}

    enc = E5Encoder()
    model = E5Torch(enc, n_out=1)
    model.load_state_dict(torch.load(args.model), strict=False)
    model.eval()
    scores: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for q in ds.queries:
            top = runs[q.id][: args.top_k]
            claim = enc.token_ids(q.text, True)[: args.query_tokens]
            seqs = [model.pair_ids(claim, enc.token_ids(text[d], False), args.max_tokens) for d in top]
            batch, mask = E5Torch.pad(seqs)
            scores[q.id] = model(batch, mask)[:, 0].numpy()

    def reorder(qid: str, weight: float | None) -> list[str]:
        top, rest = runs[qid][: args.top_k], runs[qid][args.top_k :]
        if weight is None:
            return top + rest
        ce_rank = np.argsort(np.argsort(-scores[qid])) + 1
        if weight == np.inf:  # the cross-encoder's order alone
            key = [(-float(ce_rank[i]), -i) for i in range(len(top))]
        else:  # RRF with banron's k = 10: rank i + 1 as searched, and the cross-encoder's rank
            key = [(1.0 / (10 + i + 1) + weight / (10 + ce_rank[i]), -i) for i in range(len(top))]
        order = sorted(range(len(top)), key=lambda i: key[i], reverse=True)
        return [top[i] for i in order] + rest

    print(f"{len(ds.queries)} queries, top {args.top_k} reranked ({args.mode})")
    variants = [("as searched", None), ("cross-encoder alone", np.inf)]
    variants += [(f"RRF w={w}", float(w)) for w in (0.5, 1, 2)]
    for name, w in variants:
        per = {q.id: ndcg_at_k(reorder(q.id, w), ds.qrels[q.id]) for q in ds.queries}
        odd = [v for k, v in per.items() if number[k] % 2]
        even = [v for k, v in per.items() if not number[k] % 2]
        mean = np.mean(list(per.values()))
        print(f"{name:20s} all {mean:.4f} odd {np.mean(odd):.4f} even {np.mean(even):.4f}")


if __name__ == "__main__":
    main()
