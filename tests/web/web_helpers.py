"""Helpers shared by the web tests: sign in through the real form, read CSRF tokens from pages."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: benchmarks/web_first_token.py uses minimal_pdf without a test client
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
# A small labelled knowledge base (JSONL lines): one passage for the motion, two against it.
UNIFORMS: list[dict[str, str]] = [
    {"id": "u1", "title": "교복 비용", "stance": "pro", "lang": "ko",
     "text": "교복 한 벌의 가격은 30만 원이 넘어 저소득 가정에 큰 부담이 된다."},
    {"id": "u2", "title": "교복과 소속감", "stance": "con", "lang": "ko",
     "text": "교복은 학생들에게 소속감을 주고 빈부 격차를 가려 준다."},
    {"id": "u3", "title": "등교 준비", "stance": "con", "lang": "ko",
     "text": "교복을 입으면 아침마다 옷을 고르는 시간이 줄어든다."},
]  # fmt: skip

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    m = _TOKEN.search(html)
    assert m, "page has no CSRF token"
    return m.group(1)


@dataclass
class Session:
    client: TestClient
    csrf: str

    def post_form(self, url: str, data: dict[str, str], **kw: object) -> object:
        return self.client.post(url, data={**data, "csrf_token": self.csrf}, follow_redirects=False, **kw)

    def api(self, method: str, url: str, **kw: object):  # type: ignore[no-untyped-def]
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.request(method, url, headers=headers, **kw)  # type: ignore[arg-type]


def login(app: FastAPI, name: str, password: str = PASSWORD, base_url: str = "http://testserver") -> Session:
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url=base_url)
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": csrf_from(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return Session(client, csrf_from(client.get("/account").text))


def minimal_pdf(pages: list[list[str]], title: str = "") -> bytes:
    """A small valid PDF with a real text layer (Helvetica, one text line per list item)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = len(objects) + 1 + 2 * len(pages)  # after the page and content objects
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 12 Tf", "72 720 Td", "16 TL"] + [f"({esc(line)}) '" for line in lines] + ["ET"]
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792]"
                b" /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (pages_id, font, content)
            )
        )
    assert (
        add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
        == pages_id
    )
    info = add(b"<< /Title (%s) >>" % esc(title).encode("latin-1")) if title else None
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def wait_job(s: Session, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = s.client.get(f"/api/ingest/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError("ingest did not finish in time")
