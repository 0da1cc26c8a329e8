"""One typed settings tree for banron.

Sources, highest priority first: keyword arguments, ``BANRON_*`` environment variables (nested
fields with ``__``, e.g. ``BANRON_LLM__BACKEND=openai``), then ``$BANRON_HOME/config.toml``, then
the defaults below. Every piece of user state lives under ``home`` so tests and users can relocate
all of it with one variable (``BANRON_HOME``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


def default_home() -> Path:
    """``$BANRON_HOME`` or ``~/.banron``."""
    return Path(os.environ.get("BANRON_HOME") or Path.home() / ".banron").expanduser()


class OpenAISettings(BaseModel):
    """Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server...)."""

    base_url: str = Field("https://api.openai.com/v1", description="Base URL up to and including /v1.")
    model: str = Field("gpt-4o-mini", description="Model name sent with every request.")
    api_key: SecretStr | None = Field(
        None,
        description="Bearer token. Falls back to the OPENAI_API_KEY environment variable; never printed.",
    )
    timeout: float = Field(60.0, description="Seconds to wait for the connection and for each chunk.")
    max_retries: int = Field(3, description="Retries on 429/5xx/connection errors before any token.")
    backoff: float = Field(0.5, description="First retry delay in seconds; doubles each retry.")

    def resolved_key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY")


class LocalSettings(BaseModel):
    """The embedded GGUF model run in-process by llama.cpp (xllamacpp)."""

    model: str = Field(
        "qwen2.5-1.5b",
        description="'qwen2.5-1.5b' (bundled, default), 'smollm2-135m' (tiny, tests) or a .gguf path.",
    )
    threads: int = Field(
        1, description="Generation threads. One holds its speed when anything else uses the CPU."
    )
    batch_threads: int = Field(2, description="Threads for prompt processing.")
    context: int = Field(4096, description="Context window in tokens.")


class FakeSettings(BaseModel):
    """The scripted ``fake`` backend (tests, demos, the load benchmark)."""

    reply: str = Field("", description="What it says every time; empty: banron falls back to templates.")
    tokens_per_s: float = Field(
        0.0, description="Streaming pace in words per second (0: instant), to stand in for a real model."
    )


class LLMSettings(BaseModel):
    backend: str = Field("local", description="Chat backend by registered name: local, openai, fake.")
    temperature: float = Field(0.3, description="Sampling temperature for free-form generation.")
    max_tokens: int = Field(400, description="Upper bound on tokens generated per speech.")
    openai: OpenAISettings = Field(default_factory=OpenAISettings)  # type: ignore[arg-type]
    local: LocalSettings = Field(default_factory=LocalSettings)  # type: ignore[arg-type]
    fake: FakeSettings = Field(default_factory=FakeSettings)  # type: ignore[arg-type]


class KBSettings(BaseModel):
    tokenizer: Literal["mecab", "kiwi", "whitespace"] = Field(
        "mecab", description="Lexical tokenizer. mecab/kiwi split Korean particles; whitespace does not."
    )
    chunk_tokens: int = Field(
        256, description="Maximum embedder tokens per chunk (the encoder's limit is 512)."
    )
    overlap_sentences: int = Field(1, description="Sentences repeated between consecutive chunks.")
    rrf_k: int = Field(
        10,
        description=(
            "Reciprocal rank fusion constant; smaller trusts each ranking's top hits more "
            "(10 beat the classic 60 on ArguAna and IBM ArgKP, tied on ko-counter)."
        ),
    )
    lexical_weight: float = Field(1.0, description="Weight of the lexical ranking in fusion.")
    dense_weight: float = Field(1.0, description="Weight of the dense ranking in fusion.")
    candidates: int = Field(50, description="Candidates taken from each ranking before fusion.")
    database_url: SecretStr | None = Field(
        None,
        description=(
            "PostgreSQL URL (with pgvector) for the knowledge-base index, e.g. "
            "postgresql://user:pass@host/db; empty: the embedded SQLite index under home. Never printed."
        ),
    )


class StoreSettings(BaseModel):
    database_url: SecretStr | None = Field(
        None,
        description=(
            "PostgreSQL URL for debates and turns (schema banron_store), e.g. "
            "postgresql://user:pass@host/db; empty: debates.sqlite under home. Separate from "
            "kb.database_url (both may name the same database). Never printed."
        ),
    )


class DebateSettings(BaseModel):
    max_claims: int = Field(3, description="Student claims answered per rebuttal.")
    passages_per_claim: int = Field(1, description="Evidence passages cited per answered claim.")
    style: Literal["auto", "template", "llm"] = Field(
        "auto",
        description=(
            "auto: evidence-first templates, with the model writing bridges where it is good enough "
            "(English, or any language on an API model); template: never call the model; llm: let the "
            "model write the whole speech (citations still verified)."
        ),
    )
    parallel_speeches: int = Field(
        0,
        ge=0,
        description=(
            "Debates banron speaks in at once in one server process. 0: 1 with the embedded model "
            "(one model per process: more would only queue inside it), 8 with an API or fake backend."
        ),
    )

    def speech_workers(self, backend: str) -> int:
        """``parallel_speeches`` with 0 resolved for ``backend``."""
        if self.parallel_speeches:
            return self.parallel_speeches
        return 1 if backend == "local" else 8


class Settings(BaseSettings):
    """Effective banron settings."""

    model_config = SettingsConfigDict(
        env_prefix="BANRON_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    home: Path = Field(default_factory=default_home, description="Where all user state lives.")
    llm: LLMSettings = Field(default_factory=LLMSettings)  # type: ignore[arg-type]
    kb: KBSettings = Field(default_factory=KBSettings)  # type: ignore[arg-type]
    debate: DebateSettings = Field(default_factory=DebateSettings)  # type: ignore[arg-type]
    store: StoreSettings = Field(default_factory=StoreSettings)  # type: ignore[arg-type]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _HomeTomlSource(settings_cls))

    # Paths derived from home; never configured separately so one variable moves everything.
    @property
    def kb_dir(self) -> Path:
        return self.home / "kb"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def debates_dir(self) -> Path:
        return self.home / "debates"

    @property
    def config_file(self) -> Path:
        return self.home / "config.toml"

    def masked(self) -> dict[str, Any]:
        """Settings as plain data with every secret masked (for `banron config show`)."""
        data = self.model_dump(mode="json")
        key = self.llm.openai.resolved_key()
        data["llm"]["openai"]["api_key"] = _mask(key)
        return data


def _mask(secret: str | None) -> str | None:
    if not secret:
        return None
    return "****" + secret[-4:] if len(secret) > 8 else "****"


class _HomeTomlSource(PydanticBaseSettingsSource):
    """Reads ``config.toml`` from the home directory chosen by env or init (not from the file itself)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            path = default_home() / "config.toml"
            try:
                with path.open("rb") as f:
                    self._data = tomllib.load(f)
            except FileNotFoundError:
                self._data = {}
            except tomllib.TOMLDecodeError as e:
                raise ValueError(f"{path}: invalid TOML: {e}") from e
        return self._data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._load().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._load())


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; raises ValueError with the file name when config.toml is malformed."""
    return Settings(**overrides)
