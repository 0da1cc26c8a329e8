"""Read files into ``Document``s for the knowledge base.

One entry point, ``load_path``, picks a reader by suffix (case-insensitive). Every failure is a
``LoaderError`` naming the file and the reason; a malformed or hostile file never escapes as
another exception (the PDF, Word and HTML readers turn their library's errors, and anything
unexpected, into ``LoaderError``), so one bad file in a folder costs only that file.

``.txt`` / ``.md``
    One document per file. The bytes are decoded as UTF-8 (with or without BOM), then CP949
    (the usual encoding of Korean files saved on Windows; a superset of EUC-KR), then
    Latin-1 as a last resort; UTF-16 files with a BOM are accepted too. Binary content
    (NUL bytes, many control characters) is refused. The title is the first Markdown
    heading (or a ``title:`` in YAML front matter), else the first non-empty line when it
    is at most 80 characters, else the file stem. For ``.md``, ATX headings (``# ...``,
    outside code fences and front matter) are recorded in ``sections``.
``.jsonl``
    One passage per line: ``{"text": ..., "id"?, "title"?, "lang"?, "stance"?, "motion"?,
    "source"?}``. Blank lines are skipped. A single bad line (invalid JSON, missing or empty
    ``text``, a wrong type, an unknown stance or language, a duplicate id) fails the whole
    file with a message naming the file and the line, so the user can fix it rather than
    silently losing passages.
``.pdf`` (pypdf)
    The text layer of each page; pages joined by a blank line and their offsets recorded in
    ``page_starts``, so passages know their page. Title: the metadata ``/Title``, else the
    first heading-like line, else the stem. An encrypted PDF is opened with the empty password
    when its owner allowed that, else refused; a PDF without a text layer (a scan) is refused
    with a hint to OCR it. More than ``MAX_PDF_PAGES`` pages or ``MAX_TEXT_CHARS`` characters
    of text (a decompression bomb, or not evidence anyway) is refused; a page whose text cannot
    be extracted is skipped as long as some page yields text.
``.docx`` (python-docx)
    Paragraphs and table rows (cells joined by `` | ``) in document order, one block each,
    blocks separated by a blank line. Headings (styles "Heading N" / "제목 N" / "Title", or
    styles based on them) are recorded in ``sections``. Title: the core properties' title,
    else the first heading, else the stem. The ZIP container is inspected before it is opened:
    not a ZIP (e.g. an old ``.doc`` renamed), more than ``MAX_DOCX_UNCOMPRESSED`` bytes
    uncompressed, or an absurd compression ratio (a zip bomb) is refused.
``.html`` / ``.htm`` (selectolax, lexbor)
    Charset from a BOM, else ``<meta charset>`` / ``http-equiv`` (EUC-KR read as its superset
    CP949), else the text chain above; a page with a few damaged bytes keeps its encoding with
    those bytes replaced (as a browser does) rather than turning into Latin-1. Boilerplate is
    dropped: scripts, styles, forms, ``nav``/``aside``/site ``header``/``footer``, ARIA
    landmarks of those kinds, hidden elements, and elements whose class or id says cookie
    banner, consent, share bar, sidebar, menu (``gnb``/``lnb``), ads, comments... (never one
    holding the headline or most of the page's text). The main content is ``<main>`` /
    ``<article>`` when the page has one holding a fair share of its text, else the whole body.
    Block elements become paragraphs; ``h1``-``h6`` are recorded in ``sections``. Title:
    ``<title>``, else the first ``<h1>``, else the stem. A page left with no text is refused.

All text is normalised to ``\\n`` line endings and Unicode NFC (decomposed Hangul from
macOS would otherwise tokenize and match badly). ``lang`` is detected when not given.
A file larger than ``MAX_FILE_BYTES`` is refused before it is read.

To add a format, add a reader for its suffix to ``_READERS``; callers do not change.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import json
import logging
import os
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banron.kb.lang import detect_lang

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode

__all__ = [
    "LANGS",
    "MAX_DOCX_UNCOMPRESSED",
    "MAX_FILE_BYTES",
    "MAX_PDF_PAGES",
    "MAX_TEXT_CHARS",
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

# Safety limits (module attributes so a deployment, or a test, can change them).
MAX_FILE_BYTES = 256 * 1024 * 1024
"""Files larger than this are refused before being read."""
MAX_TEXT_CHARS = 20_000_000
"""Most characters of text one PDF, Word or HTML file may yield (guards decompression bombs)."""
MAX_PDF_PAGES = 5_000
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024
"""Most bytes a .docx may expand to, summed over its ZIP members."""
MAX_ZIP_RATIO = 100
"""Most uncompressed/compressed ratio of a ZIP member over 1 MiB (Word's XML is about 5-20)."""
MAX_ZIP_MEMBERS = 10_000
MAX_HTML_BYTES = 50 * 1024 * 1024


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
_LENIENT_REPLACED_SHARE = 0.005


def _decode(path: Path, raw: bytes, declared: str | None = None, lenient: bool = False) -> str:
    """Bytes → text: UTF-8 (BOM ok) → CP949 → Latin-1; UTF-16 with BOM. Refuses binary.

    ``declared`` (an encoding a file names for itself, e.g. HTML's ``<meta charset>``) is tried
    first, after a BOM; a file that lies about it falls back to the usual chain. ``lenient``
    (for web pages, as a browser does): before Latin-1, accept the declared encoding (else
    UTF-8) with a few undecodable bytes replaced, so one damaged byte does not garble the page.
    """
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
        chain: tuple[str, ...] = ("utf-8-sig", "cp949")
        if declared and not raw.startswith(b"\xef\xbb\xbf"):
            chain = (declared, *chain)
        for encoding in chain:
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            text = raw.decode("latin-1")
            if lenient:
                replaced = raw.decode(declared or "utf-8", errors="replace")
                if replaced.count("\ufffd") <= _LENIENT_REPLACED_SHARE * len(replaced):
                    text = replaced
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


def _md_sections(text: str) -> list[tuple[int, str]]:
    """(offset of the line, heading) for each ATX heading outside front matter and code fences."""
    lines = text.split("\n")
    skip_until = 0
    if lines[0].strip() == "---":  # YAML front matter
        for k in range(1, len(lines)):
            if lines[k].strip() in ("---", "..."):
                skip_until = k + 1
                break
    sections: list[tuple[int, str]] = []
    offset = 0
    in_fence = False
    for k, line in enumerate(lines):
        if k >= skip_until:
            stripped = line.strip()
            if stripped.startswith(("```", "~~~")):
                in_fence = not in_fence
            elif not in_fence and (m := _HEADING.fullmatch(line)):
                sections.append((offset, m.group(1).strip()))
        offset += len(line) + 1
    return sections


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


def _read_txt(path: Path, raw: bytes) -> list[Document]:
    return _load_text(path, _decode(path, raw))


def _read_md(path: Path, raw: bytes) -> list[Document]:
    docs = _load_text(path, _decode(path, raw))
    docs[0].sections = _md_sections(docs[0].text)
    return docs


def _read_jsonl(path: Path, raw: bytes) -> list[Document]:
    return _load_jsonl(path, _decode(path, raw))


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
# Shared by the document formats
# --------------------------------------------------------------------------------------

_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def _clean(text: str) -> str:
    """Extracted text → NFC, ``\\n`` line ends, no control characters, no trailing spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0b", "\n").replace("\x0c", "\n")
    text = _CONTROL.sub("", text).translate(_LIGATURES)
    text = unicodedata.normalize("NFC", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _one_line(text: str) -> str:
    return " ".join(_clean(text).split())


def _join_blocks(
    path: Path, blocks: Iterable[tuple[str, bool]], what: str
) -> tuple[str, list[tuple[int, str]]]:
    """Join (text, is_heading) blocks with blank lines; headings become (offset, heading) sections."""
    parts: list[str] = []
    sections: list[tuple[int, str]] = []
    offset = 0
    for text, is_heading in blocks:
        if parts:
            offset += 2  # the "\n\n" between blocks
        if is_heading:
            sections.append((offset, _one_line(text)))
        parts.append(text)
        offset += len(text)
        _check_size(path, offset, what)
    return "\n\n".join(parts), sections


def _check_size(path: Path, chars: int, what: str) -> None:
    if chars > MAX_TEXT_CHARS:
        raise LoaderError(
            path,
            f"{what} yields more than {MAX_TEXT_CHARS:,} characters of text — refusing it "
            "(a decompression bomb, or too large to be evidence; split it)",
        )


def _heading_like(text: str) -> str:
    """The first short line among the first few that looks like a heading, else ""."""
    seen = 0
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        seen += 1
        if seen > 5:
            break
        if (
            2 <= len(line) <= TITLE_MAX_CHARS
            and any(ch.isalpha() for ch in line)
            and not line.endswith((".", ",", ";", ":", "。"))
        ):
            return line
    return ""


def _unexpected(path: Path, what: str, err: Exception) -> LoaderError:
    kind = type(err).__name__
    if kind.islower():  # zlib.error, struct.error: the bare name says nothing
        kind = f"{type(err).__module__}.{kind}"
    detail = str(err).strip().split("\n")[0][:200]
    return LoaderError(path, f"not a readable {what} ({kind}{': ' + detail if detail else ''})")


# --------------------------------------------------------------------------------------
# .pdf
# --------------------------------------------------------------------------------------

_PDF_TITLE_NOISE = re.compile(r"^(microsoft (word|powerpoint) - |untitled\b|제목 없음)", re.IGNORECASE)


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs and warns about every repaired defect; the user only needs our one message."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _pdf_title(meta_title: object, text: str, stem: str) -> str:
    if isinstance(meta_title, str):
        title = _one_line(meta_title)
        title = re.sub(r"^microsoft (word|powerpoint) - ", "", title, flags=re.IGNORECASE).strip()
        noise = _PDF_TITLE_NOISE.match(title) or re.search(r"\.(docx?|pdf|hwpx?|pptx?)$", title, re.I)
        if title and len(title) <= 200 and not noise:
            return title
    return _heading_like(text) or stem


def _read_pdf(path: Path, raw: bytes) -> list[Document]:
    if not raw:
        raise LoaderError(path, "empty file")
    if b"%PDF-" not in raw[:1024]:
        raise LoaderError(path, "not a PDF file (no %PDF header)")
    try:
        with _quiet_pypdf():
            return _parse_pdf(path, raw)
    except LoaderError:
        raise
    except RecursionError:
        raise LoaderError(path, "malformed PDF (objects nested too deeply)") from None
    except Exception as err:  # pypdf's own errors and anything a malformed file provokes
        raise _unexpected(path, "PDF", err) from None


def _parse_pdf(path: Path, raw: bytes) -> list[Document]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, LimitReachedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
    except PdfReadError as err:
        raise LoaderError(path, f"damaged or truncated PDF ({err})") from None
    if reader.is_encrypted:
        try:
            opened = int(reader.decrypt(""))
        except DependencyError:
            raise LoaderError(
                path, "encrypted PDF (AES) that needs the 'cryptography' package; save an unencrypted copy"
            ) from None
        except Exception:
            opened = 0
        if not opened:
            raise LoaderError(
                path, "encrypted PDF: a password is needed to open it; save an unprotected copy"
            )
    pages = reader.pages
    count = len(pages)
    if count == 0:
        raise LoaderError(path, "PDF has no pages")
    if count > MAX_PDF_PAGES:
        raise LoaderError(path, f"PDF has {count:,} pages (limit {MAX_PDF_PAGES:,}); split it")

    text = ""
    page_starts: list[int] = []
    failures: list[Exception] = []
    for i in range(count):
        if i:
            text += "\n\n"
        page_starts.append(len(text))
        try:
            page_text = pages[i].extract_text()
        except LimitReachedError:
            raise LoaderError(
                path, f"page {i + 1} exceeds pypdf's safety limits — refusing it (a decompression bomb?)"
            ) from None
        except RecursionError:
            raise
        except Exception as err:  # one broken page should not lose the rest
            failures.append(err)
            continue
        text += _clean(page_text or "")
        _check_size(path, len(text), "PDF")
    if not text.strip():
        if failures and len(failures) == count:
            raise _unexpected(path, "PDF (no page's text could be extracted)", failures[0])
        raise LoaderError(path, "no text layer — scanned PDF? OCR it first")
    try:
        meta_title = reader.metadata.title if reader.metadata else None
    except Exception:
        meta_title = None
    return [
        Document(
            doc_id=path.name,
            text=text,
            title=_pdf_title(meta_title, text, path.stem),
            source=path.name,
            lang=detect_lang(text),
            page_starts=page_starts,
        )
    ]


# --------------------------------------------------------------------------------------
# .docx
# --------------------------------------------------------------------------------------

_DOCX_HEADING = re.compile(r"(?:heading|제목)\s*([1-9])|title|제목", re.IGNORECASE)


def _check_zip(path: Path, raw: bytes) -> None:
    """Refuse what is not a Word ZIP, or would expand absurdly, before python-docx opens it."""
    if not raw:
        raise LoaderError(path, "empty file")
    not_docx = "not a Word .docx file (not a ZIP archive, or a truncated one)"
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise LoaderError(path, "not a .docx file: looks like an old .doc file; save it as .docx")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise LoaderError(path, not_docx) from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise LoaderError(path, f"ZIP has {len(infos):,} members — refusing it (a zip bomb?)")
    total = sum(info.file_size for info in infos)
    if total > MAX_DOCX_UNCOMPRESSED:
        raise LoaderError(
            path,
            f"expands to {total / 2**20:,.0f} MB uncompressed (limit {MAX_DOCX_UNCOMPRESSED / 2**20:,.0f} MB)"
            " — refusing it (a zip bomb?)",
        )
    for info in infos:
        if info.file_size > 2**20 and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise LoaderError(
                path, f"member {info.filename} is compressed {ratio:,.0f}:1 — refusing it (a zip bomb?)"
            )
    if "word/document.xml" not in {info.filename for info in infos}:
        raise LoaderError(path, "not a Word document (a ZIP without word/document.xml)")


def _heading_level(paragraph: Any) -> int | None:
    """1-9 for a heading paragraph (0 for the Title style), None for body text."""
    try:
        style = paragraph.style
        for _ in range(4):  # a custom style based on "Heading 2" is a heading too
            if style is None:
                return None
            m = _DOCX_HEADING.fullmatch((style.name or "").strip())
            if m:
                return int(m.group(1)) if m.group(1) else 0
            style = style.base_style
    except Exception:
        return None
    return None


def _docx_blocks(container: Any, depth: int = 0) -> Iterator[tuple[str, bool]]:
    """(text, is_heading) for the paragraphs and table rows of ``container``, in order."""
    from docx.table import Table

    for item in container.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells: list[str] = []
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # a merged cell is listed once per grid column
                        continue
                    seen.add(id(cell._tc))
                    inner = [t for t, _ in _docx_blocks(cell, depth + 1)] if depth < 3 else [cell.text]
                    cell_text = " ".join(" ".join(inner).split())
                    if cell_text:
                        cells.append(cell_text)
                if cells:
                    yield " | ".join(cells), False
        else:
            text = _clean(item.text)
            if text:
                yield text, _heading_level(item) is not None


def _read_docx(path: Path, raw: bytes) -> list[Document]:
    _check_zip(path, raw)
    try:
        return _parse_docx(path, raw)
    except LoaderError:
        raise
    except RecursionError:
        raise LoaderError(path, "malformed Word document (nested too deeply)") from None
    except Exception as err:  # python-docx, lxml and zipfile errors on a malformed file
        raise _unexpected(path, "Word document", err) from None


def _parse_docx(path: Path, raw: bytes) -> list[Document]:
    import docx

    document = docx.Document(io.BytesIO(raw))
    body, sections = _join_blocks(path, _docx_blocks(document), "Word document")
    if not body.strip():
        raise LoaderError(path, "no text (an empty Word document, or only images)")
    try:
        core_title = _one_line(document.core_properties.title or "")
    except Exception:
        core_title = ""
    title = core_title or (sections[0][1] if sections else "") or path.stem
    return [
        Document(
            doc_id=path.name,
            text=body,
            title=title[:200],
            source=path.name,
            lang=detect_lang(body),
            sections=sections,
        )
    ]


# --------------------------------------------------------------------------------------
# .html / .htm
# --------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_CHARSET_ALIASES = {
    # The WHATWG label map, for the encodings a Korean or Western page declares.
    "euc-kr": "cp949",
    "euckr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "korean": "cp949",
    "windows-949": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}

# Skipped with everything inside them.
_DROP_TAGS = {
    "script", "style", "noscript", "template", "nav", "aside", "form", "iframe", "frame", "frameset",
    "svg", "math", "canvas", "video", "audio", "object", "embed", "button", "select", "input",
    "textarea", "label", "dialog", "menu", "head",
}  # fmt: skip
_DROP_ROLES = {
    "navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menu",
    "menubar", "toolbar",
}  # fmt: skip
_BOILERPLATE = re.compile(
    r"(?:^|[-_])(?:cookies?|consent|gdpr|cmp|banner|popup|modal|overlay|newsletter|subscribe|share|sharing|"
    r"social|sns|breadcrumbs?|advert|advertisement|ads?|adsense|sponsor(?:ed)?|promo|sidebar|related|"
    r"recommend(?:ed|ations?)?|comments?|reply|skip|navbar|nav|menu|gnb|lnb|snb|footer|toolbar|pagination|"
    r"login|signup|copyright|disclaimer)(?:[-_]|$)",
    re.IGNORECASE,
)
_KEEP = ("html", "body", "main", "article")
_BLOCK_TAGS = {
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "header", "footer", "hr", "li",
    "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul",
}  # fmt: skip
_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_CELL_TAGS = {"td", "th"}


def _html_charset(raw: bytes) -> str | None:
    import codecs

    m = _META_CHARSET.search(raw[:4096])
    if not m:
        return None
    label = m.group(1).decode("ascii", "ignore").strip().lower()
    name = _CHARSET_ALIASES.get(label, label)
    try:
        codec = codecs.lookup(name)
    except LookupError:
        return None
    if codec.name in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        return None  # a page that really is UTF-16 has a BOM; without one the declaration is wrong
    return codec.name


def _is_boilerplate(node: LexborNode, page_chars: int) -> bool:
    """Whether an element (and all inside it) is page furniture rather than content."""
    tag = node.tag or ""
    if tag in _DROP_TAGS:
        return True
    if tag in _KEEP:
        return False
    attrs = node.attributes
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    if (attrs.get("role") or "").lower() in _DROP_ROLES:
        return True
    style = (attrs.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    if tag in ("header", "footer"):
        # A site's header or footer; the header *of an article* holds its headline and stays.
        parent = node.parent
        while parent is not None:
            if parent.tag in ("article", "main"):
                return False
            parent = parent.parent
        return True
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".split()
    if not any(_BOILERPLATE.search(name) for name in names):
        return False
    # A class name is only a hint: a wrapper such as "layout-with-sidebar" around the article
    # itself must stay.
    if node.css_first("main, article, h1") is not None:
        return False
    return len(node.text(deep=True, strip=True)) <= 0.5 * page_chars


def _html_blocks(root: LexborNode, page_chars: int) -> list[tuple[str, bool]]:
    """(text, is_heading) blocks of ``root`` without its boilerplate, whitespace collapsed as a
    browser would (except in <pre>)."""
    blocks: list[tuple[str, bool]] = []
    current: list[str] = []
    heading_depth = 0
    pre_depth = 0

    def flush() -> None:
        raw = "".join(current)
        current.clear()
        if pre_depth:
            lines = [line.rstrip() for line in raw.split("\n")]
        else:
            lines = [_SPACES.sub(" ", line).strip() for line in raw.split("\n")]
        text = "\n".join(line for line in lines if line)
        text = _clean(text)
        if text:
            blocks.append((text, heading_depth > 0))

    # Iterative walk (a page nested 100,000 deep must not exhaust the stack): (node, leaving).
    stack: list[tuple[LexborNode, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        tag = node.tag or ""
        if node.is_text_node:
            value = node.text_content or ""
            current.append(value if pre_depth else re.sub(r"\s+", " ", value))
            continue
        if not node.is_element_node:
            continue  # comments and the like
        if leaving:
            if tag in _BLOCK_TAGS:
                flush()
            if tag in _HEADING_TAGS:
                heading_depth -= 1
            if tag == "pre":
                pre_depth -= 1
            continue
        if tag == "br":
            current.append("\n")
            continue
        if _is_boilerplate(node, page_chars):
            continue
        if tag in _BLOCK_TAGS:
            flush()
        if tag in _HEADING_TAGS:
            heading_depth += 1
        if tag == "pre":
            pre_depth += 1
        if tag in _CELL_TAGS and "".join(current).strip():
            current.append(" | ")
        stack.append((node, True))
        children = list(node.iter(include_text=True))
        stack.extend((child, False) for child in reversed(children))
    flush()
    return blocks


def _main_content(body: LexborNode, total: int) -> LexborNode:
    """<main> or the largest <article> when it holds a fair share of the page's text, else body."""
    best: LexborNode | None = None
    best_len = 0
    for node in body.css("main, [role=main], article"):
        length = len(node.text(deep=True, strip=True))
        if length > best_len:
            best, best_len = node, length
    if best is not None and best_len >= 0.25 * total:
        return best
    return body


def _read_html(path: Path, raw: bytes) -> list[Document]:
    if len(raw) > MAX_HTML_BYTES:
        raise LoaderError(path, f"HTML file larger than {MAX_HTML_BYTES // 2**20} MB; refusing it")
    declared = None if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) else _html_charset(raw)
    html = _decode(path, raw, declared, lenient=True)
    try:
        return _parse_html(path, html)
    except LoaderError:
        raise
    except RecursionError:
        raise LoaderError(path, "malformed HTML (nested too deeply)") from None
    except Exception as err:  # the parser should not fail on any text; if it does, one message
        raise _unexpected(path, "HTML page", err) from None


