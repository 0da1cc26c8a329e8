"""The small fixed corpus both index contract suites search (Korean and English, stance-labelled)."""

from __future__ import annotations

from banron.kb.loaders import Document

DOCS = [
    Document(
        "d1", "숙제는 학생의 자기주도 학습 습관을 길러 준다.", stance="con", motion="hw", passage_id="p1"
    ),
    Document(
        "d2",
        "과도한 과제는 청소년의 수면 시간을 줄이고 스트레스를 높인다.",
        stance="pro",
        motion="hw",
        passage_id="p2",
    ),
    Document(
        "d3",
        "Daily homework improves retention of what was learned in class.",
        stance="con",
        motion="hw",
        passage_id="p3",
        lang="en",
    ),
    Document(
        "d4",
        "스마트폰 사용 제한 이후 수업 집중도가 높아졌다는 조사 결과가 있다.",
        stance="pro",
        motion="phone",
        passage_id="p4",
    ),
    Document(
        "d5", "주 4일제 시범 기업의 생산성은 떨어지지 않았다.", stance="pro", motion="week", passage_id="p5"
    ),
    Document("d6", "숙제를 줄이면 학생들이 쉴 시간이 늘어난다.", stance="pro", motion="hw", passage_id="p6"),
]
