"""Any OpenAI-compatible ``/chat/completions`` endpoint, streamed over SSE with httpx.

Failures before the first token (HTTP 429/5xx, connection errors, timeouts, a stream that ends
empty) are retried with exponential backoff, honouring ``Retry-After``. Once a token has been
handed to the caller nothing is retried — a retry would repeat text already shown — so a cut
connection raises :class:`LLMStreamCut` and a stalled one :class:`LLMTimeout`.

The API key is sent only as the ``Authorization`` header; it never appears in an error or a log
line (a server echoing it back in its error message is redacted).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import threading
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from banron.llm.base import LLMError, LLMHTTPError, LLMStreamCut, LLMTimeout, Message
from banron.llm.registry import register

if TYPE_CHECKING:
    from banron.config import Settings

log = logging.getLogger(__name__)

KEY_ENV_HINT = "set BANRON_LLM__OPENAI__API_KEY (or OPENAI_API_KEY)"


class _Retryable(Exception):
    """Internal: an attempt failed before any token; ``error`` is what to raise if out of retries."""

    def __init__(self, error: LLMError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class OpenAICompatBackend:
    name = "openai"
    supports_json_schema = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        *,
        retry_after_cap: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key or None
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.retry_after_cap = retry_after_cap
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAICompatBackend(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def close(self) -> None:
        """Close the pooled HTTP connections (the backend stays usable; a new pool opens on demand)."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=httpx.Timeout(self.timeout))
            return self._client

    # -- the one required method -------------------------------------------------------------

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 400,
        temperature: float = 0.3,
        json_schema: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if json_schema is not None:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": json_schema, "strict": True},
            }
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"

        attempt = 0
        while True:
            try:
                # closing(): if our consumer stops early, the attempt (and its response) closes now.
                with contextlib.closing(self._attempt(payload, headers)) as pieces:
                    yield from pieces
                return
            except _Retryable as r:
                # _attempt raises _Retryable only before its first piece, so nothing is repeated.
                if attempt >= self.max_retries:
                    raise r.error from None
                delay = self.backoff * (2**attempt)
                if r.retry_after is not None:
                    delay = max(delay, min(r.retry_after, self.retry_after_cap))
                attempt += 1
                log.info("%s; retrying in %.2fs (retry %d of %d)", r.error, delay, attempt, self.max_retries)
                time.sleep(delay)

    # -- one HTTP attempt ----------------------------------------------------------------------

    def _attempt(self, payload: dict[str, Any], headers: dict[str, str]) -> Generator[str, None, None]:
        """Stream one request. Raises _Retryable for retryable failures before the first piece."""
        url = self.url
        got_piece = False
        try:
            with self._http().stream("POST", url, json=payload, headers=headers) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    err = self._status_error(resp)
                    if resp.status_code == 429 or resp.status_code >= 500:
                        raise _Retryable(err, _retry_after(resp.headers.get("retry-after")))
                    raise err
                finished = False
                for event in _sse_events(resp.iter_lines()):
                    if event == "[DONE]":
                        finished = True
                        break
                    piece, done = self._parse_event(event)
                    finished = finished or done
                    if piece:
                        got_piece = True
                        yield piece
                if not finished:
                    cut = LLMStreamCut(
                        f"{url}: the connection closed before the reply was complete "
                        f"(no [DONE] marker){' — the reply above is truncated' if got_piece else ''}."
                    )
                    if not got_piece:
                        raise _Retryable(cut)
                    raise cut
        except httpx.TimeoutException as e:
            if isinstance(e, httpx.ConnectTimeout | httpx.PoolTimeout):
                what = "could not connect"
            elif got_piece:
                what = "stopped sending"
            else:
                what = "did not answer"
            timeout_error = LLMTimeout(f"{url} {what} within {self.timeout:g}s (timeout).")
            if got_piece:
                raise timeout_error from None
            raise _Retryable(timeout_error) from None
        except httpx.ConnectError as e:
            raise _Retryable(LLMError(f"could not connect to {url}: {self._redact(str(e))}")) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError) as e:
            detail = self._redact(str(e)) or type(e).__name__
            cut = LLMStreamCut(f"{url}: the connection was cut before the reply was complete ({detail}).")
            if got_piece:
                raise cut from None
            raise _Retryable(cut) from None
        except httpx.HTTPError as e:  # anything else httpx raises (invalid URL, too many redirects...)
            raise LLMError(f"request to {url} failed: {self._redact(str(e))}") from None

    def _parse_event(self, data: str) -> tuple[str, bool]:
        """(content piece, finished?) from one SSE ``data`` payload."""
        try:
            obj = json.loads(data)
        except json.JSONDecodeError:
            raise LLMError(
                f"{self.url} sent something that is not a chat stream: {self._redact(data[:200])!r}"
            ) from None
        if not isinstance(obj, dict):
            return "", False
        if "error" in obj:
            raise LLMError(f"{self.url} reported an error mid-stream: {self._redact(_error_text(obj))}")
        choices = obj.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return "", False  # e.g. a trailing usage-only chunk
        choice = choices[0]
        delta = choice.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        return (content if isinstance(content, str) else ""), choice.get("finish_reason") is not None

    def _status_error(self, resp: httpx.Response) -> LLMHTTPError:
        status = resp.status_code
        detail = self._redact(_server_message(resp))
        where = f"{self.url} answered HTTP {status}"
        if status in (401, 403):
            hint = "the API key is invalid or lacks access" if self._api_key else "no API key is configured"
            msg = f"{where}: {hint} — {KEY_ENV_HINT}. Server said: {detail}"
        elif status == 404:
            msg = (
                f"{where}: check the model name ({self.model!r}) and the base URL ({self.base_url!r}, "
                f"which should end in /v1). Server said: {detail}"
            )
        elif status == 429:
            msg = f"{where} (rate limited or out of quota): {detail}"
        else:
            msg = f"{where}: {detail}"
        return LLMHTTPError(status, msg)

    def _redact(self, text: str) -> str:
        if self._api_key and self._api_key in text:
            text = text.replace(self._api_key, "****")
        return text


def _sse_events(lines: Iterator[str]) -> Iterator[str]:
    """The ``data`` payload of each server-sent event (multi-line data joined with newlines)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:  # lenient: a last event without its blank line
        yield "\n".join(data)


def _error_text(obj: dict[str, Any]) -> str:
    err = obj.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        return err["message"]
    if isinstance(err, str):
        return err
    return json.dumps(obj)[:200]


def _server_message(resp: httpx.Response) -> str:
    try:
        text = resp.text
    except Exception:  # undecodable body
        return "(unreadable response body)"
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        err = obj.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
    text = text.strip()
    return text[:200] if text else "(empty response body)"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@register("openai")
def _factory(settings: Settings) -> OpenAICompatBackend:
    cfg = settings.llm.openai
    return OpenAICompatBackend(
        cfg.base_url,
        cfg.model,
        api_key=cfg.resolved_key(),
        timeout=cfg.timeout,
        max_retries=cfg.max_retries,
        backoff=cfg.backoff,
    )
