"""Many students at once: N concurrent debates through the HTTP API against one `banron serve`.

Starts `banron serve` in a subprocess on a fresh BANRON_HOME with the fake model streaming a fixed
reply at a realistic pace (``llm.fake.tokens_per_s``, default 20 words/s) and ``debate.style=llm``,
so every banron speech spends real wall-clock time "in the model". Each of N students (own account,
own bearer token) starts a free-sparring debate and then loops for the bounded time: submit a
speech (``POST /api/debates/{id}/turns``), then stream banron's answer (``POST .../speak``, SSE).
Every speech is two or three claims no other speech of the run repeats (``student_speech``), so
each is embedded and tokenized afresh, as a class's speeches are; ``--repeat-texts`` cycles four
fixed speeches instead (what runs before 2026-11-28's evening did: mostly cache hits).

What is measured, per banron speech:

- ``queued_ms`` (server): how long the speech waited for one of the web app's engine threads
  (``--engine-threads``, the server's ``debate.parallel_speeches``: 8 by default with an API or the
  fake model, 1 with the embedded one); beyond that many, concurrent debates queue;
- ``worked_ms`` (server): how long the engine then took for the speech;
- model time: the fake's known pace times the words it streamed (one model call per free-sparring
  rebuttal at ``style=llm``; the script checks this on a warm-up speech before the run);
- **overhead** = worked - model: retrieval, claim linking, citation checks, the SQLite commit;
- client total, and the student's submit latency (which includes its own queueing).

And per student turn (``POST .../turns``), from its ``Server-Timing`` header: how long it queued for
an engine thread and how long the engine worked on it (claims extracted and linked, which runs the
e5 encoder, and the commit). That work is turn overhead too: the "every turn" row puts both together.

By default every student submits the moment banron's answer ends, all fifty starting in the same
instant. The fake model's speeches all last the same 2.0 s, so the debates then stay in step and
their turns keep arriving in waves. ``--think S`` has each student pause a random 0-S seconds
before every speech (reading the answer, typing), which breaks the waves; a real student pauses
for minutes, so at either setting each simulated student stands in for several real ones. The
first speech of each debate is also reported apart (it embeds the student's first claims, which
later speeches find already embedded at submit).

With ``--think``, each speech is first sent as a draft (``POST .../draft``) when the pause begins,
as the debate page sends what is written when typing stops; the server embeds its claims while
the student pauses, and the submit finds them ready. ``--no-drafts`` leaves the drafts out (as
pages before them). The drafts' own latency is reported but is not turn overhead: nobody waits
for a draft.

Also: errors (non-2xx other than 429, SSE ``error`` events, transport errors), turns/s, server RSS.
The debate store is SQLite unless BANRON_STORE__DATABASE_URL is set in the environment (it is passed
on to the server); the output says which. Figures so far are SQLite only.

``--workers K`` starts K ``banron serve`` processes on the same home, as ``docs/deploy.md`` runs
them behind nginx, and sends each debate to one of them (debate i to worker i mod K: a sticky
route, like nginx's hash of the debate id). ``--engine-threads`` is then per worker, so
``--workers 2 --engine-threads 4`` writes as many speeches at once as one worker with 8, on two
interpreters instead of one. RSS is the sum over the workers.

    python benchmarks/load.py [--debates 50] [--seconds 300] [--tokens-per-s 20] [--reply-words 40]
                              [--engine-threads 8] [--workers 1] [--repeat-texts] [--think 0] [--no-drafts]
                              [--json benchmarks/results/load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from banron.web.launch import ServeError, start_serve

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
MOTION = "phone-ban"
SPEECHES = [
    "스마트폰은 수업 시간에 학생들의 집중력을 떨어뜨립니다. 또한 사이버 폭력의 주요 통로가 되고 있습니다.",
    "비상 연락은 학교 전화로 충분합니다. 수업에 필요한 기기는 학교 태블릿으로 대신할 수 있습니다.",
    "스마트폰 중독은 청소년의 수면 시간을 줄입니다. 학교가 금지하면 쉬는 시간에 친구와 대화가 늘어납니다.",
    "여러 나라의 학교가 이미 휴대폰을 금지했고 성적이 올랐습니다. 규칙이 분명하면 교사의 지도도 쉬워집니다.",
]
# Every student writes their own sentences: a class never repeats one, so the embedder's and the
# tokenizer's memories of recent texts (which serve one debate's own claims) must not serve the
# whole benchmark. Each speech is two or three of these claims, their slots filled per student
# and turn (``student_speech``); ``--repeat-texts`` cycles SPEECHES instead, as runs before
# 2026-11-28 (evening) did.
CLAIMS = [
    "{school} 학생 {n}명에게 물어보니 {pct}%가 수업 중 휴대폰 알림 때문에 집중이 끊긴다고 답했습니다.",
    "휴대폰을 걷은 뒤 {school} {grade}학년 {n}명의 수학 평균이 {pct}점 올랐다는 결과가 있습니다.",
    "쉬는 시간 {minutes}분 동안 휴대폰만 보는 학생이 {n}명 중 절반이라 친구와 대화하는 시간이 줄어듭니다.",
    "단체 대화방에서 생긴 따돌림 때문에 {school}에서는 {n}명 가운데 {pct}명이 상담을 받았습니다.",
    "밤늦게까지 휴대폰을 쓰는 {grade}학년 학생 {n}명은 평균 수면 시간이 {minutes}분 짧았습니다.",
    "비상 연락은 교무실 전화로 충분하고, 학생 {n}명인 {school}은 몇 년째 그렇게 운영합니다.",
    "수업에 필요한 검색은 학교 태블릿으로 대신할 수 있으니 {n}명 모두 개인 휴대폰이 필요 없습니다.",
    "{city}의 학교들이 휴대폰을 금지한 뒤 교사 {n}명 중 {pct}%가 수업 분위기가 좋아졌다고 말했습니다.",
    "규칙이 학교마다 다르면 {grade}학년 담임 선생님들이 학생 {n}명과 매일 {minutes}분씩 실랑이를 합니다.",
    "휴대폰 게임에 하루 {minutes}분 이상 쓰는 학생이 {school} {n}명 중 {pct}%나 됩니다.",
    "시험 기간에 휴대폰을 맡긴 {school} 학생 {n}명은 공부 시간이 하루 {grade}시간 늘었다고 답했습니다.",
    "{city} 교육청 자료를 보면 휴대폰 관련 교권 침해가 작년에 {n}건이나 보고되었습니다.",
]
SLOTS = {
    "school": [
        f"{name}{kind}"
        for name in ("한빛", "새솔", "푸른", "미래", "다온", "가람", "누리", "해솔")
        for kind in ("중학교", "고등학교", "여자고등학교")
    ],
    "city": ["서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "수원", "전주"],
}


def student_speech(student: int, turn: int) -> str:
    """Student ``student``'s ``turn``-th speech: two or three claims no other speech repeats."""
    rng = random.Random(student * 100_003 + turn)
    picks = rng.sample(CLAIMS, 2 + (student + turn) % 2)
    out = []
    for j, claim in enumerate(picks):
        out.append(
            claim.format(
                school=rng.choice(SLOTS["school"]),
                city=rng.choice(SLOTS["city"]),
                grade=1 + (student + j) % 3,
                pct=10 + (student * 7 + turn * 3 + j) % 80,
                # one number per student, turn and place: every sentence of the run is new
                n=100 + j + 3 * (student + 1000 * turn),
                minutes=15 + (student * 11 + turn * 5 + j * 3) % 90,
            )
        )
    return " ".join(out)


