"""PDF, Word and HTML loading, Markdown sections, hostile files, and knowledge-base housekeeping.

Every test file is built here, in tmp_path: PDFs are written byte by byte (a standard font for
English, a Type0 font with a ToUnicode map for Korean), Word files with python-docx, zip bombs
with zipfile.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from banron.cli import app
from banron.kb import loaders
from banron.kb.embed import EmbeddingCache, get_embedder
from banron.kb.index import maintenance
from banron.kb.index.sqlite import SQLiteIndex
from banron.kb.ingest import Ingestor
from banron.kb.loaders import Document, LoaderError, load_path
from banron.kb.tokenize import make_tokenizer

# --------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------


def make_pdf(pages: Sequence[Sequence[str]], title: str | None = None, korean: bool = False) -> bytes:
    """A small valid PDF: each page shows its lines of text, one under the other."""
    objs: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree (filled in at the end)

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    def stream(data: bytes) -> bytes:
        return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    if korean:  # a CID font: 2-byte codes, mapped back to Unicode by a ToUnicode CMap
        chars = sorted({c for page in pages for line in page for c in line})
        cid = {c: i + 1 for i, c in enumerate(chars)}
        cmap = [
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange",
        ]
        for start in range(0, len(chars), 100):
            chunk = chars[start : start + 100]
            cmap += [
                f"{len(chunk)} beginbfchar",
                *(f"<{cid[c]:04X}> <{ord(c):04X}>" for c in chunk),
                "endbfchar",
            ]
        cmap.append("endcmap CMapName currentdict /CMap defineresource pop end end")
        to_unicode = add(stream("\n".join(cmap).encode()))
        descendant = add(
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Malgun /CIDSystemInfo"
            b" << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>"
        )
        font = add(
            b"<< /Type /Font /Subtype /Type0 /BaseFont /Malgun /Encoding /Identity-H"
            b" /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (descendant, to_unicode)
        )

        def show(line: str) -> bytes:
            return b"<" + "".join(f"{cid[c]:04X}" for c in line).encode() + b"> Tj"

    else:
        font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")

        def show(line: str) -> bytes:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            return b"(" + escaped.encode("latin-1") + b") Tj"

    kids = []
    for page in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td 14 TL", *(show(line) + b" T*" for line in page), b"ET"]
        content = add(stream(b"\n".join(ops)))
        kids.append(
            add(
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
                b" /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, content)
            )
        )
    objs[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objs[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    info = add(b"<< /Title <FEFF%s> >>" % title.encode("utf-16-be").hex().encode()) if title else None

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"<< /Size %d /Root 1 0 R%s >>" % (len(objs) + 1, b" /Info %d 0 R" % info if info else b"")
    out += b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


PAGE1 = [
    "Phones in class",
    "Schools that banned phones saw test scores rise.",
    "Teachers report calmer rooms.",
]
PAGE2 = ["Counterpoint", "Students lose a research tool when phones are banned.", "Parents want contact."]


def make_docx(path: Path, title: str = "") -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.add_paragraph("서론: 휴대폰 사용에 관한 토론 자료입니다.")
    d.add_heading("휴대폰 금지의 효과", level=1)
    d.add_paragraph("휴대폰을 금지한 학교의 평균 성적이 올랐다.")
    table = d.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ["학교", "성적 변화", "비고"], strict=True):
        cell.text = text
    merged = table.cell(1, 0).merge(table.cell(1, 1))
    merged.text = "A고등학교 +5점"
    table.cell(1, 2).text = "2023년"
    d.add_heading("반대 측 주장", level=2)
    d.add_paragraph("학생의 자율성을 침해한다는 반론이 있다.")
    path.parent.mkdir(parents=True, exist_ok=True)
    d.save(str(path))
    return path


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return path


def one(path: Path) -> Document:
    docs = load_path(path)
    assert len(docs) == 1
    return docs[0]


def sections_point_at_headings(doc: Document) -> None:
    for offset, heading in doc.sections:
        assert doc.text[offset:].startswith(heading), (offset, heading)


# --------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------


def test_pdf_text_pages_and_title_from_first_heading(tmp_path: Path) -> None:
    doc = one(write(tmp_path / "phones.pdf", make_pdf([PAGE1, PAGE2])))
    assert doc.text == "\n".join(PAGE1) + "\n\n" + "\n".join(PAGE2)
    assert doc.page_starts == [0, len("\n".join(PAGE1)) + 2]
    assert doc.page_at(doc.text.index("Counterpoint")) == 2
    assert doc.page_at(doc.text.index("calmer")) == 1
    assert (doc.title, doc.doc_id, doc.source, doc.lang) == (
        "Phones in class",
        "phones.pdf",
        "phones.pdf",
        "en",
    )


def test_korean_pdf_with_metadata_title(tmp_path: Path) -> None:
    pages = [["휴대폰 금지 정책", "휴대폰은 수업 집중을 방해한다."], ["둘째 쪽: 자율성 침해 논란."]]
    doc = one(write(tmp_path / "ko.pdf", make_pdf(pages, title="휴대폰 토론 자료", korean=True)))
    assert doc.text == "휴대폰 금지 정책\n휴대폰은 수업 집중을 방해한다.\n\n둘째 쪽: 자율성 침해 논란."
    assert doc.title == "휴대폰 토론 자료" and doc.lang == "ko"


@pytest.mark.parametrize(
    ("meta", "title"),
    [
        ("Microsoft Word - 토론자료.docx", "Phones in class"),  # a file name, not a title
        ("Untitled", "Phones in class"),
        ("Microsoft Word - Phone bans: the evidence", "Phone bans: the evidence"),
    ],
)
def test_pdf_metadata_title_noise(tmp_path: Path, meta: str, title: str) -> None:
    assert one(write(tmp_path / "m.pdf", make_pdf([PAGE1], title=meta))).title == title


def test_pdf_title_falls_back_to_stem(tmp_path: Path) -> None:
    lines = ["This first line is a sentence and ends with a full stop.", "So is this one."]
    assert one(write(tmp_path / "report-2024.pdf", make_pdf([lines]))).title == "report-2024"


def test_scanned_pdf_without_text_layer(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"no text layer — scanned PDF\? OCR it first") as info:
        load_path(write(tmp_path / "scan.pdf", make_pdf([[], []])))
    assert info.value.path == tmp_path / "scan.pdf"


def test_empty_page_keeps_page_numbers(tmp_path: Path) -> None:
    doc = one(write(tmp_path / "gap.pdf", make_pdf([PAGE1, [], PAGE2])))
    assert len(doc.page_starts) == 3
    assert doc.page_at(doc.text.index("Counterpoint")) == 3


def encrypt(pdf: bytes, user: str, owner: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user, owner_password=owner, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdf_needing_a_password_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.pdf", encrypt(make_pdf([PAGE1]), user="secret", owner="owner"))
    with pytest.raises(LoaderError, match="encrypted PDF: a password is needed"):
        load_path(path)


def test_encrypted_pdf_with_empty_user_password_opens(tmp_path: Path) -> None:
    path = write(tmp_path / "restricted.pdf", encrypt(make_pdf([PAGE1]), user="", owner="owner"))
    assert one(path).text.startswith("Phones in class")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty file"),
        (b"hello, not a pdf", "not a PDF file"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "PDF"),
        (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R", "PDF"),
    ],
)
def test_malformed_pdf_is_a_loader_error(tmp_path: Path, data: bytes, needle: str) -> None:
    with pytest.raises(LoaderError, match=needle) as info:
        load_path(write(tmp_path / "bad.pdf", data))
    assert str(info.value).startswith(str(tmp_path / "bad.pdf"))


def test_truncated_pdf_is_a_loader_error_or_recovered(tmp_path: Path) -> None:
    good = make_pdf([PAGE1, PAGE2])
    for cut in (len(good) // 3, len(good) // 2, len(good) - 40):
        path = write(tmp_path / f"cut{cut}.pdf", good[:cut])
        try:
            docs = load_path(path)
        except LoaderError as err:
            assert "cut" in str(err)
        else:  # pypdf rebuilt what it could: whatever came back is real text from the file
            lines = [line for line in docs[0].text.split("\n") if line]
            assert lines and all(line in PAGE1 + PAGE2 for line in lines)


def test_pdf_page_and_text_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "big.pdf", make_pdf([PAGE1, PAGE2]))
    monkeypatch.setattr(loaders, "MAX_PDF_PAGES", 1)
    with pytest.raises(LoaderError, match=r"2 pages \(limit 1\)"):
        load_path(path)
    monkeypatch.setattr(loaders, "MAX_PDF_PAGES", 10)
    monkeypatch.setattr(loaders, "MAX_TEXT_CHARS", 50)
    with pytest.raises(LoaderError, match="more than 50 characters"):
        load_path(path)


def test_pdf_pages_flow_into_passages(tmp_path: Path) -> None:
    pages = [
        [f"Page one sentence {i} says phone bans raise attention in class." for i in range(6)],
        [f"Page two sentence {i} says phones help students look things up." for i in range(6)],
    ]
    write(tmp_path / "docs" / "two-pages.pdf", make_pdf(pages))
    index = SQLiteIndex(tmp_path / "kb.sqlite")
    ingestor = Ingestor(
        index, get_embedder(), make_tokenizer("mecab"), EmbeddingCache(tmp_path / "e.sqlite"), chunk_tokens=40
    )
    report = ingestor.add_paths("t", [tmp_path / "docs"])
    assert report.errors == [] and report.documents_added == 1
    stored = [index.get("t", f"two-pages.pdf#{i}") for i in range(1, index.count("t") + 1)]
    assert all(p is not None for p in stored)
    by_page = {p.page for p in stored if p is not None}
    assert by_page == {1, 2}
    for p in stored:
        assert p is not None
        assert p.page == (1 if p.text.startswith("Page one") else 2)


# --------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------


def test_docx_paragraphs_tables_and_headings(tmp_path: Path) -> None:
    doc = one(make_docx(tmp_path / "토론.docx"))
    assert doc.text == (
        "서론: 휴대폰 사용에 관한 토론 자료입니다.\n\n휴대폰 금지의 효과\n\n"
        "휴대폰을 금지한 학교의 평균 성적이 올랐다.\n\n학교 | 성적 변화 | 비고\n\nA고등학교 +5점 | 2023년\n\n"
        "반대 측 주장\n\n학생의 자율성을 침해한다는 반론이 있다."
    )
    assert [h for _, h in doc.sections] == ["휴대폰 금지의 효과", "반대 측 주장"]
    sections_point_at_headings(doc)
    assert doc.title == "휴대폰 금지의 효과"  # no core title: the first heading
    assert doc.section_at(doc.text.index("A고등학교")) == "휴대폰 금지의 효과"
    assert doc.section_at(doc.text.index("자율성")) == "반대 측 주장"
    assert doc.section_at(0) == "" and doc.lang == "ko" and doc.page_starts == []


def test_docx_core_title_and_korean_style_names(tmp_path: Path) -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    d = docx.Document()
    d.core_properties.title = "교복 토론 자료집"
    korean = d.styles.add_style("제목 2", WD_STYLE_TYPE.PARAGRAPH)
    custom = d.styles.add_style("My Heading", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = d.styles["Heading 1"]
    d.add_paragraph("교복 찬반", style="제목 2")
    d.add_paragraph("교복은 가계 부담을 줄인다.")
    d.add_paragraph("반론 정리", style=custom)
    d.add_paragraph("교복은 활동성을 해친다.")
    d.save(str(tmp_path / "uniform.docx"))
    assert korean is not None
    doc = one(tmp_path / "uniform.docx")
    assert doc.title == "교복 토론 자료집"
    assert [h for _, h in doc.sections] == ["교복 찬반", "반론 정리"]
    sections_point_at_headings(doc)


def test_docx_headings_become_passage_sections(tmp_path: Path) -> None:
    doc = one(make_docx(tmp_path / "docs" / "debate.docx"))
    index = SQLiteIndex(tmp_path / "kb.sqlite")
    ingestor = Ingestor(index, FakeEmbedder(), make_tokenizer("mecab"), None, chunk_tokens=8)
    assert ingestor.add_paths("t", [tmp_path / "docs"]).documents_added == 1
    passages = [index.get("t", p.id) for p in index.all_passages("t")]
    sections = {}
    for p in passages:
        assert p is not None and p.page is None
        assert p.section == doc.section_at(p.start)
        sections[p.text] = p.section
    assert {"", "휴대폰 금지의 효과", "반대 측 주장"} == set(sections.values())
    assert next(s for t, s in sections.items() if "평균 성적" in t) == "휴대폰 금지의 효과"
    assert next(s for t, s in sections.items() if "자율성" in t) == "반대 측 주장"


def zip_bytes(members: dict[str, bytes | int], level: int = 9) -> bytes:
    """A ZIP; an int member is that many zero bytes, streamed so memory stays small."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in members.items():
            if isinstance(data, bytes):
                zf.writestr(name, data)
                continue
            with zf.open(name, "w", force_zip64=True) as f:
                block = bytes(2**20)
                for _ in range(data // len(block)):
                    f.write(block)
    return out.getvalue()


def test_docx_zip_bomb_by_ratio(tmp_path: Path) -> None:
    bomb = zip_bytes({"[Content_Types].xml": b"<x/>", "word/document.xml": 64 * 2**20}, level=1)
    assert len(bomb) < 2**20  # small on disk
    with pytest.raises(
        LoaderError, match=r"word/document.xml is compressed .*:1 — refusing it \(a zip bomb\?\)"
    ):
        load_path(write(tmp_path / "bomb.docx", bomb))


def test_docx_zip_bomb_by_total_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "MAX_DOCX_UNCOMPRESSED", 8 * 2**20)  # keeps the test fast
    bomb = zip_bytes({f"word/media/{i}.bin": 3 * 2**20 for i in range(3)} | {"word/document.xml": b"<w/>"}, 1)
    with pytest.raises(LoaderError, match=r"expands to 9 MB uncompressed \(limit 8 MB\).*zip bomb"):
        load_path(write(tmp_path / "big.docx", bomb))


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty file"),
        (b"this is plain text, saved as .docx", r"not a Word \.docx file \(not a ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), r"old \.doc file; save it as \.docx"),
        (zip_bytes({"hello.txt": b"hi"}), "without word/document.xml"),
        (zip_bytes({"word/document.xml": b"<not really xml"}), "not a readable Word document"),
    ],
)
def test_bad_docx_is_a_loader_error(tmp_path: Path, data: bytes, needle: str) -> None:
    with pytest.raises(LoaderError, match=needle) as info:
        load_path(write(tmp_path / "bad.docx", data))
    assert info.value.path == tmp_path / "bad.docx"