def _parse_html(path: Path, html: str) -> list[Document]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    page_title = _one_line(title_node.text(deep=True)) if title_node is not None else ""
    body = tree.body
    if body is None:
        raise LoaderError(path, "no readable text in this HTML page")
    h1 = body.css_first("h1")
    h1_title = _one_line(h1.text(deep=True)) if h1 is not None else ""

    # Boilerplate is skipped while walking, not removed from the tree: no node is freed while
    # Python still holds it.
    page_chars = len(body.text(deep=True, strip=True))
    blocks = _html_blocks(_main_content(body, page_chars), page_chars)
    text, sections = _join_blocks(path, blocks, "HTML page")
    if not text.strip():
        raise LoaderError(path, "no readable text in this HTML page (only scripts, styles or navigation?)")
    title = page_title or h1_title or (sections[0][1] if sections else "") or path.stem
    return [
        Document(
            doc_id=path.name,
            text=text,
            title=title[:200],
            source=path.name,
            lang=detect_lang(text),
            sections=sections,
        )
    ]


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------

_READERS: dict[str, Callable[[Path, bytes], list[Document]]] = {
    ".txt": _read_txt,
    ".md": _read_md,
    ".jsonl": _read_jsonl,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
    ".html": _read_html,
    ".htm": _read_html,
}
SUPPORTED_SUFFIXES = tuple(_READERS)

