"""Six informal fallacies in a student's speech, found sentence by sentence.

Two kinds of signal, combined by a small classifier trained on sentences we labelled ourselves
(``judge/data/fallacies.jsonl``, Korean and English; the evaluation set in
``benchmarks/data/ko-fallacy`` is separate and on other motions):

* **cue patterns**: the wording that gives each fallacy away ("…하면 결국 …무너질 것", "둘 중
  하나", "제 친구가 … 그러니 모든 …", "대부분이 … 하니 옳다"); transparent and language-aware;
* **the sentence's meaning**: its e5 vector, so a paraphrase with none of the cue words is still
  close to the labelled examples of its kind.

A multinomial logistic regression (numpy, fitted in well under a second when first used) maps
both to a probability per label, ``none`` included. A speech's sentences and pairs of adjacent
sentences (slippery slopes and generalisations often take two) are scored; the most probable
fallacy above :data:`THRESHOLDS` (per language) is reported with the sentence that commits it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from banron.judge.learn import SoftmaxRegression
from banron.kb.lang import detect_lang

FALLACIES = (
    "ad_hominem",
    "straw_man",
    "slippery_slope",
    "hasty_generalization",
    "false_dilemma",
    "appeal_to_popularity",
)
LABELS = (*FALLACIES, "none")

# A fallacy is reported when its probability reaches the threshold of the sentence's language.
# Korean: chosen by cross-validation on the training sentences (not on the evaluation set).
# English: our English training sentences are few, so at 0.3 about a quarter of ordinary English
# arguments (a sample of IBM ArgQ's train split) were flagged; at 0.7, 4%.
THRESHOLDS = {"ko": 0.3, "en": 0.7}
THRESHOLD = THRESHOLDS["ko"]

NAMES: dict[str, dict[str, str]] = {
    "ad_hominem": {"ko": "인신공격", "en": "ad hominem"},
    "straw_man": {"ko": "허수아비 공격", "en": "straw man"},
    "slippery_slope": {"ko": "미끄러운 비탈길", "en": "slippery slope"},
    "hasty_generalization": {"ko": "성급한 일반화", "en": "hasty generalization"},
    "false_dilemma": {"ko": "흑백논리(잘못된 양자택일)", "en": "false dilemma"},
    "appeal_to_popularity": {"ko": "대중에 호소", "en": "appeal to popularity"},
}

EXPLANATIONS: dict[str, dict[str, str]] = {
    "ad_hominem": {
        "ko": "주장 대신 말하는 사람을 공격했습니다. 상대의 근거가 왜 틀렸는지를 짚어 보세요.",
        "en": "It attacks the speaker instead of the argument. Show why their reasoning fails instead.",
    },
    "straw_man": {
        "ko": "상대 주장을 더 극단적인 주장으로 바꿔 반박했습니다. 상대가 실제로 한 말을 인용하고 답하세요.",
        "en": "It answers an exaggerated version of the other side. Quote what they actually said.",
    },
    "slippery_slope": {
        "ko": "근거 없이 연쇄적인 최악의 결과를 예측했습니다. 각 단계가 왜 일어나는지 근거를 대세요.",
        "en": "It predicts a chain of worst cases without support. Back each step, or claim less.",
    },
    "hasty_generalization": {
        "ko": "몇 가지 사례로 전체를 단정했습니다. 더 넓은 자료나 통계를 제시하세요.",
        "en": "It draws a general rule from a few cases. Bring wider data, or narrow the claim.",
    },
    "false_dilemma": {
        "ko": "선택지가 둘뿐인 것처럼 말했습니다. 다른 대안이 왜 안 되는지 보여 주세요.",
        "en": "It presents two options as the only ones. Show why the alternatives fail.",
    },
    "appeal_to_popularity": {
        "ko": "많은 사람이 믿는다는 것을 근거로 삼았습니다. 그 믿음이 옳은 이유를 대세요.",
        "en": "It treats popularity as proof. Give the reason the popular view is right.",
    },
}

_F = re.IGNORECASE
_PERSON_KO = r"(상대\s*(측|편|방|팀)?|반대\s*측|찬성\s*측|토론자|그\s*사람|저\s*사람|사람들|그들|쪽)"
_CUES: dict[str, list[re.Pattern[str]]] = {
    "ad_hominem": [
        re.compile(
            r"((말할|논할|주장할|나설|이야기할)\s*자격(이|도)\s*없|들을\s*(가치|필요)|무시해도|상식도\s*없|생각이\s*없|인성|위선|이기적|게으른|"
            r"멍청|한심|무식|주제에|할\s*법한\s*(말|주장|소리)|뭘\s*(안다고|알겠|알아)|문제아|중독자|"
            r"거짓말쟁이|철이\s*없|수준\s*(이|낮)|편이라\s*믿|사람이니|사람이라서|사람들일\s*뿐|"
            r"해\s*본\s*적(이|도)\s*없는\s*(사람|어른|분|학생)|말투부터|옷차림)",
            _F,
        ),
        re.compile(
            _PERSON_KO
            + r"[^.?!]{0,25}(이니까|이니|이라서|이라|출신이라|이기\s*때문에)[^.?!]{0,30}(틀|믿|무시|가치)"
        ),
        re.compile(
            r"\b(idiot|stupid|lazy|selfish|liar|hypocrit\w*|ignorant|clueless|too (old|young) to|"
            r"never (held|had|done|worked)|someone like "
            r"(him|her|you|them)|can'?t trust (anything|him|her|them)|"
            r"who (is|are) (he|she|they|you) to|caught cheating)\b",
            _F,
        ),
    ],
    "straw_man": [
        re.compile(
            r"(결국|사실상|한마디로|다시\s*말해|요컨대|즉)[^.?!]{0,50}(자는|라는|다는|하자는)\s*"
            r"(말|것|주장|소리|뜻|이야기|셈)"
        ),
        re.compile(r"(말|주장|소리|것|이야기)(이나|과|와)\s*(다름\s*없|같습니다|같은|마찬가지)"),
        re.compile(r"(자는|라는|다는)\s*(뜻|말|소리|이야기|것)(입니다|이\s*됩니다|일\s*뿐|밖에|으로\s*요약)"),
        re.compile(_PERSON_KO + r"[^.?!]{0,40}(말대로라면|논리(를|대로)\s*(그대로\s*)?따르면|주장대로라면)"),
        re.compile(
            r"((이야기|말|소리|주장)(로|으로)밖에\s*(들리지|보이지|이해되지)|"
            r"(정리하면|요약하면|풀어\s*말하면|바꿔\s*말하면)|"
            r"(말대로|논리대로|주장대로)\s*(하자면|라면|따르면|가면)|"
            r"(자는|라는|다는)\s*(입장|논리|얘기)(입니다|일\s*뿐)|"
            r"(자고|라고|다고)\s*(하고\s*있|말하고\s*있|말하는\s*셈|주장하는\s*셈))"
        ),
        re.compile(
            _PERSON_KO + r"(이|가|은|는)?\s*(말하는|주장하는|하는\s*말은?)\s*것은\s*(결국|사실상|곧|즉)"
        ),
        re.compile(
            r"\b(what (they|he|she|my opponents?|the other side)('re| are| is)? (really )?saying|"
            r"in other words,? (they|he|she)|basically,? (they|he|she)|boils? down to|"
            r"(they|he|she|my opponents?) (want|wants|think|thinks|believe|believes) (that )?"
            r"(nobody|no one|everyone|all|we should never)|which means (they|he|she|my opponent))\b",
            _F,
        ),
    ],
    "slippery_slope": [
        re.compile(
            r"(하면|되면|다면|으면|면서)[^.?!]{0,45}(그러면|그럼|그다음|다음에는|나중에는|결국|끝내|마침내|"
            r"곧|머지않아|언젠가)"
        ),
        re.compile(
            r"(결국|끝내|마침내|나중에는|급기야)[^.?!]{0,40}(망할|망하|무너질|무너지|사라질|사라지|없어질|"
            r"붕괴|혼란|지배|파탄|몰락|아무도|하나도\s*남지)"
        ),
        re.compile(
            r"(도미노|둑이\s*무너|첫걸음|시작하는\s*순간|시작하면|한\s*번\s*\S{0,8}(허용|인정|봐주)|다음은|그다음은)"
        ),
        re.compile(
            r"\b(slippery slope|first step (on|toward|to)|where does it (end|stop)|before long|"
            r"next (thing|they'?ll)|soon\b.{0,50}\b(then|eventually)|eventually|in the end\b.{0,40}"
            r"\b(no|nobody|collapse|lose))\b",
            _F,
        ),
    ],
    "hasty_generalization": [
        re.compile(
            r"(제\s*(친구|동생|형|누나|언니|오빠|사촌|주변|할아버지|할머니|아버지|어머니|이웃|삼촌|이모|고모|"
            r"선배|후배|아는\s*사람)|우리\s*(반|동네|학원|집|가족)|한\s*(명|번|곳|사람|학교|회사|가게)|"
            r"몇\s*(명|번|곳)|두\s*(명|번|곳)|어제|지난\s*주|작년에|옆\s*반|제가\s*(본|아는|겪은|만난)|"
            r"봤는데|들었는데|했더니|물어봤더니|하나\s*봤)"
            r"[^.?!]{0,90}(모든|모두|전부|다\s|누구에게나|누구나|누구든|어디서든|어디나|어느\s*\S+\s*에서나|"
            r"원래|무조건|항상|언제나|늘|전혀|절대|아무것도|예외\s*없이|하나같이|역시|확실)"
        ),
        re.compile(
            r"(이번|이\s*한|그\s*한|하나)[^.?!]{0,30}(으니|니까|니)[^.?!]{0,40}(모든|모두|전부|전혀|무조건)"
        ),
        re.compile(
            r"\b(my (friend|cousin|brother|sister|neighbou?r|uncle|aunt|dad|mom|mother|father)|"
            r"i (saw|know|met) (one|two|a|some)|one (company|person|school|time|study)|once)\b"
            r".{0,90}\b(all|always|never|every\w*|nobody|anywhere|proves?|must)\b",
            _F,
        ),
    ],
    "false_dilemma": [
        re.compile(
            r"(둘\s*중\s*(하나|한\s*가지)|(이\s*)?(둘|두\s*(개|가지|길|선택지?))\s*(뿐|밖에|만\s*있)|"
            r"중간(은|이|에|지점|지대|의\s*길)?\S*\s*(없|존재하지)|"
            r"(다른|그\s*밖의|그\s*외의)\s*(길|방법|선택지?|대안|결과|답|해답|의미|해석)\S*\s*"
            r"(없|있을\s*수\s*없|존재하지|불가능)|"
            r"유일한\s*(방법|길|선택|해결책|답|해답|대안)|말고\s*다른|(이냐|냐)\s*\S+\s*(이냐|냐)|"
            r"외에는\s*(답|방법|길)|하나만\s*(선택|고를)|길밖에\s*(없|남지))"
        ),
        re.compile(
            r"(든지|든가|거나|할지|을지)[^.?!]{0,60}(든지|든가|거나|할지|을지)[^.?!]{0,30}(하나|뿐|선택|결정|골라)"
        ),
        re.compile(
            r"(않으면|않는다면|아니면|반대한다면|않겠다는\s*것은)[^.?!]{0,50}(적입니다|무시하는\s*것|버리는\s*것|"
            r"방치|뒤처질\s*수밖에|될\s*수밖에|아무것도|포기하는\s*것|넘겨주는\s*것|밖에\s*(없|남지))"
        ),
        re.compile(
            r"\b(either\b.{0,70}\bor\b|only two "
            r"(options|choices|ways|possibilities)|no other (way|option|choice)|"
            r"(you are|you're) (either )?with us|or (you are|you're) against|must choose between|"
            r"the only (way|option|solution|alternative)|no middle ground)",
            _F,
        ),
    ],
    "appeal_to_popularity": [
        re.compile(
            r"(대부분|대다수|다들|모두가?|누구나|아무도|하나같이|거의\s*(모두|전부|다)|많은\s*사람|수많은|"
            r"\d+\s*(%|퍼센트|만\s*명|천\s*명)|여론|인기|유행|대세|수십만|수만|공감|좋아요|서명|청원|"
            r"베스트셀러|다른\s*(학교|나라|사람)들?도\s*다|선진국들?은?\s*(모두|다))"
            r"[^.?!]{0,50}(니까|니|으니|하니|므로|때문에|는데|걸\s*보면|만\s*봐도|것\s*자체|사실만)[^.?!]{0,45}"
            r"(옳|맞|정답|틀림없|분명|당연|마땅|확실|증명|증거|근거|사실|좋은|잘못|틀린|틀릴|해로울\s*리|"
            r"효과가\s*있을|말이\s*안|받아들여야)"
        ),
        re.compile(r"(대세를\s*거스|누구나\s*다\s*아는|다들\s*그렇게|모두가\s*그렇게|많은\s*사람들이\s*믿)"),
        re.compile(
            r"\b(most (people|students|voters|parents)|everyone (uses|knows|agrees|does|thinks|wants)|"
            r"millions of people|everybody|all the other "
            r"(schools|countries)|popular|\d+ ?(%|percent) of)\b.{0,70}"
            r"\b(so (it|this) (must|has to)|must be (right|true|fine|wrong|good)|proves?|so we should too|"
            r"has to be (right|true))",
            _F,
        ),
    ],
}


def cue_counts(text: str) -> np.ndarray:
    """How many cue patterns of each fallacy the text matches (order of :data:`FALLACIES`)."""
    return np.array([sum(1 for p in _CUES[f] if p.search(text)) for f in FALLACIES], dtype=np.float32)


def cue_matches(text: str) -> dict[str, list[str]]:
    """The matched cue spans per fallacy, for explanations and debugging."""
    out: dict[str, list[str]] = {}
    for f in FALLACIES:
        hits = [m.group(0) for p in _CUES[f] if (m := p.search(text))]
        if hits:
            out[f] = hits
    return out


CUE_WEIGHT = 2.0  # cue counts are scaled so they weigh against the 384 vector dimensions


def features(vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    cues = np.stack([cue_counts(t) for t in texts]) if texts else np.zeros((0, len(FALLACIES)))
    return np.hstack([vectors, CUE_WEIGHT * np.minimum(cues, 2.0)]).astype(np.float32)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    lang: str


def training_examples() -> list[Example]:
    """The labelled sentences the classifier learns from, all shipped in the package.

    ``judge/data/fallacies.jsonl`` holds the fallacies and ordinary debate sentences; the
    sentences of the bundled evidence packs add a few hundred more ordinary (``none``) ones, so
    that a plain sentence on a topic the examples never mention is not mistaken for a fallacy.
    """
    path = resources.files("banron.judge") / "data" / "fallacies.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            out.append(Example(obj["text"], obj["label"], obj.get("lang", "ko")))
    seen = {e.text for e in out}
    for text, lang in _pack_sentences():
        if text not in seen:
            seen.add(text)
            out.append(Example(text, "none", lang))
    return out


def _pack_sentences() -> list[tuple[str, str]]:
    from banron import content
    from banron.kb.chunking import split_sentences

    out = []
    for path in content.pack_paths():
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            text = obj["text"]
            for start, end in split_sentences(text):
                sentence = " ".join(text[start:end].split())
                if len(sentence) >= 15:
                    out.append((sentence, obj.get("lang", "ko")))
    return out


@dataclass(frozen=True)
class Finding:
    """A fallacy found in a speech: its type, the sentence that commits it, how sure we are."""

    type: str
    sentence: str
    confidence: float
    cues: tuple[str, ...] = ()

    def name(self, lang: str) -> str:
        return NAMES[self.type]["ko" if lang == "ko" else "en"]

    def explanation(self, lang: str) -> str:
        return EXPLANATIONS[self.type]["ko" if lang == "ko" else "en"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "sentence": self.sentence,
            "confidence": round(self.confidence, 3),
        }


class FallacyClassifier:
    """Sentence -> probability of each label in :data:`LABELS`."""

    def __init__(self, model: SoftmaxRegression) -> None:
        self.model = model

    @classmethod
    def fit(cls, vectors: np.ndarray, texts: Sequence[str], labels: Sequence[str]) -> FallacyClassifier:
        y = np.array([LABELS.index(label) for label in labels])
        x = features(vectors, texts)
        # Cue dropout: every example also appears with its cue counts zeroed, so the model learns
        # to recognise a fallacy from its meaning alone when a student words it in a way no cue
        # pattern covers (otherwise the cues, which separate the training set almost perfectly,
        # would carry all the weight).
        dropped = x.copy()
        dropped[:, -len(FALLACIES) :] = 0.0
        model = SoftmaxRegression(n_classes=len(LABELS), l2=1e-2, balanced=True)
        model.fit(np.vstack([x, dropped]), np.concatenate([y, y]))
        return cls(model)

    def proba(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        return self.model.predict_proba(features(vectors, texts))

    def detect(
        self, sentences: Sequence[str], vectors: np.ndarray, threshold: float | None = None
    ) -> list[Finding]:
        """Fallacies in a speech (``vectors``: its sentences'), most confident first, one per type.

        ``threshold`` overrides the per-language :data:`THRESHOLDS`."""
        if not sentences:
            return []
        texts = list(sentences)
        probs = self.proba(vectors, texts)
        best: dict[str, Finding] = {}
        for sentence, p in zip(texts, probs, strict=True):
            k = int(np.argmax(p))
            label = LABELS[k]
            cut = threshold if threshold is not None else THRESHOLDS[detect_lang(sentence)]
            if label == "none" or p[k] < cut:
                continue
            if label not in best or p[k] > best[label].confidence:
                cues = tuple(cue_matches(sentence).get(label, []))
                best[label] = Finding(label, sentence, float(p[k]), cues)
        return sorted(best.values(), key=lambda f: -f.confidence)


MODEL_FILE = resources.files("banron.judge") / "data" / "fallacy_model.npz"


def fingerprint(texts: Sequence[str], labels: Sequence[str]) -> str:
    """Identifies the training data and settings a fitted model came from."""
    blob = json.dumps([list(texts), list(labels), CUE_WEIGHT, LABELS, _pattern_sources()], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _pattern_sources() -> list[str]:
    return [p.pattern for f in FALLACIES for p in _CUES[f]]


def fit_default(embedder_name: str = "e5-small-q4") -> tuple[FallacyClassifier, str]:
    from banron.judge.vectors import bundled_vectors

    examples = training_examples()
    texts, labels = [e.text for e in examples], [e.label for e in examples]
    clf = FallacyClassifier.fit(bundled_vectors(texts, embedder_name), texts, labels)
    return clf, fingerprint(texts, labels)


@lru_cache(maxsize=4)
def _cached_classifier(embedder_name: str) -> FallacyClassifier:
    # Fitting takes a second on an idle machine but ten on a loaded one (many tiny BLAS calls), so
    # the fitted parameters ship in fallacy_model.npz and are used while their fingerprint matches
    # the training data; otherwise the model is fitted here.
    examples = training_examples()
    fp = fingerprint([e.text for e in examples], [e.label for e in examples])
    if embedder_name == "e5-small-q4" and MODEL_FILE.is_file():
        with MODEL_FILE.open("rb") as f, np.load(f) as data:
            if str(data["fingerprint"]) == fp:
                model = SoftmaxRegression(n_classes=len(LABELS))
                model.load_state({k: data[k] for k in ("w", "b", "mean", "scale")})
                return FallacyClassifier(model)
    return fit_default(embedder_name)[0]


def default_classifier(embedder_name: str = "e5-small-q4") -> FallacyClassifier:
    """The classifier fitted on the bundled training sentences (cached per process)."""
    return _cached_classifier(embedder_name)


def save_default(path: Path) -> Path:
    clf, fp = fit_default()
    arrays: dict[str, Any] = {"fingerprint": np.array(fp), **clf.model.state()}
    np.savez_compressed(path, **arrays)
    return path