def test_docx_without_text(tmp_path: Path) -> None:
    import docx

    docx.Document().save(str(tmp_path / "blank.docx"))
    with pytest.raises(LoaderError, match="no text"):
        load_path(tmp_path / "blank.docx")


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------

NEWS = """<!doctype html>
<html lang="ko"><head><meta charset="{charset}"><title>휴대폰 금지 논쟁 | 교육신문</title>
<style>.gnb {{ color: red }} STYLE_TEXT</style><script>var tracker = "SCRIPT_TEXT";</script></head>
<body>
<header class="site-header"><a href="/">교육신문 HEADER_TEXT</a><nav><a>정치</a><a>NAV_TEXT</a></nav></header>
<div id="cookie-consent">이 사이트는 쿠키를 사용합니다 COOKIE_TEXT <button>동의</button></div>
<ul class="gnb"><li>GNB_TEXT</li></ul>
<div class="layout-with-sidebar">
  <main>
    <article>
      <header><h1>휴대폰 금지 논쟁</h1><p class="byline">김기자</p></header>
      <p>학교에서 <b>휴대폰</b>을 금지하면   집중력이
         높아진다는 연구가 있다.</p>
      <h2>반대 의견</h2>
      <p>그러나 학생의 자율성을 침해한다.<br>학부모 연락도 어렵다.</p>
      <table><tr><th>학교</th><td>성적 +5점</td></tr></table>
      <div class="share-buttons">SHARE_TEXT</div>
      <section class="comments">COMMENT_TEXT</section>
    </article>
    <aside>관련 기사 ASIDE_TEXT</aside>
  </main>
  <div class="sidebar">SIDEBAR_TEXT</div>
</div>
<div style="display: none">HIDDEN_TEXT</div>
<form><input value="FORM_TEXT">검색 FORM_TEXT</form>
<footer>Copyright FOOTER_TEXT</footer>
<noscript>NOSCRIPT_TEXT</noscript>
</body></html>
"""

