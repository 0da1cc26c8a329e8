"""`banron eval retrieval`: metrics against hand-computed values, and a tiny BEIR dataset end to end."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from banron.cli import app
from banron.domain import Hit, Passage
from banron.evaluation import BeirDataset, evaluate, mrr_at_k, ndcg_at_k, recall_at_k
from banron.evaluation.beir import BuiltIndex, Query, search_mode

runner = CliRunner()


# -- metrics ------------------------------------------------------------------------------------
def test_ndcg_uses_graded_gains_and_the_ideal_from_all_qrels() -> None:
    qrels = {"a": 2, "b": 1, "c": 1}
    # DCG = 1/log2(2) + 0 + 2/log2(4) = 2; IDCG = 2 + 1/log2(3) + 1/log2(4) = 2.5 + 0.6309...
    expected = 2 / (2 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(["b", "x", "a"], qrels) == pytest.approx(expected)
    assert ndcg_at_k(["a", "b", "c"], qrels) == pytest.approx(1.0)
    # The ideal counts relevant documents never retrieved: 1 / (1 + 1/log2(3)).
    assert ndcg_at_k(["a"], {"a": 1, "z": 1}) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    # Only the top k count: a relevant document at rank 11 adds nothing to nDCG@10.
    assert ndcg_at_k([f"x{i}" for i in range(10)] + ["a"], {"a": 1}) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}) == 0.0


def test_recall_counts_only_positive_grades() -> None:
    qrels = {"a": 1, "b": 2, "c": 1, "n": 0}
    assert recall_at_k(["b", "x", "n", "a"], qrels, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["b", "x", "n", "a"], qrels, 10) == pytest.approx(2 / 3)
    assert recall_at_k(["x"], {"n": 0}, 10) == 0.0


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_hit_within_k() -> None:
    assert mrr_at_k(["x", "n", "a"], {"a": 1, "n": 0}) == pytest.approx(1 / 3)
    assert mrr_at_k([f"x{i}" for i in range(10)] + ["a"], {"a": 1}) == 0.0
    assert mrr_at_k([], {"a": 1}) == 0.0


def test_evaluate_averages_over_judged_queries_and_missing_runs_score_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    scores = evaluate({"q1": ["x", "a"], "unjudged": ["b"]}, qrels)
    assert scores["mrr@10"] == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert scores["recall@100"] == pytest.approx(0.5)
    assert scores["ndcg@10"] == pytest.approx((1 / math.log2(3)) / 2)


# -- a tiny dataset -----------------------------------------------------------------------------
MOTION_HW, MOTION_PH = "homework-ban", "phone-ban"
CORPUS = [
    ("hw-pro-1", "", "숙제는 학생의 수면 시간을 줄이고 스트레스를 높인다.", "pro", MOTION_HW),
    (
        "hw-pro-2",
        "Homework and play",
        "Hours of homework leave children no time to play or rest.",
        "pro",
        MOTION_HW,
    ),
    ("hw-con-1", "", "숙제는 배운 내용을 복습하게 해서 기억을 오래 유지하게 돕는다.", "con", MOTION_HW),
    (
        "hw-con-2",
        "Practice",
        "Homework practice at home improves retention of lessons learned in class.",
        "con",
        MOTION_HW,
    ),
    (
        "hw-neu-1",
        "",
        "Surveys report very different amounts of homework across countries.",
        "neutral",
        MOTION_HW,
    ),
    ("ph-pro-1", "", "스마트폰 사용을 제한한 학교에서 수업 집중도가 높아졌다.", "pro", MOTION_PH),
    ("ph-pro-2", "", "Phones in class distract students and lower test scores.", "pro", MOTION_PH),
    ("ph-con-1", "", "스마트폰은 비상시 학생이 부모에게 연락할 수 있게 해 준다.", "con", MOTION_PH),
    (
        "ph-con-2",
        "",
        "Phones are learning tools: dictionaries, calculators and research in one device.",
        "con",
        MOTION_PH,
    ),
    ("other-1", "", "Tidal power stations change the coastline and harm estuary wildlife.", "neutral", ""),
]
QUERIES = [
    # (id, text, side of the speaker, motion, relevant docs with grades)
    ("q1", "숙제는 수면을 빼앗고 스트레스를 준다.", "pro", MOTION_HW, {"hw-con-1": 2, "hw-con-2": 1}),
    ("q2", "Homework steals the time children need for rest.", "pro", MOTION_HW, {"hw-con-2": 1}),
    ("q3", "휴대폰은 수업 집중을 방해한다.", "pro", MOTION_PH, {"ph-con-2": 1, "ph-con-1": 1}),
    ("q4", "Phones are useful learning tools in the classroom.", "con", MOTION_PH, {"ph-pro-2": 1}),
]


def write_beir(root: Path, *, gz: bool = False, qrels: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = "\n".join(
        json.dumps({"_id": i, "title": t, "text": x, "stance": s, "motion": m}, ensure_ascii=False)
        for i, t, x, s, m in CORPUS
    )
    if gz:
        with gzip.open(root / "corpus.jsonl.gz", "wt", encoding="utf-8") as f:
            f.write(lines + "\n")
    else:
        (root / "corpus.jsonl").write_text(lines + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text(
        "\n".join(
            json.dumps({"_id": q, "text": x, "side": s, "motion": m}, ensure_ascii=False)
            for q, x, s, m, _ in QUERIES
        )
        + "\n"
        + json.dumps({"_id": "unjudged", "text": "never evaluated"})
        + "\n",
        encoding="utf-8",
    )
    if qrels:
        (root / "qrels").mkdir(exist_ok=True)
        rows = [f"{q}\t{d}\t{g}" for q, *_, rel in QUERIES for d, g in rel.items()]
        (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    return root


def run_eval(*args: str) -> dict:
    out = Path(args[args.index("--beir") + 1]) / "out.json"
    result = runner.invoke(app, ["eval", "retrieval", *args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_cli_reports_every_mode_including_stance_aware_search(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "tiny")
    data = run_eval("--beir", str(root), "--processes", "1")
    assert data["corpus"] == len(CORPUS)
    assert data["queries"] == len(QUERIES)
    assert set(data["modes"]) == {"lexical", "dense", "hybrid", "hybrid+stance"}
    for mode, scores in data["modes"].items():
        for metric in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
            assert 0.0 <= scores[metric] <= 1.0, (mode, metric)
        assert scores["qps"] > 0
    # Every relevant document is an answer from the other side of the same motion, so searching
    # as a debate does (that side's passages first) can only help here.
    assert data["modes"]["hybrid+stance"]["recall@10"] == 1.0
    assert data["modes"]["hybrid+stance"]["ndcg@10"] >= data["modes"]["hybrid"]["ndcg@10"] - 1e-9
    assert data["index"]["reused"] is False

    again = run_eval("--beir", str(root), "--mode", "hybrid", "--limit-queries", "2")
    assert again["index"]["reused"] is True
    assert again["queries"] == 2 and set(again["modes"]) == {"hybrid"}


def test_gzipped_corpus_gives_the_same_scores(tmp_path: Path) -> None:
    plain = run_eval("--beir", str(write_beir(tmp_path / "plain")), "--mode", "lexical")
    gz = run_eval("--beir", str(write_beir(tmp_path / "gz", gz=True)), "--mode", "lexical")
    assert gz["corpus"] == len(CORPUS)
    assert {k: v for k, v in gz["modes"]["lexical"].items() if k != "qps"} == {
        k: v for k, v in plain["modes"]["lexical"].items() if k != "qps"
    }


def test_missing_qrels_is_a_clear_error(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "noqrels", qrels=False)
    result = runner.invoke(app, ["eval", "retrieval", "--beir", str(root)])
    assert result.exit_code != 0
    message = "".join(result.output.split())  # rich wraps long paths
    assert str(root / "qrels" / "test.tsv") in message and "nosuchfile" in message
    assert "Traceback" not in result.output


def test_stance_mode_needs_labels(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text('{"_id": "d1", "text": "solar panels"}\n')
    (root / "queries.jsonl").write_text('{"_id": "q1", "text": "solar"}\n')
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    assert set(run_eval("--beir", str(root), "--mode", "lexical")["modes"]) == {"lexical"}
    result = runner.invoke(app, ["eval", "retrieval", "--beir", str(root), "--mode", "hybrid+stance"])
    assert result.exit_code != 0 and "stance" in result.output


# -- ignore-identical-ids -----------------------------------------------------------------------
def test_ignore_identical_ids_drops_the_query_itself(tmp_path: Path) -> None:
    root = tmp_path / "arguana-like"
    (root / "qrels").mkdir(parents=True)
    docs = [
        {"_id": "arg1", "text": "Tidal energy subsidies protect the coastal climate."},
        {"_id": "arg1-counter", "text": "Tidal energy subsidies wreck coastal estuaries and their wildlife."},
        {"_id": "other", "text": "School uniforms reduce bullying."},
    ]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    (root / "queries.jsonl").write_text(json.dumps(docs[0]) + "\n")  # the query is also a document
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\narg1\targ1-counter\t1\n")
    kept = run_eval("--beir", str(root), "--mode", "lexical")["modes"]["lexical"]
    dropped = run_eval("--beir", str(root), "--mode", "lexical", "--ignore-identical-ids")["modes"]["lexical"]
    assert kept["mrr@10"] == pytest.approx(0.5)  # the query itself ranks first
    assert dropped["mrr@10"] == pytest.approx(1.0)


class _FakeRetriever:
    """Returns the query's own document first, then chunked documents d0..d199 (two chunks each)."""

    def __init__(self) -> None:
        self.top_ks: list[int] = []

    def search(self, query: str, kbs: list[str], *, top_k: int, mode: str) -> list[Hit]:
        self.top_ks.append(top_k)
        ids = [("q", "q")] + [(f"d{i}#{c}", f"d{i}") for i in range(200) for c in (1, 2)]
        return [
            Hit(Passage(pid, "kb", "t", doc_id=doc), 1.0 / n) for n, (pid, doc) in enumerate(ids[:top_k], 1)
        ]


