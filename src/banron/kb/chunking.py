"""Split documents into sentences, and pack sentences into chunks that fit the embedder.

Two layers:

``split_sentences(text)``
    Sentence spans that tile the text exactly (no gaps, no overlaps); the whitespace after a
    sentence belongs to that sentence. Rule-based, for Korean and English:

    * a sentence ends at ``. ! ? …`` (optionally followed by closing quotes or brackets) when
      whitespace follows, and at ``。 ！ ？`` even without whitespace;
    * Korean sentence-final endings alone ("…습니다 ") are *not* a boundary: only punctuation
      and line breaks are;
    * a blank line (paragraph break, page break) always ends a sentence;
    * a single line break ends a sentence unless the next line starts with a lowercase Latin
      letter (a hard-wrapped English sentence) or the line ends with an abbreviation;
    * a period is not a boundary in numbers (``3.5``, ``1.000``: no whitespace follows), after
      common abbreviations (``Dr. Mr. e.g. i.e. U.S. vs. et al.``), initials (``J. K.``),
      ``No. 5`` / ``p. 12``, list markers opening a line or sentence (``1.``, ``2.3.``, ``가.``)
      or a bare one- or two-digit number anywhere (``목차: 1. 서론 2. 본론``),
      or when the next word starts with a lowercase Latin letter.

``chunk_text(text, count_tokens, max_tokens, overlap_sentences)``
    Greedily packs consecutive sentences into chunks of at most ``max_tokens`` tokens, with
    ``overlap_sentences`` sentences repeated between neighbouring chunks. Nothing is ever
    dropped or truncated: a sentence longer than the budget is split at whitespace, and a
    single "word" longer than the budget (Korean written without spaces, URLs) is split
    between characters. Each chunk is an exact slice ``text[start:end]`` that starts and ends
    on non-whitespace; together the chunks cover every non-whitespace character.

    ``count_tokens`` is called on whole candidate chunks, never per character: the packer
    first measures every sentence once, estimates how many sentences fit from those counts,
    then confirms the estimate with an exponential + binary search (galloping), so each
    chunk costs a handful of calls. Only a chunk whose exact text was measured and fits is
    ever emitted, so the budget holds even for tokenizers whose counts are not additive.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_text", "split_sentences"]

# --------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------

_TERMINALS = ".!?…。！？‼⁇⁈⁉"
_CLOSERS = "\"'”’」』》〉】〕)]}»›"
_OPENERS = "\"'“‘「『《〈【〔([{«‹"

_WHITESPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CJK_END = re.compile(f"[。！？]+[{re.escape(_CLOSERS)}]*(?=\\S)")

# Never a sentence end when followed by whitespace (compared lowercased, final period removed).
_ABBREVIATIONS = frozenset(
    (
        *("mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "cf", "al", "viz"),
        *("approx", "ca", "dept", "univ", "assn", "e.g", "i.e", "ph.d"),
        *("gen", "gov", "sen", "rep", "rev", "hon", "capt", "col", "lt", "sgt", "cmdr", "adm", "pres"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
    )
)
# Not a sentence end when a number follows: "No. 5", "p. 12", "Fig. 3", "Vol. 2".
_ABBREVIATIONS_BEFORE_NUMBER = frozenset(
    ("no", "nos", "vol", "vols", "p", "pp", "fig", "figs", "ch", "sec", "art", "eq", "op", "para")
)
# "a.m." / "p.m." can end a sentence; other dotted abbreviations (U.S., U.K., e.g.) do not.
_DOTTED_MAY_END = frozenset({"a.m", "p.m"})

_INITIAL = re.compile(r"[A-Z]")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_SMALL_NUMBER = re.compile(r"\d{1,2}")
_LIST_MARKER = re.compile(r"\d{1,3}(?:\.\d{1,3})*|[A-Za-z]|[ivxIVX]{1,6}|[가나다라마바사아자차카타파하]")


def _is_lower_latin(ch: str) -> bool:
    return "a" <= ch <= "z"


def _period_ends_sentence(word: str, next_char: str, at_sentence_start: bool) -> bool:
    """Whether ``word`` + ``.`` followed by whitespace and then ``next_char`` ends a sentence."""
    lower = word.lower()
    if lower in _ABBREVIATIONS:
        return False
    if lower in _ABBREVIATIONS_BEFORE_NUMBER and next_char.isdigit():
        return False
    if _INITIAL.fullmatch(word):
        return False
    if _DOTTED.fullmatch(word) and lower not in _DOTTED_MAY_END:
        return False
    if at_sentence_start and _LIST_MARKER.fullmatch(word):
        return False
    if _SMALL_NUMBER.fullmatch(word):  # an inline enumeration: "목차: 1. 서론 2. 본론"
        return False
    return not _is_lower_latin(next_char)


def _punctuation_break(token: str, next_char: str, at_sentence_start: bool) -> bool | None:
    """Decide a boundary after ``token`` from its final punctuation; None when it has none."""
    core = token.rstrip(_CLOSERS)
    if not core or core[-1] not in _TERMINALS:
        return None
    if core[-1] != ".":
        if core[-1] == "…":  # an ellipsis may trail off mid-sentence
            return not _is_lower_latin(next_char)
        return True
    if core.endswith(".."):  # "..." written with periods
        return not _is_lower_latin(next_char)
    word = core[:-1].lstrip(_OPENERS)
    return _period_ends_sentence(word, next_char, at_sentence_start)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` that tile ``text`` exactly.

    ``"".join(text[s:e] for s, e in spans) == text``; every span is non-empty; the whitespace
    between two sentences is attached to the preceding one (leading whitespace of the text to
    the first). Empty text gives ``[]``; whitespace-only text gives one span.
    """
    n = len(text)
    if n == 0:
        return []
    breaks: list[int] = []
    prev_end = 0  # end of the previous whitespace run = start of the current token
    at_sentence_start = True  # whether the current token begins a sentence (or a line)
    for m in _WHITESPACE.finditer(text):
        ws, we = m.span()
        if ws == 0 or we == n:
            prev_end = we
            continue
        run = m.group()
        line_breaks = 0 if run == " " else len(_LINE_BREAK.findall(run))
        token = text[prev_end:ws]
        next_char = text[we]
        if line_breaks >= 2 or "\u2029" in run or "\x0c" in run:
            is_break = True  # paragraph or page break: always
        else:
            decided = _punctuation_break(token, next_char, at_sentence_start)
            # no final punctuation: a single line break ends the sentence, unless hard-wrapped
            is_break = decided if decided is not None else line_breaks == 1 and not _is_lower_latin(next_char)
        if is_break:
            breaks.append(we)
        prev_end, at_sentence_start = we, is_break or line_breaks > 0
    for m in _CJK_END.finditer(text):
        breaks.append(m.end())
    breaks.sort()
    spans: list[tuple[int, int]] = []
    start = 0
    for b in breaks:
        if start < b < n:
            spans.append((start, b))
            start = b
    spans.append((start, n))
    return spans


