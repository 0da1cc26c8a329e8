"""A deterministic scripted backend for tests and ``--llm fake`` demos.

Replies are fixed (one string), cycling (a list), or computed (a function of the messages);
``enqueue`` pushes one-off replies that are used first. Text streams word by word.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from banron.llm.base import Message
from banron.llm.registry import register

if TYPE_CHECKING:
    from banron.config import Settings

Reply = str | Sequence[str] | Callable[[list[Message]], str]


class FakeBackend:
    name = "fake"
    supports_json_schema = True

    def __init__(self, replies: Reply = "", *, delay: float = 0.0) -> None:
        self._fn: Callable[[list[Message]], str] | None = None
        self._cycle: list[str] = []
        if callable(replies):
            self._fn = replies
        elif isinstance(replies, str):
            self._cycle = [replies]
        else:
            self._cycle = list(replies)
        self._i = 0
        self._queue: deque[str] = deque()
        self.delay = delay
        self.calls: list[dict[str, Any]] = []

    def enqueue(self, *replies: str) -> None:
        self._queue.extend(replies)

    def _next(self, messages: list[Message]) -> str:
        if self._queue:
            return self._queue.popleft()
        if self._fn is not None:
            return self._fn(messages)
        if not self._cycle:
            return ""
        reply = self._cycle[self._i % len(self._cycle)]
        self._i += 1
        return reply

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 400,
        temperature: float = 0.3,
        json_schema: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        self.calls.append({"messages": messages, "max_tokens": max_tokens, "json_schema": json_schema})
        reply = self._next(messages)
        if json_schema is not None:
            json.loads(reply)  # a scripted reply to a JSON request must itself be JSON
        # Split into words with their trailing whitespace so "".join() round-trips exactly.
        # Paced on the model's own clock: a model server writes its k-th token at about k times
        # its pace whenever its client reads, so a reader held up (by the interpreter lock, say)
        # finds the words waiting and catches up, rather than each late read delaying the rest.
        start = time.monotonic()
        for k, piece in enumerate(re.findall(r"\S+\s*|\s+", reply), start=1):
            if self.delay:
                time.sleep(max(0.0, start + k * self.delay - time.monotonic()))
            yield piece


@register("fake")
def _factory(settings: Settings) -> FakeBackend:
    # `--llm fake` in a demo: an empty reply makes the opponent fall back to its evidence templates.
    # A reply and a pace (llm.fake.*) stand in for a real model, e.g. in benchmarks/load.py.
    fake = settings.llm.fake
    return FakeBackend(fake.reply, delay=1.0 / fake.tokens_per_s if fake.tokens_per_s > 0 else 0.0)
