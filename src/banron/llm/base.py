"""The one interface every chat backend implements, and the errors they raise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]


class LLMError(RuntimeError):
    """A chat backend failed; the message is meant for the user."""


class LLMTimeout(LLMError):
    """The backend did not answer (or stopped answering) within the configured time."""


class LLMHTTPError(LLMError):
    """The endpoint answered with an HTTP error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class LLMStreamCut(LLMError):
    """The connection closed before the reply was complete."""


@runtime_checkable
class ChatBackend(Protocol):
    """Messages in, streamed text out.

    ``stream`` is the one required method. ``json_schema``, when given and
    ``supports_json_schema`` is true, constrains the reply to a JSON document of that schema.
    """

    name: str
    supports_json_schema: bool

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 400,
        temperature: float = 0.3,
        json_schema: dict[str, Any] | None = None,
    ) -> Iterator[str]: ...


def complete(backend: ChatBackend, messages: list[Message], **kwargs: Any) -> str:
    """The whole reply as one string."""
    return "".join(backend.stream(messages, **kwargs))