MAIN_TEXT = (
    "휴대폰 금지 논쟁\n\n김기자\n\n학교에서 휴대폰을 금지하면 집중력이 높아진다는 연구가 있다.\n\n"
    "반대 의견\n\n그러나 학생의 자율성을 침해한다.\n학부모 연락도 어렵다.\n\n학교 | 성적 +5점"
)


def test_html_main_content_without_boilerplate(tmp_path: Path) -> None:
    doc = one(write(tmp_path / "news.html", NEWS.format(charset="utf-8")))
    assert doc.text == MAIN_TEXT
    assert "_TEXT" not in doc.text
    assert doc.title == "휴대폰 금지 논쟁 | 교육신문"
    assert [h for _, h in doc.sections] == ["휴대폰 금지 논쟁", "반대 의견"]
    sections_point_at_headings(doc)
    assert doc.lang == "ko" and doc.doc_id == "news.html"


@pytest.mark.parametrize("charset", ["euc-kr", "EUC-KR", "ks_c_5601-1987", "cp949"])
def test_cp949_html_page(tmp_path: Path, charset: str) -> None:
    doc = one(write(tmp_path / "old.htm", NEWS.format(charset=charset) + "<!-- 똠방각하 -->", "cp949"))
    assert doc.text == MAIN_TEXT


