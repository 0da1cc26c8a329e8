"""One concrete tip per speech: what to practise next, on the student's own words.

The tip targets the weakest dimension (a fallacy first: it costs the most), quotes the sentence to
rework and says how. Templates are the default; with a chat model (``llm``) the tip is rewritten
by it under a JSON schema, and kept only if it comes back non-empty and in the speech's language
(the embedded 1.5B model writes poor Korean, so the CLI asks it only when you opt in).
"""

from __future__ import annotations

import json
import logging

from banron.judge.fallacies import EXPLANATIONS
from banron.judge.rubric import Rubric
from banron.judge.scorecard import Scorecard
from banron.judge.scorer import quote
from banron.kb.lang import detect_lang
from banron.llm.base import ChatBackend, LLMError, complete

log = logging.getLogger(__name__)

_TIPS = {
    "argument": {
        "ko": "{q} 뒤에 '왜냐하면 ~이기 때문입니다'로 이유를 한 "
        "문장 덧붙이고, 그 결과가 논제와 어떻게 이어지는지 말해 보세요.",
        "en": "After {q}, add one sentence starting with "
        "“because” and say how the result bears on the motion.",
    },
    "evidence": {
        "ko": "{q}를 뒷받침할 출처 있는 수치나 사례를 하나 찾아 '○○ 조사에 따르면 …'으로 덧붙이세요.",
        "en": "Back {q} with one sourced figure or example: “According to …, …”.",
    },
    "clash": {
        "ko": "상대측 주장을 '상대측은 ~라고 했지만'으로 한 번 "
        "인용하고, 왜 틀렸는지와 왜 우리 쪽이 더 중요한지 답해 보세요.",
        "en": "Quote one of the other side's points (“They said …, "
        "but …”), then show why it fails and why yours matters more.",
    },
    "organization": {
        "ko": "입장 한 문장 → '첫째, 둘째'로 논점 두 개 → '따라서'로 "
        "결론, 이 순서로 다시 말해 보세요. 시작은 {q}로 좋습니다.",
        "en": "Rebuild it as: one-line stance → “First… Second…” "
        "→ “Therefore…”. {q} can stay as the opening.",
    },
    "language": {
        "ko": "{q}를 두 문장으로 나누고 구어체 표현을 '~합니다'체로 바꿔 보세요.",
        "en": "Split {q} into two sentences and replace informal words with formal ones.",
    },
}


_EVIDENCE_KINDS = {"number", "source", "example", "citation", "kb"}


def _target_sentence(card: Scorecard, dim: str) -> str:
    """The sentence a tip on ``dim`` should rework: a claim lacking what that dimension asks for."""
    if dim == "evidence":
        lacking = [c.text for c in card.claims if not set(c.support) & _EVIDENCE_KINDS]
    elif dim == "argument":
        lacking = [c.text for c in card.claims if "reason" not in c.support]
    else:
        lacking = []
    if lacking:
        return lacking[0]
    if card.claims:
        return card.claims[0].text
    return card.text.strip().split("\n")[0]


def template_tip(card: Scorecard, rubric: Rubric) -> str:
    lang = "ko" if card.lang == "ko" else "en"
    if card.fallacies:
        f = card.fallacies[0]
        how = EXPLANATIONS[f.type][lang]
        return f"{quote(f.sentence, card.lang)}: {how}"
    # Weakest dimension; among equals, the one that weighs most in this rubric.
    dim = min(rubric.dimensions, key=lambda d: (card.score(d.id), -d.weight)).id
    return _TIPS[dim][lang].format(q=quote(_target_sentence(card, dim), card.lang))


_SCHEMA = {
    "type": "object",
    "properties": {"tip": {"type": "string", "minLength": 10, "maxLength": 400}},
    "required": ["tip"],
}


def llm_tip(card: Scorecard, rubric: Rubric, llm: ChatBackend, fallback: str) -> str:
    """Ask the chat model for one tip; ``fallback`` when it fails or answers in the wrong language."""
    lang = "ko" if card.lang == "ko" else "en"
    weakest = min(rubric.dimensions, key=lambda d: (card.score(d.id), -d.weight))
    facts = {
        "motion": card.motion,
        "side": card.side,
        "speech": card.text,
        "scores": {d.id: card.score(d.id) for d in rubric.dimensions},
        "weakest": weakest.name_en,
        "fallacies": [f.to_dict() for f in card.fallacies],
        "unsupported_claims": card.unsupported_claims,
        "draft_tip": fallback,
    }
    instruction = (
        "당신은 토론 코치입니다. 아래 채점 결과를 보고 학생이 "
        "다음 발언에서 바로 쓸 수 있는 구체적인 조언 하나를 "
        "한국어 두 문장 이내로 쓰세요. 학생의 문장을 인용하세요. JSON으로 답하세요."
        if lang == "ko"
        else "You are a debate coach. From the scores below, write ONE concrete tip the student can use in "
        "their next speech, at most two sentences, quoting their words. Answer in JSON."
    )
    messages = [
        {"role": "system", "content": instruction},
        {"role": "user", "content": json.dumps(facts, ensure_ascii=False)},
    ]
    try:
        reply = complete(llm, messages, max_tokens=160, temperature=0.2, json_schema=_SCHEMA)
        tip = str(json.loads(reply).get("tip", "")).strip()
    except (LLMError, ValueError, TypeError, AttributeError) as e:
        log.info("coach model failed, using the template tip: %s", e)
        return fallback
    if len(tip) < 10 or detect_lang(tip) != lang:
        return fallback
    return tip