# What the fake "model" says: Korean sentences without citations (the checker keeps or drops them;
# either way the words were streamed at the model's pace).
REPLY_SENTENCES = [
    "그 주장은 학생의 자율성을 지나치게 과소평가합니다.",
    "금지보다 올바른 사용 교육이 더 효과적이라는 점을 먼저 보아야 합니다.",
    "비상 상황에서 학생과 보호자가 바로 연락할 수 있어야 합니다.",
    "수업에 필요한 도구를 모두 빼앗는 것은 배움의 기회를 줄입니다.",
    "규칙을 함께 정하는 학교에서는 문제가 더 적게 나타납니다.",
]


def fake_reply(words: int) -> str:
    out: list[str] = []
    i = 0
    while sum(len(s.split()) for s in out) < words:
        out.append(REPLY_SENTENCES[i % len(REPLY_SENTENCES)])
        i += 1
    text = " ".join(out).split()[:words]
    return " ".join(text).rstrip(".") + "."


def pieces(reply: str) -> int:
    """How many pieces the fake backend streams for ``reply`` (one sleep of 1/pace before each)."""
    return len(re.findall(r"\S+\s*|\s+", reply))


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    k = max(0, min(len(xs) - 1, round(q / 100 * (len(xs) - 1))))
    return xs[k]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# -- the server ---------------------------------------------------------------------------------