def test_html_charset_fallbacks(tmp_path: Path) -> None:
    page = "<html><head><title>제목</title></head><body><p>자율 학습은 필요하다.</p></body></html>"
    undeclared = one(write(tmp_path / "a.html", page, "cp949"))
    lying = one(write(tmp_path / "b.html", page.replace("<head>", '<head><meta charset="utf-8">'), "cp949"))
    unknown = one(
        write(tmp_path / "c.html", page.replace("<head>", '<head><meta charset="x-nope">'), "cp949")
    )
    bom = one(
        write(
            tmp_path / "d.html",
            b"\xef\xbb\xbf" + page.replace("<head>", '<head><meta charset="euc-kr">').encode(),
        )
    )
    http_equiv = page.replace(
        "<head>", '<head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr">'
    )
    legacy = one(write(tmp_path / "e.html", http_equiv, "cp949"))
    for doc in (undeclared, lying, unknown, bom, legacy):
        assert (doc.title, doc.text) == ("제목", "자율 학습은 필요하다.")


def test_html_with_a_damaged_byte_keeps_its_encoding(tmp_path: Path) -> None:
    raw = NEWS.format(charset="utf-8").encode()
    cut = raw.index("집중력".encode()) + 1  # inside a three-byte Hangul syllable
    doc = one(write(tmp_path / "damaged.html", raw[:cut] + b"\xff" + raw[cut + 1 :]))
    assert doc.text.count("\ufffd") >= 1 and "연구가 있다" in doc.text and doc.lang == "ko"


