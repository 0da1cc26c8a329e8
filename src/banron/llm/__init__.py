"""Chat backends behind one protocol: ``local`` (embedded GGUF), ``openai`` (any compatible API), ``fake``."""

from banron.llm.base import ChatBackend, LLMError, LLMHTTPError, LLMStreamCut, LLMTimeout, Message, complete
from banron.llm.registry import create, names, register

__all__ = [
    "ChatBackend",
    "LLMError",
    "LLMHTTPError",
    "LLMStreamCut",
    "LLMTimeout",
    "Message",
    "complete",
    "create",
    "names",
    "register",
]