def add_students(home: Path, n: int) -> list[str]:
    """n student accounts with API tokens, written straight into the accounts store the servers will
    use (PostgreSQL when BANRON_STORE__DATABASE_URL is set)."""
    from banron.config import load_settings
    from banron.store import open_accounts
    from banron.web.passwords import hash_password, new_token, token_hash

    store = open_accounts(load_settings(home=home))
    digest = hash_password("load benchmark password")
    tokens = []
    for i in range(n):
        user = store.add_user(name=f"student{i:03d}", role="student", password_hash=digest)
        token = new_token("brn_")
        store.set_api_token(user_id=user.id, token_hash=token_hash(token))
        tokens.append(token)
    return tokens


def start_server(
    home: Path, reply: str, tokens_per_s: float, engine_threads: int
) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "BANRON_HOME": str(home),
        "BANRON_LLM__BACKEND": "fake",
        "BANRON_LLM__FAKE__REPLY": reply,
        "BANRON_LLM__FAKE__TOKENS_PER_S": str(tokens_per_s),
        "BANRON_DEBATE__STYLE": "llm",
        "BANRON_DEBATE__PARALLEL_SPEECHES": str(engine_threads),
    }
    try:
        return start_serve(env)
    except ServeError as e:
        raise SystemExit(str(e)) from None


# -- the students -------------------------------------------------------------------------------
@dataclass
class Stats:
    speeches: list[dict[str, float]] = field(default_factory=list)  # one per completed banron speech
    submits_ms: list[float] = field(default_factory=list)  # client side, queueing included
    submit_timings: list[dict[str, float]] = field(default_factory=list)  # server side: queued, worked
    errors: list[str] = field(default_factory=list)
    rate_limited: int = 0
    debates_started: int = 0
    drafts_ms: list[float] = field(default_factory=list)  # client side, each draft the server read
    drafts_unread: int = 0  # drafts the server could not read then (busy debate)


def server_timing(header: str) -> dict[str, float]:
    """``queued;dur=1.5, worked;dur=20`` -> {"queued": 1.5, "worked": 20.0} (RFC: Server-Timing)."""
    out = {}
    for metric in header.split(","):
        name, _, params = metric.strip().partition(";")
        m = re.search(r"(?:^|;)\s*dur=([0-9.]+)", params)
        if name and m:
            out[name.strip()] = float(m.group(1))
    return out


async def send_draft(
    client: httpx.AsyncClient, url: str, text: str, headers: dict[str, str], stats: Stats
) -> None:
    """POST the speech as a draft, as the debate page does while the student writes: the server
    starts embedding its claims. A draft is a hint, so anything but a read draft is only counted."""
    t0 = time.perf_counter()
    r = await client.post(url, json={"text": text}, headers=headers)
    if r.status_code == 202 and r.json().get("read"):
        stats.drafts_ms.append((time.perf_counter() - t0) * 1000)
    else:
        stats.drafts_unread += 1