def test_html_title_falls_back_to_h1_then_stem(tmp_path: Path) -> None:
    assert one(write(tmp_path / "a.html", "<h1>Uniforms</h1><p>Text.</p>")).title == "Uniforms"
    assert one(write(tmp_path / "page-3.html", "<p>Only a paragraph.</p>")).title == "page-3"


def test_html_without_main_uses_body_and_keeps_pre(tmp_path: Path) -> None:
    page = "<body><nav>menu</nav><div><p>First.</p><pre>  a = 1\n  b = 2</pre></div><p>Last.</p></body>"
    assert one(write(tmp_path / "p.html", page)).text == "First.\n\na = 1\n  b = 2\n\nLast."


def test_class_hint_never_drops_the_content(tmp_path: Path) -> None:
    page = (
        '<body><div class="page has-sidebar"><p>The whole article lives here, long enough.</p></div></body>'
    )
    assert one(write(tmp_path / "p.html", page)).text == "The whole article lives here, long enough."


@pytest.mark.parametrize(
    "page",
    [
        "<html><head><script>document.write('hi')</script></head><body><script>x()</script></body></html>",
        "<html><body><nav><a>Home</a></nav><style>p{}</style><footer>(c)</footer></body></html>",
        "<!-- nothing -->",
    ],
)
def test_html_without_readable_text(tmp_path: Path, page: str) -> None:
    with pytest.raises(LoaderError, match="no readable text in this HTML page"):
        load_path(write(tmp_path / "scripts.html", page))


def test_deeply_nested_html_does_not_crash(tmp_path: Path) -> None:
    page = "<div>" * 20_000 + "깊은 문단." + "</div>" * 20_000
    assert one(write(tmp_path / "deep.html", page)).text == "깊은 문단."


# --------------------------------------------------------------------------------------
# Markdown sections
# --------------------------------------------------------------------------------------


def test_markdown_headings_become_sections(tmp_path: Path) -> None:
    text = "---\ntitle: T\n---\n# 서론\n본문.\n\n```\n# 코드 주석\n```\n## 근거 ##\n내용.\n#해시태그\n"
    doc = one(write(tmp_path / "n.md", text))
    assert doc.sections == [(text.index("# 서론"), "서론"), (text.index("## 근거"), "근거")]
    assert doc.section_at(text.index("내용")) == "근거"
    assert one(write(tmp_path / "n.txt", text)).sections == []  # .txt is not Markdown


# --------------------------------------------------------------------------------------
# Fuzz: any bytes give documents or a LoaderError, never another exception
# --------------------------------------------------------------------------------------

SUFFIXES = [".pdf", ".docx", ".html", ".htm", ".jsonl", ".txt", ".md"]


