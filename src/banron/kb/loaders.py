"""Read files into ``Document``s for the knowledge base.

Supported today:

``.txt`` / ``.md``
    One document per file. The bytes are decoded as UTF-8 (with or without BOM), then CP949
    (the usual encoding of Korean files saved on Windows; a superset of EUC-KR), then
    Latin-1 as a last resort; UTF-16 files with a BOM are accepted too. Binary content
    (NUL bytes, many control characters) is refused. The title is the first Markdown
    heading (or a ``title:`` in YAML front matter), else the first non-empty line when it
    is at most 80 characters, else the file stem.
``.jsonl``
    One passage per line: ``{"text": ..., "id"?, "title"?, "lang"?, "stance"?, "motion"?,
    "source"?}``. Blank lines are skipped. A single bad line (invalid JSON, missing or empty
    ``text``, a wrong type, an unknown stance or language, a duplicate id) fails the whole
    file with a message naming the file and the line, so the user can fix it rather than
    silently losing passages.

All text is normalised to ``\\n`` line endings and Unicode NFC (decomposed Hangul from
macOS would otherwise tokenize and match badly). ``lang`` is detected when not given.

More formats (PDF, DOCX, HTML) will come later through the same ``load_path`` entry point:
add a reader for the suffix to ``_READERS``; callers do not change.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banron.kb.lang import detect_lang

__all__ = [
    "LANGS",
    "STANCES",
    "SUPPORTED_SUFFIXES",
    "Document",
    "LoaderError",
    "iter_files",
    "load_path",
]

STANCES = ("pro", "con", "neutral")
LANGS = ("ko", "en")
TITLE_MAX_CHARS = 80


@dataclass
class Document:
    """A loaded document (a whole file, or one JSONL passage with its own ``passage_id``)."""

    doc_id: str
    text: str
    title: str = ""
    source: str = ""
    lang: str = ""
    stance: str = "neutral"
    motion: str = ""
    passage_id: str = ""
    # Where pages start in ``text`` (offset of page 1, page 2, ...), for PDFs; empty otherwise.
    page_starts: list[int] = field(default_factory=list)
    # (offset, heading) for each heading in ``text``, in order; empty when the format has none.
    sections: list[tuple[int, str]] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        """1-based page containing ``offset``, or None when the document has no pages."""
        if not self.page_starts:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))

    def section_at(self, offset: int) -> str:
        """The last heading at or before ``offset`` ("" when none)."""
        i = bisect.bisect_right([o for o, _ in self.sections], offset)
        return self.sections[i - 1][1] if i else ""


class LoaderError(Exception):
    """A file could not be loaded. ``str(err)`` is meant for the user: path, line, reason."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        where = f"{path}: line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_BINARY_CONTROL_SHARE = 0.05


