"""The JSON application protocol of notebook 06: every message is an object with a ``type``.

Client to server:

========  ===================  ==========================================
type      fields               meaning
========  ===================  ==========================================
``nick``  ``nick`` (1-32)      choose or change your nickname
``chat``  ``text`` (1-500)     say something to everyone (needs a nick)
``users`` (none)               ask who is online
========  ===================  ==========================================

Server to client: ``chat`` (``nick``, ``text``), ``join`` (``nick``), ``leave`` (``nick``),
``rename`` (``old``, ``nick``), ``users`` (``users``: sorted nicknames) and ``error``
(``error``: what was wrong), the last to the offending client only. Fields the protocol
does not know are ignored, so newer clients can talk to this server.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["CLIENT_TYPES", "MAX_MESSAGE_CHARS", "ProtocolError", "error_message", "parse_message"]

MAX_MESSAGE_CHARS = 4096
"""A whole message longer than this is refused before it is parsed."""

CLIENT_TYPES: dict[str, dict[str, int]] = {
    "nick": {"nick": 32},
    "chat": {"text": 500},
    "users": {},
}
"""Each client message type, with its required string fields and their maximum lengths."""


class ProtocolError(ValueError):
    """A client message that breaks the protocol; its text is sent back in an ``error``."""


def parse_message(raw: str) -> dict[str, Any]:
    """Validate one client message and return it as a dict, or raise ``ProtocolError``."""
    if len(raw) > MAX_MESSAGE_CHARS:
        raise ProtocolError(f"message is longer than {MAX_MESSAGE_CHARS} characters")
    try:
        message = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError('a message must be a JSON object like {"type": "chat", ...}')
    if "type" not in message:
        raise ProtocolError("missing field 'type'")
    kind = message["type"]
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        expected = ", ".join(sorted(CLIENT_TYPES))
        raise ProtocolError(f"unknown type {kind!r}; expected one of: {expected}")
    for name, limit in CLIENT_TYPES[kind].items():
        if name not in message:
            raise ProtocolError(f"missing field {name!r}")
        value = message[name]
        if not isinstance(value, str):
            raise ProtocolError(f"field {name!r} must be a string")
        if not value.strip():
            raise ProtocolError(f"field {name!r} must not be empty")
        if len(value) > limit:
            raise ProtocolError(f"field {name!r} is longer than {limit} characters")
    return message


def error_message(error: str) -> dict[str, str]:
    """The ``error`` message the server sends back to the client that broke the protocol."""
    return {"type": "error", "error": error}