# --------------------------------------------------------------------------------------
# Chunks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: ``text == source[start:end]``, exactly."""

    start: int
    end: int
    text: str


CountTokens = Callable[[str], int]

_NON_SPACE = re.compile(r"\S+")


def _max_fit(
    lo: int, lo_count: int, hi: int, guess: int, measure: Callable[[int], int], limit: int
) -> tuple[int, int]:
    """The largest ``k`` in ``[lo, hi]`` with ``measure(k) <= limit``, and that measure.

    ``lo`` is known to fit (its measure is ``lo_count``); ``measure`` is assumed monotone.
    Probes ``guess``, refines it once by linear interpolation, gallops away from the last
    probe, then bisects: a few calls when the guess is close, O(log(hi - lo)) at worst.
    Only ``lo`` or an index that was measured and fits is returned; when the answer is below
    ``hi``, ``answer + 1`` was measured and does not fit.
    """
    good, good_count = lo, lo_count
    bad = hi + 1  # smallest index known not to fit; hi + 1 means "none known"
    last_fit = True
    g = min(max(guess, lo), hi)
    if g > lo:
        count = measure(g)
        last_fit = count <= limit
        if last_fit:
            good, good_count = g, count
        else:
            bad = g
        if count > lo_count:  # interpolate the crossing along the line (lo, lo_count)-(g, count)
            k = lo + (limit - lo_count) * (g - lo) // (count - lo_count)
            if good < k < bad:
                count = measure(k)
                last_fit = count <= limit
                if last_fit:
                    good, good_count = k, count
                else:
                    bad = k
    step = 1
    if last_fit:  # gallop upwards from the last fitting probe
        while good + step < bad:
            k = good + step
            count = measure(k)
            if count > limit:
                bad = k
                break
            good, good_count = k, count
            step *= 2
    else:  # gallop downwards from the last failing probe
        while bad - step > good:
            k = bad - step
            count = measure(k)
            if count <= limit:
                good, good_count = k, count
                break
            bad = k
            step *= 2
    while bad - good > 1:
        k = (good + bad) // 2
        count = measure(k)
        if count <= limit:
            good, good_count = k, count
        else:
            bad = k
    return good, good_count