_HINTS = {
    ".doc": "old Word .doc files are not supported; save it as .docx",
    ".hwp": "한글(HWP) files are not supported; save it as .docx or PDF",
    ".hwpx": "한글(HWPX) files are not supported; save it as .docx or PDF",
}


def _unsupported(path: Path) -> LoaderError:
    suffix = path.suffix or "(no suffix)"
    hint = _HINTS.get(path.suffix.lower())
    message = f"unsupported file type {suffix}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
    return LoaderError(path, f"{message} ({hint})" if hint else message)


def load_path(path: Path) -> list[Document]:
    """Load one file into documents, choosing the reader by suffix (case-insensitive).

    Raises ``LoaderError`` (with the path and a reason) for an unknown suffix, a missing,
    unreadable or too large file, an empty or binary file, an invalid JSONL line, or a PDF,
    Word or HTML file that is malformed, encrypted, without text or over a safety limit.
    """
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise _unsupported(path)
    if path.is_dir():
        raise LoaderError(path, "is a directory, not a file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LoaderError(
                path, f"file is {size / 2**20:,.0f} MB (limit {MAX_FILE_BYTES / 2**20:,.0f} MB)"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LoaderError(path, "no such file") from None
    except OSError as err:
        raise LoaderError(path, f"cannot read file: {err.strerror or err}") from None
    return reader(path, raw)


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
