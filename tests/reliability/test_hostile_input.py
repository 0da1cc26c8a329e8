"""Hostile files for the loaders, beyond the fuzzing in tests/kb/test_loaders_documents.py (random
and damaged PDF/DOCX/HTML bytes, ratio and total-size zip bombs): damaged JSONL, text in the wrong
or no encoding, empty and over-limit files of every kind, DOCX bombs that lie about their size or
have too many members — each gives documents or a LoaderError naming the file, never another
exception — and a batch of all of them leaving the knowledge base intact.

HTML/script in student input and document titles rendered inert: tests/web/test_web_debates.py
(test_student_input_and_document_titles_render_inert). Prompt injection inside evidence:
tests/debate/test_stance_discipline.py."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import struct
import zipfile
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from banron.kb import loaders
from banron.kb.embed import EmbeddingCache
from banron.kb.index.sqlite import SQLiteIndex
from banron.kb.ingest import Ingestor
from banron.kb.loaders import Document, LoaderError, load_path
from banron.kb.tokenize import make_tokenizer

SUFFIXES = [".pdf", ".docx", ".html", ".htm", ".jsonl", ".txt", ".md"]
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def load_or_loader_error(path: Path) -> list[Document]:
    try:
        docs = load_path(path)
    except LoaderError as err:
        assert err.path == path and err.reason
        return []
    assert docs and all(isinstance(d, Document) and d.text.strip() for d in docs)
    return docs


def docx_bytes(document_xml: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types/>')
        zf.writestr("word/document.xml", document_xml)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return out.getvalue()


def lying_zip(real: bytes, claimed: int) -> bytes:
    """A ZIP whose word/document.xml decompresses to ``real`` bytes but whose headers claim
    ``claimed``: size checks that trust the headers are fooled, the reader must not be."""
    data = bytearray(docx_bytes(real))
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            name_len = struct.unpack_from("<H", data, i + (26 if sig == b"PK\x03\x04" else 28))[0]
            name_at = i + (30 if sig == b"PK\x03\x04" else 46)
            if bytes(data[name_at : name_at + name_len]) == b"word/document.xml":
                struct.pack_into("<I", data, i + size_at, claimed)
            start = i + 4
    return bytes(data)


# -- fuzzing ------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
jsonl_line = st.one_of(
    st.builds(lambda t, extra: json.dumps({"text": t, **extra}, ensure_ascii=False), st.text(max_size=80),
              st.dictionaries(st.sampled_from(["id", "title", "lang", "stance", "motion", "source"]),
                              json_values, max_size=4)),
    json_values.map(json.dumps),
    st.text(max_size=60),
)  # fmt: skip


@FUZZ
@given(lines=st.lists(jsonl_line, max_size=12), junk=st.binary(max_size=64), where=st.integers(0, 12))
def test_fuzz_damaged_jsonl(tmp_path: Path, lines: list[str], junk: bytes, where: int) -> None:
    raw = [line.encode("utf-8", "surrogatepass") for line in lines]
    raw.insert(min(where, len(raw)), junk)  # raw bytes, maybe not UTF-8, somewhere in the file
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join(raw))
    load_or_loader_error(path)


@FUZZ
@given(
    text=st.text(min_size=1, max_size=300),
    encoding=st.sampled_from(["cp949", "euc-kr", "utf-16", "utf-16-le", "utf-32", "latin-1", "shift_jis"]),
    suffix=st.sampled_from([".txt", ".md", ".html", ".jsonl"]),
)
def test_fuzz_text_in_other_encodings(tmp_path: Path, text: str, encoding: str, suffix: str) -> None:
    data = text.encode(encoding, errors="replace")
    path = tmp_path / f"enc{suffix}"
    path.write_bytes(data)
    load_or_loader_error(path)


# -- edge files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_empty_and_whitespace_files_are_a_clear_error(tmp_path: Path, suffix: str) -> None:
    for data in (b"", b" \n\t\r\n   "):
        path = tmp_path / f"empty{suffix}"
        path.write_bytes(data)
        with pytest.raises(LoaderError) as info:
            load_path(path)
        assert info.value.path == path


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_over_limit_files_are_refused_before_reading(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loaders, "MAX_FILE_BYTES", 1 << 20)
    path = tmp_path / f"huge{suffix}"
    with path.open("wb") as f:
        f.truncate(3 << 20)  # sparse: 3 MB of zeros
    with pytest.raises(LoaderError) as info:
        load_path(path)
    assert info.value.path == path


def test_one_huge_line_of_text_loads(tmp_path: Path) -> None:
    path = tmp_path / "wall.txt"
    path.write_text("교복은 비싸다 " * 400_000)  # ~7 MB, no newline
    (doc,) = load_path(path)
    assert len(doc.text) > 2_000_000


def test_docx_lying_about_its_size_is_refused(tmp_path: Path) -> None:
    body = b'<w:document xmlns:w="x"><w:body>' + b"<w:p/>" * 2_000_000 + b"</w:body></w:document>"
    path = tmp_path / "liar.docx"
    path.write_bytes(lying_zip(body, claimed=1000))  # 12 MB that says it is 1 kB
    assert load_or_loader_error(path) == []


def test_docx_with_too_many_members_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "MAX_ZIP_MEMBERS", 50)
    path = tmp_path / "many.docx"
    path.write_bytes(docx_bytes(b"<w/>", {f"word/media/{i}.bin": b"x" for i in range(100)}))
    with pytest.raises(LoaderError, match="members"):
        load_path(path)


# -- a hostile batch against a real index -----------------------------------------------------
class HashEmbedder:
    name = "hash-test"
    dim = 8
    max_tokens = 512

    def _vec(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).normal(size=self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def query(self, text: str) -> np.ndarray:
        return self._vec(text)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1


def test_hostile_batch_leaves_the_knowledge_base_intact(tmp_path: Path) -> None:
    index = SQLiteIndex(tmp_path / "kb.sqlite")
    ingestor = Ingestor(index, HashEmbedder(), make_tokenizer("mecab"), EmbeddingCache(tmp_path / "e.sqlite"))
    good = tmp_path / "good"
    good.mkdir()
    (good / "a.md").write_text("# 교복\n교복 가격은 가계에 부담이 된다.", encoding="utf-8")
    assert ingestor.add_paths("t", [good]).errors == []
    count = index.count("t")

    bad = tmp_path / "bad"
    bad.mkdir()
    files = {
        "empty.pdf": b"",
        "broken.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer <</Root 1 0 R>>",
        "notzip.docx": b"PK\x03\x04 this is not really a zip",
        "liar.docx": lying_zip(b"<w:document>" + b"<w:p/>" * 500_000 + b"</w:document>", 1000),
        "scripts.html": b"<html><script>alert(1)</script><style>x{}</style></html>",
        "binary.txt": bytes(range(256)) * 64,
        "rows.jsonl": b'{"text": "ok"}\n{"text": \xff\xfe broken\n',
        "cp949.txt": "교복은 학생의 평등을 보여준다.".encode("cp949"),  # fine: decoded as cp949
    }
    for name, data in files.items():
        (bad / name).write_bytes(data)
    report = ingestor.add_paths("t", [bad])
    failed = {Path(p).name for p, _ in report.errors}
    assert failed == set(files) - {"cp949.txt"}
    assert all(message for _, message in report.errors)
    assert index.count("t") == count + 1  # the good documents stay; only cp949.txt was added
    with closing(sqlite3.connect(index.path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
