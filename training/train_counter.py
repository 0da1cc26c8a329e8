"""Fine-tune e5-small as a counter-argument cross-encoder on our own point/rebuttal pairs.

    python training/train_counter.py --top 4 --epochs 1 --out /tmp/counter   # -> /tmp/counter.pt

Listwise training: each group is one text and 8 candidates, with a soft target. The direct
rebuttal gets ``--pos`` of the mass, the motion's other passages on the opposite side share
``--opp``, and same-side passages and passages of other motions get none. Both directions are
used: a point finds its rebuttal, and a rebuttal finds the point it answers.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from cross_encoder import E5Torch, fit, set_trainable

from banron.kb.e5_engine import E5Encoder

DATA = Path(__file__).parent / "data" / "rebuttal_pairs.jsonl"


def load_groups(path: Path) -> list[tuple[str, str, list[str], list[str], str]]:
    """(query, its answer, other opposite-side passages, same-side passages, motion) per direction."""
    pairs = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    by_motion: dict[str, list[int]] = {}
    for i, r in enumerate(pairs):
        by_motion.setdefault(r["motion"], []).append(i)
    groups = []
    for i, r in enumerate(pairs):
        pool = []  # (text, side, pair index) of every passage of the motion
        for j in by_motion[r["motion"]]:
            other = pairs[j]
            pool.append((other["point"], other["point_side"], j))
            pool.append((other["counter"], "con" if other["point_side"] == "pro" else "pro", j))
        point_side = r["point_side"]
        counter_side = "con" if point_side == "pro" else "pro"
        directions = ((r["point"], point_side, r["counter"]), (r["counter"], counter_side, r["point"]))
        for query, side, answer in directions:
            opposite = [t for t, s, j in pool if s != side and j != i]
            same = [t for t, s, _ in pool if s == side and t != query]
            groups.append((query, answer, opposite, same, r["motion"]))
    return groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--groups-per-step", type=int, default=2)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--query-tokens", type=int, default=48)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--pos", type=float, default=0.7)
    ap.add_argument("--opp", type=float, default=0.3)
    ap.add_argument("--top", type=int, default=4, help="layers trained, from the top")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    rnd = random.Random(0)

    groups = load_groups(DATA)
    texts_by_motion: dict[str, list[str]] = {}
    for g in groups:
        texts_by_motion.setdefault(g[4], []).append(g[0])
    motions = sorted(texts_by_motion)
    print(f"{len(groups)} groups over {len(motions)} motions", flush=True)

    enc = E5Encoder()
    model = E5Torch(enc, n_out=1, dropout=0.1)
    set_trainable(model, args.top)
    ids: dict[tuple[bool, str], list[int]] = {}

    def tokens(text: str, query: bool) -> list[int]:
        if (query, text) not in ids:
            found = enc.token_ids(text, query)
            ids[(query, text)] = found[: args.query_tokens] if query else found
        return ids[(query, text)]

    def build(g: tuple[str, str, list[str], list[str], str]) -> tuple[list[list[int]], torch.Tensor]:
        query, answer, opposite, same, motion = g
        n_opp, n_same = min(len(opposite), 3), min(len(same), 2)
        cands = [answer, *rnd.sample(opposite, n_opp), *rnd.sample(same, n_same)]
        target = [args.pos] + [args.opp / max(n_opp, 1)] * n_opp + [0.0] * n_same
        while len(cands) < args.candidates:  # passages of other motions
            other = rnd.choice(motions)
            if other != motion:
                cands.append(rnd.choice(texts_by_motion[other]))
                target.append(0.0)
        t = torch.tensor(target[: args.candidates])
        seqs = [model.pair_ids(tokens(query, True), tokens(c, False), args.max_tokens) for c in cands]
        return seqs[: args.candidates], t / t.sum()

    def loss_of(step_groups: list) -> torch.Tensor:
        built = [build(g) for g in step_groups]
        batch, mask = E5Torch.pad([s for seqs, _ in built for s in seqs])
        logits = model(batch, mask).view(len(built), args.candidates)
        target = torch.stack([t for _, t in built])
        return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()

    fit(model, groups, args.groups_per_step, args.epochs, args.lr, loss_of)
    torch.save(model.state_dict(), args.out.with_suffix(".pt"))
    print(f"saved {args.out.with_suffix('.pt')}")


if __name__ == "__main__":
    main()