def test_identical_ids_are_dropped_before_cutting_to_depth_and_chunks_collapse() -> None:
    dataset = BeirDataset("fake", Path("."), Path("."), [], [Query("q", "q")], {"q": {"d99": 1, "d100": 1}})
    built = BuiltIndex(None, "kb", documents=201, passages=401, seconds=0.0, reused=True)  # type: ignore[arg-type]
    fake = _FakeRetriever()
    rankings, _ = search_mode(fake, built, dataset, "lexical", ignore_identical_ids=True)  # type: ignore[arg-type]
    assert rankings["q"] == [f"d{i}" for i in range(100)]  # 100 distinct documents, the query gone
    rankings, _ = search_mode(fake, built, dataset, "lexical", ignore_identical_ids=False)  # type: ignore[arg-type]
    assert rankings["q"][0] == "q" and len(rankings["q"]) == 100


class _DepthSensitiveRetriever:
    """Like hybrid fusion: a search for more passages ranks them differently (here: reversed)."""

    def __init__(self) -> None:
        self.top_ks: list[int] = []

    def search(self, query: str, kbs: list[str], *, top_k: int, mode: str) -> list[Hit]:
        self.top_ks.append(top_k)
        docs = [f"d{i}" for i in range(150)]
        if top_k > 50:
            docs = docs[:20][::-1] + docs[20:]
        return [Hit(Passage(d, "kb", "t", doc_id=d), 1.0 / n) for n, d in enumerate(docs[:top_k], 1)]


def test_the_first_ten_ranks_come_from_a_search_for_ten_as_a_debate_runs_it() -> None:
    dataset = BeirDataset("fake", Path("."), Path("."), [], [Query("q", "q")], {"q": {"d0": 1}})
    built = BuiltIndex(None, "kb", documents=150, passages=150, seconds=0.0, reused=True)  # type: ignore[arg-type]
    fake = _DepthSensitiveRetriever()
    rankings, _ = search_mode(fake, built, dataset, "hybrid", ignore_identical_ids=True)  # type: ignore[arg-type]
    assert fake.top_ks[0] == 11  # ten documents, and one more in case the query's own is among them
    ranking = rankings["q"]
    assert ranking[:10] == [f"d{i}" for i in range(10)]  # the shallow search's order, not the deep one's
    assert len(ranking) == 100 and len(set(ranking)) == 100
    assert ranking[10:20] == [f"d{i}" for i in range(19, 9, -1)]  # then the deep search's, minus the ten