def _load_or_loader_error(path: Path) -> None:
    try:
        docs = load_path(path)
    except LoaderError as err:
        assert err.path == path and err.reason
    else:
        assert docs and all(isinstance(d, Document) and d.text.strip() for d in docs)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=2048),
    suffix=st.sampled_from(SUFFIXES),
    prefix=st.sampled_from([b"", b"%PDF-1.4\n"]),
)
def test_fuzz_random_bytes(tmp_path: Path, data: bytes, suffix: str, prefix: bytes) -> None:
    _load_or_loader_error(write(tmp_path / f"fuzz{suffix}", prefix + data))


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("valid")
    return {
        ".pdf": make_pdf([PAGE1, PAGE2], title="T"),
        ".docx": make_docx(folder / "v.docx").read_bytes(),
        ".html": NEWS.format(charset="utf-8").encode(),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    suffix=st.sampled_from([".pdf", ".docx", ".html"]),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_fuzz_damaged_real_files(
    tmp_path: Path, valid_files: dict[str, bytes], suffix: str, cut: float, flips: list[tuple[float, int]]
) -> None:
    data = bytearray(valid_files[suffix])
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    del data[max(1, int(cut * len(data))) :]
    _load_or_loader_error(write(tmp_path / f"damaged{suffix}", bytes(data)))


# --------------------------------------------------------------------------------------
# Ingest: mixed folders, stale documents, moved and renamed files
# --------------------------------------------------------------------------------------


class FakeEmbedder:
    """Deterministic vectors from a hash; records what it embedded."""

    name = "fake-test"
    dim = 8
    max_tokens = 512

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _vec(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).normal(size=self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def query(self, text: str) -> np.ndarray:
        return self._vec(text)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1


@pytest.fixture
def kb(tmp_path: Path) -> tuple[SQLiteIndex, Ingestor, FakeEmbedder]:
    index = SQLiteIndex(tmp_path / "kb.sqlite")
    emb = FakeEmbedder()
    return index, Ingestor(index, emb, make_tokenizer("mecab"), EmbeddingCache(tmp_path / "e.sqlite")), emb


def rows(*texts: str) -> str:
    return "".join(
        json.dumps({"id": f"r{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)
    )


def generation(index: SQLiteIndex, name: str) -> int:
    with sqlite3.connect(index.path) as db:
        return int(db.execute("SELECT generation FROM kbs WHERE name = ?", (name,)).fetchone()[0])


def doc_ids(index: SQLiteIndex, name: str = "t") -> list[str]:
    return [d.doc_id for d in maintenance.list_documents(index.path, name)]


def test_folder_with_good_and_bad_files(
    kb: tuple[SQLiteIndex, Ingestor, FakeEmbedder], tmp_path: Path
) -> None:
    index, ingestor, _ = kb
    folder = tmp_path / "evidence"
    write(folder / "notes.md", "# 근거\n휴대폰 금지는 집중력을 높인다.")
    write(folder / "rows.jsonl", rows("첫째 근거.", "둘째 근거."))
    write(folder / "paper.pdf", make_pdf([PAGE1]))
    make_docx(folder / "brief.docx")
    write(folder / "page.html", NEWS.format(charset="utf-8"))
    first = ingestor.add_paths("t", [folder])
    assert first.errors == [] and first.documents_added == 6
    before = index.count("t")

    write(folder / "paper.pdf", b"%PDF-1.4 broken")  # a good file goes bad: its documents stay
    write(folder / "scan.pdf", make_pdf([[]]))
    write(folder / "bomb.docx", zip_bytes({"word/document.xml": 16 * 2**20}, level=1))
    write(folder / "fake.docx", b"not a zip")
    write(folder / "empty.txt", b"")
    write(folder / "scripts.html", "<script>x()</script>")
    write(folder / "broken.jsonl", '{"text": "ok"}\n{"text": \n')
    write(folder / "more.txt", "새로운 근거 문단.")
    report = ingestor.add_paths("t", [folder])
    failed = {Path(path).name: message for path, message in report.errors}
    assert set(failed) == {
        "paper.pdf",
        "scan.pdf",
        "bomb.docx",
        "fake.docx",
        "empty.txt",
        "scripts.html",
        "broken.jsonl",
    }
    assert (
        "OCR" in failed["scan.pdf"]
        and "zip bomb" in failed["bomb.docx"]
        and "line 2" in failed["broken.jsonl"]
    )
    assert report.documents_added == 1 and report.documents_unchanged == 5 and report.documents_removed == 0
    assert index.count("t") == before + 1
    assert "paper.pdf" in doc_ids(index)


def test_reingest_removes_documents_a_file_no_longer_yields(
    kb: tuple[SQLiteIndex, Ingestor, FakeEmbedder], tmp_path: Path
) -> None:
    index, ingestor, _ = kb
    path = write(tmp_path / "ev.jsonl", rows("하나.", "둘.", "셋."))
    other = write(tmp_path / "keep.txt", "다른 파일의 근거.")
    ingestor.add_paths("t", [path, other])
    assert doc_ids(index) == ["ev:r0", "ev:r1", "ev:r2", "keep.txt"]
    search_before = len(index.all_passages("t"))
    gen = generation(index, "t")

    write(path, rows("하나.", "둘 (고침)."))
    report = ingestor.add_paths("t", [path])  # keep.txt is not in this batch: it stays
    assert (report.documents_unchanged, report.documents_updated, report.documents_removed) == (1, 1, 1)
    assert doc_ids(index) == ["ev:r0", "ev:r1", "keep.txt"]
    assert index.get("t", "ev:r2") is None
    assert generation(index, "t") > gen
    assert len(index.all_passages("t")) == search_before - 1  # the in-memory index reloaded

    write(path, "")  # now unreadable: nothing of it is removed
    report = ingestor.add_paths("t", [path])
    assert report.errors and report.documents_removed == 0
    assert doc_ids(index) == ["ev:r0", "ev:r1", "keep.txt"]


def test_renamed_file_replaces_its_old_documents(
    kb: tuple[SQLiteIndex, Ingestor, FakeEmbedder], tmp_path: Path
) -> None:
    index, ingestor, emb = kb
    old = write(tmp_path / "a" / "old-name.md", "# 근거\n휴대폰 금지 학교의 성적이 올랐다.")
    ingestor.add_paths("t", [old])
    embedded = len(emb.embedded)
    new = old.rename(tmp_path / "a" / "new-name.md")
    report = ingestor.add_paths("t", [new])
    assert report.files_moved == 1 and report.documents_added == 1 and report.documents_removed == 1
    assert len(emb.embedded) == embedded  # vectors came from the cache
    [info] = maintenance.list_documents(index.path, "t")
    assert (info.doc_id, info.source) == ("new-name.md", str(new.resolve()))
    assert [p.id for p in index.all_passages("t")] == ["new-name.md#1"]


def test_moved_file_only_updates_its_source(
    kb: tuple[SQLiteIndex, Ingestor, FakeEmbedder], tmp_path: Path
) -> None:
    index, ingestor, emb = kb
    old = write(tmp_path / "a" / "ev.jsonl", rows("하나.", "둘."))
    ingestor.add_paths("t", [old])
    gen, embedded = generation(index, "t"), len(emb.embedded)
    (tmp_path / "b").mkdir()
    new = old.rename(tmp_path / "b" / "ev.jsonl")
    write(new, rows("하나."))  # moved and shortened
    report = ingestor.add_paths("t", [new])
    assert report.files_moved == 1 and report.passages_written == 0 and len(emb.embedded) == embedded
    assert report.documents_unchanged == 1 and report.documents_removed == 1
    assert [(d.doc_id, d.source) for d in maintenance.list_documents(index.path, "t")] == [
        ("ev:r0", str(new.resolve()))
    ]
    assert generation(index, "t") == gen + 1  # only the removal touched passages


def test_a_copy_is_not_a_move(kb: tuple[SQLiteIndex, Ingestor, FakeEmbedder], tmp_path: Path) -> None:
    index, ingestor, _ = kb
    a = write(tmp_path / "a.txt", "같은 내용의 문단.")
    ingestor.add_paths("t", [a])
    b = write(tmp_path / "b.txt", "같은 내용의 문단.")
    report = ingestor.add_paths("t", [b])
    assert report.files_moved == 0 and report.documents_removed == 0
    assert doc_ids(index) == ["a.txt", "b.txt"]


def test_same_document_id_from_two_files_in_one_batch(
    kb: tuple[SQLiteIndex, Ingestor, FakeEmbedder], tmp_path: Path
) -> None:
    index, ingestor, _ = kb
    write(tmp_path / "x" / "notes.txt", "첫 번째 파일.")
    write(tmp_path / "y" / "notes.txt", "두 번째 파일.")
    report = ingestor.add_paths("t", [tmp_path])
    assert report.documents_added == 1
    [(path, message)] = report.errors
    assert Path(path) == tmp_path / "y" / "notes.txt" and "also yielded by" in message
    p = index.get("t", "notes.txt#1")
    assert p is not None and p.text == "첫 번째 파일."


def test_maintenance_functions(kb: tuple[SQLiteIndex, Ingestor, FakeEmbedder], tmp_path: Path) -> None:
    index, ingestor, _ = kb
    ev = write(tmp_path / "ev.jsonl", rows("하나.", "둘."))
    ingestor.add_paths("t", [ev, write(tmp_path / "n.txt", "문단.")])
    docs = maintenance.list_documents(index.path, "t")
    assert [(d.doc_id, d.passages) for d in docs] == [("ev:r0", 1), ("ev:r1", 1), ("n.txt", 1)]
    assert maintenance.list_documents(index.path, "nope") == []

    gen = generation(index, "t")
    assert maintenance.rename_source(index.path, "t", str(ev.resolve()), "/elsewhere/ev.jsonl") == 2
    assert generation(index, "t") == gen  # passages untouched
    assert maintenance.remove_documents(index.path, "t", "/elsewhere/ev.jsonl") == ["ev:r0", "ev:r1"]
    assert generation(index, "t") == gen + 1
    assert maintenance.remove_documents(index.path, "t", "n.txt") == ["n.txt"]
    assert maintenance.remove_documents(index.path, "t", "n.txt") == []
    assert index.count("t") == 0
    with sqlite3.connect(index.path) as db:
        assert db.execute("SELECT count(*) FROM passages").fetchone()[0] == 0


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


def test_cli_kb_add_docs_rm_drop(tmp_path: Path, banron_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "자료"
    write(folder / "brief.pdf", make_pdf([["Uniforms cut costs for families."]]))
    write(folder / "rows.jsonl", rows("교복은 가계 부담을 줄인다.", "교복은 활동성을 해친다."))
    write(folder / "scan.pdf", make_pdf([[]]))
    result = runner.invoke(app, ["kb", "add", str(folder), "--kb", "class"])
    assert result.exit_code == 0, result.output
    assert "3 added" in flat(result.stdout)
    assert "scan.pdf" in flat(result.stderr) and "OCR it first" in flat(result.stderr)

    result = runner.invoke(app, ["kb", "docs", "--kb", "class", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [(d["doc_id"], d["passages"]) for d in listed] == [
        ("brief.pdf", 1),
        ("rows:r0", 1),
        ("rows:r1", 1),
    ]
    assert listed[0]["source"] == str((folder / "brief.pdf").resolve())
    table = runner.invoke(app, ["kb", "docs", "--kb", "class"])
    assert table.exit_code == 0 and "rows:r1" in table.stdout

    monkeypatch.chdir(folder)  # a path relative to where the command runs
    result = runner.invoke(app, ["kb", "rm", "rows.jsonl", "--kb", "class"])
    assert result.exit_code == 0, result.output
    assert "removed 2 documents" in flat(result.stdout)
    result = runner.invoke(app, ["kb", "rm", "brief.pdf", "--kb", "class"])  # a document id works too
    assert result.exit_code == 0 and "removed 1 document" in flat(result.stdout)
    result = runner.invoke(app, ["kb", "rm", "nothing-here", "--kb", "class"])
    assert result.exit_code == 1 and "nothing in 'class' matches" in flat(result.stderr)
    assert runner.invoke(app, ["kb", "rm", "x", "--kb", "missing"]).exit_code == 1

    result = runner.invoke(app, ["kb", "drop", "class"], input="n\n")
    assert result.exit_code == 1 and SQLiteIndex(banron_home / "kb" / "kb.sqlite").has_kb("class")
    result = runner.invoke(app, ["kb", "drop", "class", "--yes"])
    assert result.exit_code == 0, result.output
    assert not SQLiteIndex(banron_home / "kb" / "kb.sqlite").has_kb("class")
    result = runner.invoke(app, ["kb", "drop", "class", "--yes"])
    assert result.exit_code == 1 and "no knowledge base named 'class'" in flat(result.stderr)
    assert runner.invoke(app, ["kb", "docs", "--kb", "class"]).exit_code == 1


def test_cli_kb_add_only_bad_files_fails(tmp_path: Path) -> None:
    write(tmp_path / "bad.docx", b"nope")
    result = runner.invoke(app, ["kb", "add", str(tmp_path / "bad.docx")])
    assert result.exit_code == 1
    assert "not a Word .docx file" in flat(result.stderr)
