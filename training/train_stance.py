"""Fine-tune e5-small as a (motion, argument) cross-encoder: stance (pro/con) and quality heads.

    python training/train_stance.py --out /tmp/stance      # trains, then evaluates on ../shared/data

Trained on our 2,400 scored arguments (``data/scored_arguments.jsonl``) minus the motions that
overlap an evaluation set. Evaluated, never trained on: IBM claim-stance test (accuracy of the
stance head) and IBM ArgQ-Rank-30k test (Pearson of the quality head against WA).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from cross_encoder import E5Torch, fit, set_trainable

from banron.evaluation.judge import shared_data_dir
from banron.kb.e5_engine import E5Encoder

DATA = Path(__file__).parent / "data" / "scored_arguments.jsonl"
# Motions of IBM's claim-stance test topics and of ko-counter: kept out of training.
OVERLAP = ("monarchy", "performance-enhancing", "모병제", "병역")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)

    rows = [json.loads(line) for line in DATA.open(encoding="utf-8") if line.strip()]
    rows = [r for r in rows if not any(x in r["motion"] for x in OVERLAP)]
    enc = E5Encoder()
    model = E5Torch(enc, n_out=3, dropout=0.1)  # logits con, pro; quality

    def pair(motion: str, text: str) -> list[int]:
        return model.pair_ids(enc.token_ids(motion, True), enc.token_ids(text, False), args.max_tokens)

    data = [(pair(r["motion"], r["text"]), int(r["side"] == "pro"), (r["score"] - 3) / 2) for r in rows]
    set_trainable(model, len(model.layers))

    def loss_of(b: list) -> torch.Tensor:
        batch, mask = E5Torch.pad([x[0] for x in b])
        out = model(batch, mask)
        stance = F.cross_entropy(out[:, :2], torch.tensor([x[1] for x in b]))
        return stance + F.mse_loss(out[:, 2], torch.tensor([x[2] for x in b], dtype=torch.float32))

    fit(model, data, args.batch, args.epochs, args.lr, loss_of)
    torch.save(model.state_dict(), args.out.with_suffix(".pt"))

    @torch.no_grad()
    def predict(pairs: list[list[int]]) -> np.ndarray:
        out = np.zeros((len(pairs), 3), dtype=np.float32)
        for i in range(0, len(pairs), 32):
            batch, mask = E5Torch.pad(pairs[i : i + 32])
            out[i : i + 32] = model(batch, mask).numpy()
        return out

    shared = shared_data_dir()
    with (shared / "ibm-claim-stance" / "claim_stance_dataset.csv").open(encoding="utf-8") as f:
        claims = [r for r in csv.DictReader(f) if r["split"] == "test"]
    out = predict([pair(r["topicText"], r["claims.claimCorrectedText"]) for r in claims])
    correct = [(o[1] > o[0]) == (r["claims.stance"] == "PRO") for o, r in zip(out, claims, strict=True)]
    print(f"IBM claim stance test: accuracy {np.mean(correct):.4f} ({len(claims)} claims)")
    with gzip.open(shared / "ibm-argq-rank-30k" / "arg_quality_rank_30k.csv.gz", "rt", encoding="utf-8") as f:
        args_q = [r for r in csv.DictReader(f) if r["set"] == "test"]
    out = predict([pair(r["topic"], r["argument"]) for r in args_q])
    wa = np.array([float(r["WA"]) for r in args_q])
    print(f"IBM ArgQ test: Pearson {np.corrcoef(out[:, 2], wa)[0, 1]:.4f} ({len(args_q)} arguments)")


if __name__ == "__main__":
    main()