def _is_continuation(ch: str) -> bool:
    """A character that belongs to the previous one (combining mark, Hangul vowel/final jamo…)."""
    return (
        unicodedata.combining(ch) != 0
        or "\u1160" <= ch <= "\u11ff"
        or "\ud7b0" <= ch <= "\ud7ff"
        or ch == "\u200d"
        or "\ufe00" <= ch <= "\ufe0f"
    )


@dataclass
class _Piece:
    """A fitting piece of an over-long sentence. ``sealed``: it cannot absorb the next piece."""

    start: int
    end: int
    count: int
    sealed: bool


def _split_word(
    text: str, start: int, end: int, count_tokens: CountTokens, limit: int, chars_per_token: float
) -> list[_Piece]:
    """Cut one over-long run of non-whitespace into pieces that fit, between characters."""
    pieces: list[_Piece] = []
    guess = max(1, int(limit * chars_per_token))
    pos = start
    while pos < end:
        first = count_tokens(text[pos : pos + 1])
        if first > limit:
            raise ValueError(f"max_tokens={limit} is too small: a single character needs {first} tokens")

        def measure(k: int, p: int = pos) -> int:
            return count_tokens(text[p:k])

        cut, count = _max_fit(pos + 1, first, end, pos + guess, measure, limit)
        # text[pos:cut + 1] was measured too long, and the next piece starts with text[cut]
        sealed = cut < end
        if cut < end and _is_continuation(text[cut]):
            # do not separate a base character from its combining marks, when avoidable
            back = cut - 1
            while back > pos and _is_continuation(text[back]):
                back -= 1
            if back > pos:
                back_count = count_tokens(text[pos:back])
                if back_count <= limit:
                    cut, count, sealed = back, back_count, False
        pieces.append(_Piece(pos, cut, count, sealed))
        guess = cut - pos
        pos = cut
    return pieces