def _decode(path: Path, raw: bytes) -> str:
    """Bytes → text: UTF-8 (BOM ok) → CP949 → Latin-1; UTF-16 with BOM. Refuses binary."""
    if not raw:
        raise LoaderError(path, "empty file")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise LoaderError(path, "invalid UTF-16 text") from None
    elif b"\x00" in raw:
        raise LoaderError(path, "binary file (contains NUL bytes), not text")
    else:
        for encoding in ("utf-8-sig", "cp949"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            text = raw.decode("latin-1")
    controls = len(_CONTROL.findall(text))
    if "\x00" in text or controls > _BINARY_CONTROL_SHARE * len(text):
        raise LoaderError(path, "binary content (control characters), not text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


# --------------------------------------------------------------------------------------
# .txt / .md
# --------------------------------------------------------------------------------------

_HEADING = re.compile(r" {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*")
_FRONT_MATTER_TITLE = re.compile(r"title[ \t]*:[ \t]*(.+)")


def _title(text: str, stem: str) -> str:
    """First Markdown heading (or front-matter title), else a short first line, else the stem."""
    lines = text.split("\n")
    body = 0
    if lines[0].strip() == "---":  # YAML front matter
        for k in range(1, len(lines)):
            if lines[k].strip() in ("---", "..."):
                for line in lines[1:k]:
                    m = _FRONT_MATTER_TITLE.fullmatch(line.strip())
                    if m and (title := m.group(1).strip().strip("\"'").strip()):
                        return title
                body = k + 1
                break
    first_line = ""
    in_fence = False
    for line in lines[body:]:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = _HEADING.fullmatch(line)
        if m:
            return m.group(1).strip()
        if not first_line and stripped:
            first_line = stripped
    if first_line and len(first_line) <= TITLE_MAX_CHARS:
        return first_line
    return stem


def _load_text(path: Path, text: str) -> list[Document]:
    if not text.strip():
        raise LoaderError(path, "empty file (only whitespace)")
    return [
        Document(
            doc_id=path.name,
            text=text,
            title=_title(text, path.stem),
            source=path.name,
            lang=detect_lang(text),
        )
    ]


# --------------------------------------------------------------------------------------
# .jsonl
# --------------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"


def _passage(path: Path, lineno: int, obj: Any) -> Document:
    def bad(reason: str) -> LoaderError:
        return LoaderError(path, reason, line=lineno)

    if not isinstance(obj, dict):
        raise bad(f"expected a JSON object, got {_json_type(obj)}")
    if "text" not in obj:
        found = ", ".join(map(str, obj)) or "none"
        raise bad(f"missing required field 'text' (fields found: {found})")
    text = obj["text"]
    if not isinstance(text, str):
        raise bad(f"field 'text' must be a string, got {_json_type(text)}")
    if not text.strip():
        raise bad("field 'text' is empty")
    text = unicodedata.normalize("NFC", text)

    fields: dict[str, str] = {}
    for name in ("title", "motion", "source", "stance", "lang"):
        value = obj.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise bad(f"field {name!r} must be a string, got {_json_type(value)}")
        fields[name] = unicodedata.normalize("NFC", value.strip())

    stance = fields.get("stance", "").lower() or "neutral"
    if stance not in STANCES:
        raise bad(f"field 'stance' must be one of {', '.join(STANCES)}, got {fields['stance']!r}")
    lang = fields.get("lang", "").lower()
    if lang and lang not in LANGS:
        raise bad(f"field 'lang' must be one of {', '.join(LANGS)}, got {fields['lang']!r}")

    raw_id = obj.get("id")
    if raw_id is None:
        passage_id = ""
    elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise bad(f"field 'id' must be a string or an integer, got {_json_type(raw_id)}")
    else:
        passage_id = str(raw_id).strip()
        if not passage_id:
            raise bad("field 'id' is empty")
    return Document(
        doc_id=f"{path.stem}:{passage_id}" if passage_id else f"{path.stem}:L{lineno}",
        text=text,
        title=fields.get("title", ""),
        source=fields.get("source") or path.name,
        lang=lang or detect_lang(text),
        stance=stance,
        motion=fields.get("motion", ""),
        passage_id=passage_id,
    )


def _load_jsonl(path: Path, text: str) -> list[Document]:
    docs: list[Document] = []
    first_seen: dict[str, int] = {}  # doc_id → line
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise LoaderError(path, f"invalid JSON: {err.msg} (column {err.colno})", line=lineno) from None
        doc = _passage(path, lineno, obj)
        if doc.doc_id in first_seen:
            what = f"id {doc.passage_id!r}" if doc.passage_id else f"document id {doc.doc_id!r}"
            raise LoaderError(
                path, f"duplicate {what} (first used on line {first_seen[doc.doc_id]})", line=lineno
            )
        first_seen[doc.doc_id] = lineno
        docs.append(doc)
    if not docs:
        raise LoaderError(path, "empty file (no passages, only blank lines)")
    return docs


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------

_READERS: dict[str, Callable[[Path, str], list[Document]]] = {
    ".txt": _load_text,
    ".md": _load_text,
    ".jsonl": _load_jsonl,
}
SUPPORTED_SUFFIXES = tuple(_READERS)


def _unsupported(path: Path) -> LoaderError:
    suffix = path.suffix or "(no suffix)"
    return LoaderError(path, f"unsupported file type {suffix}; supported: {', '.join(SUPPORTED_SUFFIXES)}")


def load_path(path: Path) -> list[Document]:
    """Load one file into documents, choosing the reader by suffix (case-insensitive).

    Raises ``LoaderError`` (with the path and a reason) for an unknown suffix, a missing or
    unreadable file, an empty or binary file, or an invalid JSONL line.
    """
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise _unsupported(path)
    if path.is_dir():
        raise LoaderError(path, "is a directory, not a file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LoaderError(path, "no such file") from None
    except OSError as err:
        raise LoaderError(path, f"cannot read file: {err.strerror or err}") from None
    return reader(path, _decode(path, raw))


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def iter_files(paths: Iterable[Path]) -> list[Path]:
    """The loadable files among ``paths``: folders are expanded recursively.

    Inside a folder: sorted by relative path, hidden files and folders (``.name``) skipped,
    only supported suffixes kept. A path given explicitly must exist (``LoaderError``
    otherwise); an explicit file is kept even with an unsupported suffix, so that
    ``load_path`` reports it as that file's error instead of it vanishing silently. The same
    file reached twice is listed once.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        if not path.exists():
            raise LoaderError(path, "no such file or directory")
        if path.is_dir():
            candidates: list[Path] = []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not _is_hidden(d))
                candidates.extend(
                    Path(root, name)
                    for name in files
                    if not _is_hidden(name) and Path(name).suffix.lower() in _READERS
                )
            candidates.sort(key=lambda p: p.relative_to(path).parts)
        else:  # named explicitly: kept whatever its suffix, so load_path reports it per file
            candidates = [path]
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found