async def speak(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """Stream banron's answer; returns the done event's timings, the client times and any error."""
    t0 = time.perf_counter()
    first: float | None = None
    event, out, error = "", {}, None
    async with client.stream("POST", url, headers=headers) as r:
        if r.status_code != 200:
            await r.aread()
            return {"error": f"speak HTTP {r.status_code}: {r.text[:200]}"}
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "piece" and first is None:
                    first = time.perf_counter()
                elif event == "error":
                    error = f"speech error event: {data.get('message')}"
                elif event == "done":
                    out = data
    t1 = time.perf_counter()
    return {
        **out,
        "client_ms": (t1 - t0) * 1000,
        "first_piece_ms": ((first or t1) - t0) * 1000,
        "error": error,
    }


async def student(
    i: int,
    base: str,
    token: str,
    stop_at: float,
    stats: Stats,
    model_ms: float,
    timeout: float,
    max_turns: int | None = None,
    repeat_texts: bool = False,
    think: float = 0.0,
    drafts: bool = True,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    pause = random.Random(i)  # the same pauses on every run
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as client:
        try:
            r = await client.post(
                "/api/debates",
                json={"motion_id": MOTION, "format": "free", "side": "pro", "lang": "ko"},
                headers=headers,
            )
            if r.status_code != 201:
                stats.errors.append(f"create HTTP {r.status_code}: {r.text[:200]}")
                return
            stats.debates_started += 1
            debate = r.json()["id"]
            k = i
            while time.monotonic() < stop_at and (max_turns is None or len(stats.speeches) < max_turns):
                text = SPEECHES[k % len(SPEECHES)] if repeat_texts else student_speech(i, k - i)
                if think:
                    if drafts:  # the page sends what is written when the student stops typing
                        await send_draft(client, f"/api/debates/{debate}/draft", text, headers, stats)
                    await asyncio.sleep(pause.uniform(0, think))
                    if time.monotonic() >= stop_at:
                        break
                t0 = time.perf_counter()
                r = await client.post(f"/api/debates/{debate}/turns", json={"text": text}, headers=headers)
                if r.status_code == 429:
                    stats.rate_limited += 1
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                    continue
                if r.status_code != 201:
                    stats.errors.append(f"turn HTTP {r.status_code}: {r.text[:200]}")
                    return
                stats.submits_ms.append((time.perf_counter() - t0) * 1000)
                timing = server_timing(r.headers.get("server-timing", ""))
                if set(timing) >= {"queued", "worked"}:
                    stats.submit_timings.append(timing)
                first = k == i
                k += 1
                res = await speak(client, f"/api/debates/{debate}/speak", headers)
                if res.get("error"):
                    stats.errors.append(str(res["error"]))
                    return
                res["model_ms"] = model_ms
                res["overhead_ms"] = res["worked_ms"] - model_ms
                res["ended"] = time.monotonic()
                res["first"] = first
                stats.speeches.append(res)
        except httpx.HTTPError as e:
            if time.monotonic() < stop_at:  # cut off at the end of the run is not an error
                stats.errors.append(f"{type(e).__name__}: {e}")


async def run(
    bases: list[str],
    tokens: list[str],
    seconds: float,
    model_ms: float,
    pids: list[int],
    repeat_texts: bool = False,
    think: float = 0.0,
    drafts: bool = True,
) -> dict[str, Any]:
    """Warm every worker up, then run ``len(tokens) - len(bases)`` students for ``seconds``."""
    # Warm-up (excluded): a worker's first speech loads the embedder and the evidence into memory.
    warm = Stats()
    for w, base in enumerate(bases):
        await student(
            100_000 + w, base, tokens[w], time.monotonic() + 600, warm, model_ms, 600, w + 1, repeat_texts
        )
    if warm.errors or len(warm.speeches) != len(bases):
        raise SystemExit(f"warm-up failed: {warm.errors}")
    if min(s["worked_ms"] for s in warm.speeches) < model_ms:
        raise SystemExit("the fake model was not called (worked < model time): overhead would be wrong")
    warm_overhead = max(s["overhead_ms"] for s in warm.speeches)
    students = tokens[len(bases) :]

    stats = Stats()
    rss: list[float] = []
    start = time.monotonic()
    stop_at = start + seconds

    async def sample_rss() -> None:
        while time.monotonic() < stop_at:
            rss.append(sum(rss_mb(pid) for pid in pids))
            await asyncio.sleep(1.0)

    # A queued speech can wait (debates / threads x speech time) for an engine thread; the client
    # waits too, and stops a grace period after the run's end (unfinished speeches are reported).
    tasks = [
        asyncio.create_task(
            student(
                i + 1,
                bases[i % len(bases)],
                tok,
                stop_at,
                stats,
                model_ms,
                timeout=seconds + 600,
                repeat_texts=repeat_texts,
                think=think,
                drafts=drafts,
            )
        )
        for i, tok in enumerate(students)
    ]
    sampler = asyncio.create_task(sample_rss())
    await asyncio.sleep(seconds)
    grace = 30.0
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await sampler
    rss.append(sum(rss_mb(pid) for pid in pids))
    in_window = [s for s in stats.speeches if s["ended"] <= stop_at]
    return {
        "stats": stats,
        "in_window": in_window,
        "unfinished_at_end": len(pending),
        "rss": rss,
        "warm_overhead_ms": warm_overhead,
        "warm_worked_ms": max(s["worked_ms"] for s in warm.speeches),
    }


def store_label() -> str:
    if os.environ.get("BANRON_STORE__DATABASE_URL"):
        return "postgresql (BANRON_STORE__DATABASE_URL)"
    return "sqlite (no PostgreSQL debate store configured)"


def summarize(args: argparse.Namespace, model_ms: float, res: dict[str, Any]) -> dict[str, Any]:
    stats: Stats = res["stats"]
    sp = res["in_window"]

    def col(key: str, speeches: list[dict[str, Any]] = sp) -> list[float]:
        return [float(s[key]) for s in speeches]

    submit_worked = [t["worked"] for t in stats.submit_timings]

    def dist(values: list[float]) -> dict[str, float | None]:
        return {
            "p50": pct(values, 50),
            "p99": pct(values, 99),
            "max": max(values) if values else None,
            "mean": statistics.fmean(values) if values else None,
        }

    return {
        "debates": args.debates,
        "seconds": args.seconds,
        "tokens_per_s": args.tokens_per_s,
        "reply_words": args.reply_words,
        "model_ms_per_speech": model_ms,
        "store": store_label(),
        "engine_threads": args.engine_threads,
        "workers": args.workers,
        "student_texts": "repeated" if args.repeat_texts else "unique",
        "think_s": args.think,
        "drafts": bool(args.think) and not args.no_drafts,
        "drafts_read": len(stats.drafts_ms),
        "drafts_unread": stats.drafts_unread,
        "draft_ms": dist(stats.drafts_ms),
        "debates_started": stats.debates_started,
        "banron_turns": len(sp),
        "student_turns": len(stats.submits_ms),
        "turns_per_s": len(sp) / args.seconds,
        "errors": len(stats.errors),
        "error_samples": stats.errors[:10],
        "rate_limited": stats.rate_limited,
        "unfinished_at_end": res["unfinished_at_end"],
        "overhead_ms": dist(col("overhead_ms")),
        "worked_ms": dist(col("worked_ms")),
        "queued_ms": dist(col("queued_ms")),
        "client_ms": dist(col("client_ms")),
        "first_piece_ms": dist(col("first_piece_ms")),
        "submit_ms": dist(stats.submits_ms),
        "submit_queued_ms": dist([t["queued"] for t in stats.submit_timings]),
        "submit_worked_ms": dist(submit_worked),
        "overhead_later_speeches_ms": dist(col("overhead_ms", [s for s in sp if not s["first"]])),
        "turn_overhead_ms": dist(col("overhead_ms") + submit_worked),
        "overhead_samples_ms": [round(v, 1) for v in col("overhead_ms")],
        "warmup_overhead_ms": res["warm_overhead_ms"],
        "rss_mb": {"max": max(res["rss"], default=0.0), "end": res["rss"][-1] if res["rss"] else 0.0},
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debates", type=int, default=50, help="concurrent debates (one student each)")
    ap.add_argument("--seconds", type=float, default=300.0, help="length of the measured run")
    ap.add_argument("--tokens-per-s", type=float, default=20.0, help="the fake model's pace")
    ap.add_argument("--reply-words", type=int, default=40, help="words the fake model says per speech")
    ap.add_argument("--engine-threads", type=int, default=8, help="each server's debate.parallel_speeches")
    ap.add_argument("--workers", type=int, default=1, help="banron serve processes, debates spread over them")
    ap.add_argument(
        "--repeat-texts",
        action="store_true",
        help="every student cycles the same four speeches (cache hits), as runs before the unique texts",
    )
    ap.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="each student pauses a random 0 to this many seconds before every speech (0: none)",
    )
    ap.add_argument(
        "--no-drafts",
        action="store_true",
        help="with --think: do not send the speech as a draft before the pause (as pages before drafts)",
    )
    ap.add_argument("--json", type=Path, default=RESULTS / "load.json")
    args = ap.parse_args()
    if args.workers < 1 or args.engine_threads < 1:
        ap.error("--workers and --engine-threads must be at least 1")
    if not 0 <= args.think < args.seconds:
        ap.error("--think must be at least 0 and shorter than --seconds")

    reply = fake_reply(args.reply_words)
    model_ms = pieces(reply) / args.tokens_per_s * 1000
    console = Console()
    with tempfile.TemporaryDirectory(prefix="banron-load-") as tmp:
        home = Path(tmp)
        tokens = add_students(home, args.debates + args.workers)  # one per worker for its warm-up
        servers: list[tuple[subprocess.Popen[str], str]] = []
        try:
            for _ in range(args.workers):
                servers.append(start_server(home, reply, args.tokens_per_s, args.engine_threads))
            where = ", ".join(f"{base} (pid {proc.pid})" for proc, base in servers)
            console.print(
                f"banron serve at {where}; {args.debates} debates for {args.seconds:.0f} s; "
                f"fake model {args.tokens_per_s:g} words/s, {model_ms / 1000:.1f} s per speech; "
                f"student texts {'repeated' if args.repeat_texts else 'unique'}; "
                f"{f'students pause 0-{args.think:g} s before each speech' if args.think else 'no pauses'}"
                f"{', sending it as a draft first' if args.think and not args.no_drafts else ''}; "
                f"store: {store_label()}"
            )
            bases = [base for _, base in servers]
            pids = [p.pid for p, _ in servers]
            texts, drafts = args.repeat_texts, not args.no_drafts
            res = asyncio.run(run(bases, tokens, args.seconds, model_ms, pids, texts, args.think, drafts))
        finally:
            for proc, _ in servers:
                proc.kill()
                proc.wait()
    out = summarize(args, model_ms, res)

    def ms(d: dict[str, float | None], k: str) -> str:
        v = d.get(k)
        return "-" if v is None else f"{v:,.0f}"

    store = store_label().split()[0]
    threads = f"{args.engine_threads} engine thread" + ("s" if args.engine_threads != 1 else "")
    if args.workers > 1:
        threads = f"{args.workers} workers x {threads}"
    table = Table(title=f"load: {args.debates} debates, {args.seconds:.0f} s, {store}, {threads}")
    table.add_column("per turn (ms)")
    for k in ("p50", "p99", "max"):
        table.add_column(k, justify="right")
    for label, key in [
        ("every turn: overhead or submit work", "turn_overhead_ms"),
        ("speech overhead (worked - model)", "overhead_ms"),
        ("  past each debate's first speech", "overhead_later_speeches_ms"),
        ("submit: engine work", "submit_worked_ms"),
        ("speech: engine work incl. model", "worked_ms"),
        ("speech: queued for an engine thread", "queued_ms"),
        ("speech: client request to first words", "first_piece_ms"),
        ("speech: client request to done", "client_ms"),
        ("submit: queued for an engine thread", "submit_queued_ms"),
        ("client: submit (incl. queue)", "submit_ms"),
        ("client: draft, read by the server", "draft_ms"),
    ]:
        table.add_row(label, *(ms(out[key], k) for k in ("p50", "p99", "max")))
    console.print(table)
    console.print(
        f"banron turns {out['banron_turns']} ({out['turns_per_s']:.2f}/s), student turns "
        f"{out['student_turns']}, errors {out['errors']}, rate-limited {out['rate_limited']}, "
        f"unfinished at the end {out['unfinished_at_end']}, model {model_ms:.0f} ms/speech, "
        f"server RSS max {out['rss_mb']['max']:.0f} MB"
        + (f", drafts read {out['drafts_read']} / not read {out['drafts_unread']}" if out["drafts"] else "")
    )
    for e in out["error_samples"]:
        console.print(f"  error: {e}", markup=False)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