def _split_long_sentence(
    text: str, start: int, end: int, count_tokens: CountTokens, limit: int, total: int
) -> list[_Piece]:
    """Cut a sentence that does not fit at whitespace (and inside over-long words if need be)."""
    words = [m.span() for m in _NON_SPACE.finditer(text, start, end)]
    chars_per_token = (end - start) / max(1, total)
    pieces: list[_Piece] = []
    guess = max(1, len(words) * limit // max(1, total))
    k = 0
    while k < len(words):
        ws, we = words[k]
        first = count_tokens(text[ws:we])
        if first > limit:
            if pieces and pieces[-1].end == words[k - 1][1]:
                pieces[-1].sealed = False  # it was measured against this whole word, not a part
            pieces.extend(_split_word(text, ws, we, count_tokens, limit, chars_per_token))
            k += 1
            continue

        def measure(j: int, s: int = ws) -> int:
            return count_tokens(text[s : words[j - 1][1]])

        m, count = _max_fit(k + 1, first, len(words), k + guess, measure, limit)
        # when m < len(words), the piece plus the whole next word was measured too long
        pieces.append(_Piece(ws, words[m - 1][1], count, m < len(words)))
        guess = m - k
        k = m
    return pieces


def chunk_text(
    text: str,
    count_tokens: CountTokens,
    max_tokens: int = 256,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Pack the sentences of ``text`` into chunks of at most ``max_tokens`` tokens.

    Consecutive chunks share the last ``overlap_sentences`` whole sentences of the earlier
    one, when those still fit together with the next sentence (and the chunk still moves
    forward). Fragments of a sentence that had to be split are never repeated.

    Invariants (for any ``count_tokens`` that is monotone: a longer slice never has fewer
    tokens): chunks are exact, non-empty slices of ``text`` in order, trimmed of whitespace;
    they cover every non-whitespace character; ``count_tokens(chunk.text) <= max_tokens``.
    Whitespace-only text gives ``[]``.

    Raises ``ValueError`` when ``max_tokens`` cannot hold even a single character.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be >= 0, got {overlap_sentences}")

    # 1. Units: trimmed sentences that fit, or fitting pieces of those that do not.
    starts: list[int] = []
    ends: list[int] = []
    counts: list[int] = []
    whole: list[bool] = []
    sealed: list[bool] = []
    for s, e in split_sentences(text):
        segment = text[s:e]
        stripped = segment.strip()
        if not stripped:
            continue
        s += len(segment) - len(segment.lstrip())
        e = s + len(stripped)
        count = count_tokens(stripped)
        if count <= max_tokens:
            starts.append(s)
            ends.append(e)
            counts.append(count)
            whole.append(True)
            sealed.append(False)
            continue
        for piece in _split_long_sentence(text, s, e, count_tokens, max_tokens, count):
            starts.append(piece.start)
            ends.append(piece.end)
            counts.append(piece.count)
            whole.append(False)
            sealed.append(piece.sealed)
    n = len(starts)
    if n == 0:
        return []

    # 2. Estimates: tokens of units i..j-1 together ≈ prefix[j] - prefix[i] + overhead, where
    #    the overhead (special tokens such as [CLS]/[SEP]) is what the empty string costs.
    #    reach[i]: a chunk starting at unit i cannot extend past unit reach[i] - 1 (sealed).
    overhead = count_tokens("")
    prefix = [0]
    for c in counts:
        prefix.append(prefix[-1] + c - overhead)
    reach = [n] * n
    for k in range(n - 2, -1, -1):
        reach[k] = k + 1 if sealed[k] else reach[k + 1]

    # 3. Greedy packing with overlap.
    chunks: list[Chunk] = []
    i = 0
    lo, lo_count = 1, counts[0]  # smallest end index the next chunk must reach, and its count
    while True:
        guess = bisect.bisect_right(prefix, prefix[i] + max_tokens - overhead) - 1

        def measure(k: int, s: int = starts[i]) -> int:
            return count_tokens(text[s : ends[k - 1]])

        j, _ = _max_fit(lo, lo_count, reach[i], guess, measure, max_tokens)
        chunks.append(Chunk(starts[i], ends[j - 1], text[starts[i] : ends[j - 1]]))
        if j >= n:
            return chunks
        next_i, lo, lo_count = j, j + 1, counts[j]
        for k in range(min(overlap_sentences, j - i - 1), 0, -1):
            candidate = j - k
            if not all(whole[candidate:j]):
                continue
            count = count_tokens(text[starts[candidate] : ends[j]])
            if count <= max_tokens:
                next_i, lo_count = candidate, count
                break
        i = next_i
