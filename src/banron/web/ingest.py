"""Evidence uploads: files saved under ``$BANRON_HOME/uploads/<kb>/``, ingested on a worker thread.

A saved file keeps its (sanitised) name, so uploading a corrected version of the same file replaces
its passages instead of adding a second copy, exactly as ``banron kb add`` does for a path. The
page polls the job for progress (passages embedded of the total) and shows each file that could
not be read with the reason.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from banron.runtime import Runtime
from banron.util import utc_now

EXTENSIONS = (".pdf", ".docx", ".html", ".htm", ".md", ".txt", ".jsonl")
KB_NAME = re.compile(r"^[\w-]{1,40}$")
JobStatus = Literal["queued", "running", "done", "failed"]


def safe_filename(name: str) -> str:
    """A file name that cannot leave its folder: the last path part, no control or odd characters."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").split("/")[-1]).strip()
    name = re.sub(r"[^\w.\- ()]", "_", name).strip(". ")
    return name[:120] or "upload"


@dataclass
class IngestJob:
    id: str
    kb: str
    owner_id: int
    files: list[str]
    status: JobStatus = "queued"
    total: int | None = None  # passages to embed, once known
    done: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    report: dict[str, int] = field(default_factory=dict)
    created_at: str = field(default_factory=utc_now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kb": self.kb,
            "files": self.files,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "errors": [{"file": f, "message": m} for f, m in self.errors],
            "report": self.report,
            "created_at": self.created_at,
        }


class IngestService:
    def __init__(self, rt: Runtime, upload_root: Path) -> None:
        self.rt = rt
        self.upload_root = upload_root
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="banron-ingest")
        self._jobs: dict[str, IngestJob] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def folder(self, kb: str) -> Path:
        if not KB_NAME.match(kb):
            raise ValueError(f"invalid knowledge base name {kb!r}")
        path = self.upload_root / kb
        path.mkdir(parents=True, exist_ok=True)
        return path

    def get(self, job_id: str) -> IngestJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start(self, kb: str, paths: list[Path], rejected: list[tuple[str, str]], owner_id: int) -> IngestJob:
        job = IngestJob(
            id=uuid.uuid4().hex[:12],
            kb=kb,
            owner_id=owner_id,
            files=[p.name for p in paths] + [name for name, _ in rejected],
            errors=list(rejected),
        )
        with self._lock:
            self._jobs[job.id] = job
        if paths:
            self.executor.submit(self._run, job, paths)
        else:
            job.status = "done" if not rejected else "failed"
        return job

    def _run(self, job: IngestJob, paths: list[Path]) -> None:
        job.status = "running"

        def advance(n: int) -> None:
            job.done += n

        def total(n: int) -> None:
            job.total = n

        try:
            report = self.rt.ingestor().add_paths(job.kb, paths, progress=advance, on_total=total)
        except Exception as e:  # the job must end with a reason, whatever happened
            job.errors.append(("", f"{type(e).__name__}: {e}"))
            job.status = "failed"
            return
        for path, message in report.errors:
            name = Path(path).name
            job.errors.append((name, message.replace(str(Path(path).resolve()), name).replace(path, name)))
        job.report = {
            "documents_added": report.documents_added,
            "documents_updated": report.documents_updated,
            "documents_unchanged": report.documents_unchanged,
            "documents_removed": report.documents_removed,
            "passages_written": report.passages_written,
        }
        ok = report.documents_added or report.documents_updated or report.documents_unchanged
        job.status = "done" if ok or not job.errors else "failed"
