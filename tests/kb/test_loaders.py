"""File loading: encodings, titles, JSONL validation, folder expansion."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from banron.kb.loaders import SUPPORTED_SUFFIXES, Document, LoaderError, iter_files, load_path

KO = "인공지능 규제는 혁신을 저해한다는 주장이 있다. 그러나 안전이 먼저다."


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


def load_one(path: Path) -> Document:
    docs = load_path(path)
    assert len(docs) == 1
    return docs[0]


# --------------------------------------------------------------------------------------
# .txt / .md
# --------------------------------------------------------------------------------------


def test_txt_utf8(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "ai.txt", f"AI 규제 토론\n\n{KO}\n"))
    assert doc == Document(
        doc_id="ai.txt",
        text=f"AI 규제 토론\n\n{KO}\n",
        title="AI 규제 토론",
        source="ai.txt",
        lang="ko",
        stance="neutral",
    )


def test_txt_english(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "note.txt", "\n\n  Why ban phones?  \nBecause focus matters.\n"))
    assert doc.title == "Why ban phones?"
    assert doc.lang == "en"


def test_cp949_korean_txt(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "윈도우.txt", KO.encode("cp949")))
    assert doc.text == KO
    assert doc.lang == "ko"


def test_euc_kr_korean_txt(tmp_path: Path) -> None:
    assert load_one(write(tmp_path / "old.txt", KO.encode("euc-kr"))).text == KO


def test_cp949_extended_syllables(tmp_path: Path) -> None:
    text = "똠방각하 펲시 믜리"  # syllables outside EUC-KR, inside CP949 (UHC)
    assert load_one(write(tmp_path / "uhc.txt", text.encode("cp949"))).text == text


def test_utf8_bom_is_removed(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "bom.md", b"\xef\xbb\xbf# \xec\xa0\x9c\xeb\xaa\xa9\nbody"))
    assert doc.text == "# 제목\nbody"
    assert doc.title == "제목"


def test_utf16_with_bom(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "notepad.txt", KO.encode("utf-16")))
    assert doc.text == KO


def test_latin1_fallback(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path / "fr.txt", "Un café crème, déjà vu.\n".encode("latin-1")))
    assert doc.text == "Un café crème, déjà vu.\n"


def test_newlines_and_unicode_are_normalised(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "한국어 문장\r\n둘째 줄\r셋째 줄")
    doc = load_one(write(tmp_path / "mac.txt", nfd))
    assert doc.text == "한국어 문장\n둘째 줄\n셋째 줄"
    assert doc.lang == "ko"


@pytest.mark.parametrize(
    ("content", "title"),
    [
        ("# 인공지능과 교육\n\n본문입니다.", "인공지능과 교육"),
        ("intro line\n\n## Section Two ##\ntext", "Section Two"),
        ('---\ntitle: "Front matter title"\nauthor: x\n---\n# Heading\n', "Front matter title"),
        ("---\nauthor: x\n---\n\nFirst line after front matter\n", "First line after front matter"),
        ("```\n# not a heading\n```\nReal first line", "Real first line"),
        ("#hashtag is not a heading\nmore", "#hashtag is not a heading"),
        ("x" * 81 + "\nmore", "long"),  # first line too long for a title: the stem
        ("x" * 80, "x" * 80),
    ],
)
def test_md_titles(tmp_path: Path, content: str, title: str) -> None:
    assert load_one(write(tmp_path / "long.md", content)).title == title


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="empty file") as info:
        load_path(write(tmp_path / "empty.txt", b""))
    assert info.value.path == tmp_path / "empty.txt"
    with pytest.raises(LoaderError, match="empty file"):
        load_path(write(tmp_path / "blank.md", " \n\t\n"))


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        bytes(range(1, 256)) * 4,  # no NUL, but mostly control characters once decoded
    ],
)
def test_binary_file(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(LoaderError, match="binary") as info:
        load_path(write(tmp_path / "image.txt", data))
    assert "image.txt" in str(info.value)


def test_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as info:
        load_path(write(tmp_path / "slides.pptx", b"PK"))
    message = str(info.value)
    assert "slides.pptx" in message and ".pptx" in message
    assert all(suffix in message for suffix in (".txt", ".md", ".jsonl", ".pdf", ".docx", ".html"))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="no such file"):
        load_path(tmp_path / "nope.txt")
    (tmp_path / "dir.md").mkdir()
    with pytest.raises(LoaderError, match="directory"):
        load_path(tmp_path / "dir.md")


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    assert load_one(write(tmp_path / "UPPER.TXT", "hello")).doc_id == "UPPER.TXT"


# --------------------------------------------------------------------------------------
# .jsonl
# --------------------------------------------------------------------------------------


def jsonl(*rows: object) -> str:
    return "".join(
        (row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n" for row in rows
    )


def test_jsonl_passages(tmp_path: Path) -> None:
    path = write(
        tmp_path / "pack.jsonl",
        jsonl(
            {"id": "p1", "text": KO, "title": "규제", "stance": "con", "motion": "ai-reg", "source": "신문"},
            "",
            {"text": "Phones distract students.", "stance": "PRO"},
            "   ",
            {"id": 7, "text": "숫자 아이디", "lang": "en", "extra": {"ignored": True}},
        ),
    )
    docs = load_path(path)
    assert docs == [
        Document("pack:p1", KO, "규제", "신문", "ko", "con", "ai-reg", "p1"),
        Document("pack:L3", "Phones distract students.", "", "pack.jsonl", "en", "pro", "", ""),
        Document("pack:7", "숫자 아이디", "", "pack.jsonl", "en", "neutral", "", "7"),
    ]


def test_jsonl_with_bom_and_crlf(tmp_path: Path) -> None:
    data = "\ufeff" + jsonl({"id": "a", "text": "하나"}, {"id": "b", "text": "둘"}).replace("\n", "\r\n")
    docs = load_path(write(tmp_path / "win.jsonl", data.encode("utf-8")))
    assert [d.text for d in docs] == ["하나", "둘"]


def test_jsonl_line_separator_inside_a_string(tmp_path: Path) -> None:
    # U+2028 is valid raw inside a JSON string; it must not split the line
    docs = load_path(write(tmp_path / "ls.jsonl", '{"text": "a\u2028b"}\n'))
    assert docs[0].text == "a\u2028b"


@pytest.mark.parametrize(
    ("rows", "line", "needle"),
    [
        ([{"text": "ok"}, "", '{"text": "broken",', {"text": "ok"}], 3, "invalid JSON"),
        ([{"text": "ok"}, {"title": "no text", "txet": "typo"}], 2, "missing required field 'text'"),
        ([{"text": 5}], 1, "'text' must be a string"),
        ([{"text": "  "}], 1, "'text' is empty"),
        ([{"text": "ok", "stance": "maybe"}], 1, "'stance' must be one of pro, con, neutral"),
        ([{"text": "ok", "lang": "ja"}], 1, "'lang' must be one of ko, en"),
        ([{"text": "ok", "title": ["x"]}], 1, "'title' must be a string, got an array"),
        ([{"text": "ok", "id": True}], 1, "'id' must be a string or an integer"),
        ([{"text": "ok", "id": ""}], 1, "'id' is empty"),
        (["[1, 2]"], 1, "expected a JSON object, got an array"),
        (
            [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}, {"id": "a", "text": "z"}],
            3,
            "duplicate id 'a'",
        ),
    ],
)
def test_jsonl_bad_line_fails_the_file(tmp_path: Path, rows: list[object], line: int, needle: str) -> None:
    path = write(tmp_path / "bad.jsonl", jsonl(*rows))
    with pytest.raises(LoaderError) as info:
        load_path(path)
    err = info.value
    assert err.line == line
    assert err.path == path
    assert needle in err.reason
    assert str(err).startswith(f"{path}: line {line}: ")


def test_jsonl_duplicate_names_first_line(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.jsonl", jsonl({"id": "x", "text": "a"}, {"id": "x", "text": "b"}))
    with pytest.raises(LoaderError, match=r"first used on line 1"):
        load_path(path)


def test_jsonl_only_blank_lines(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="empty file"):
        load_path(write(tmp_path / "blank.jsonl", "\n  \n\n"))
    with pytest.raises(LoaderError, match="empty file"):
        load_path(write(tmp_path / "zero.jsonl", b""))


# --------------------------------------------------------------------------------------
# iter_files
# --------------------------------------------------------------------------------------


def test_iter_files_expands_folders(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    for name in [
        "b.txt",
        "a.md",
        "sub/c.jsonl",
        "sub/deeper/d.TXT",
        "z.pptx",
        ".hidden.txt",
        ".git/x.txt",
        "sub/.cache/y.md",
    ]:
        write(root / name, "x")
    single = write(tmp_path / "single.md", "y")
    files = iter_files([root, single, root / "a.md"])  # a.md twice: listed once
    assert files == [
        root / "a.md",
        root / "b.txt",
        root / "sub" / "c.jsonl",
        root / "sub" / "deeper" / "d.TXT",
        single,
    ]


def test_iter_files_missing_path(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="no such file or directory") as info:
        iter_files([tmp_path / "missing"])
    assert info.value.path == tmp_path / "missing"


def test_iter_files_keeps_explicit_unsupported_file_for_load_path_to_report(tmp_path: Path) -> None:
    slides = write(tmp_path / "slides.pptx", b"x")
    assert iter_files([slides]) == [slides]
    with pytest.raises(LoaderError, match=r"unsupported file type \.pptx"):
        load_path(slides)


def test_supported_suffixes() -> None:
    assert set(SUPPORTED_SUFFIXES) == {".txt", ".md", ".jsonl", ".pdf", ".docx", ".html", ".htm"}


def test_every_listed_file_loads(tmp_path: Path) -> None:
    write(tmp_path / "one.txt", KO)
    write(tmp_path / "two.jsonl", jsonl({"text": "a"}, {"text": "b"}))
    docs = [doc for path in iter_files([tmp_path]) for doc in load_path(path)]
    assert [d.doc_id for d in docs] == ["one.txt", "two:L1", "two:L2"]
