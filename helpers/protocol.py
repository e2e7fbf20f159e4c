# Exported from notebooks/06-json-protocol.ipynb by `make export`: the cells marked
# `#| export protocol`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 06, "A JSON protocol", as the workbook runs it."""

import json
from typing import Any

Message = dict[str, Any]

MAX_MESSAGE_CHARS = 4096
"""A whole message longer than this is refused before it is parsed."""

MAX_DEPTH = 20
"""Arrays and objects nested deeper than this are refused before parsing, which recurses."""

CLIENT_TYPES: dict[str, dict[str, int]] = {
    "nick": {"nick": 32},
    "chat": {"text": 500},
    "users": {},
}
"""Each client message type, with its required text fields and their maximum lengths."""


class ProtocolError(ValueError):
    """A client message that breaks the protocol; its text goes back in an ``error``."""


def error_message(error: str) -> Message:
    """The ``error`` the server sends back to the client that broke the protocol."""
    return {"type": "error", "error": error}


def parse_message(raw: str) -> Message:
    """Validate one client message and return it as a dict, or raise ``ProtocolError``."""
    if len(raw) > MAX_MESSAGE_CHARS:
        raise ProtocolError(f"message is longer than {MAX_MESSAGE_CHARS} characters")
    if nesting(raw) > MAX_DEPTH:
        raise ProtocolError(f"message nests deeper than {MAX_DEPTH} levels")
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
        raise ProtocolError(f"unknown type {kind!r}; expected one of: {', '.join(sorted(CLIENT_TYPES))}")
    check_fields(message, CLIENT_TYPES[kind])
    return message


def nesting(raw: str) -> int:
    """How deep ``[`` and ``{`` nest in ``raw`` (JSON text), not counting those inside strings."""
    if raw.count("[") + raw.count("{") <= MAX_DEPTH:  # the usual message: no need to look closer
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_fields(message: Message, fields: dict[str, int]) -> None:
    """Each field of ``fields`` is in ``message``: non-empty text, not too long."""
    for name, limit in fields.items():
        if name not in message:
            raise ProtocolError(f"missing field {name!r}")
        value = message[name]
        if not isinstance(value, str):
            raise ProtocolError(f"field {name!r} must be a string")
        if not value.strip():
            raise ProtocolError(f"field {name!r} must not be empty")
        if len(value) > limit:
            raise ProtocolError(f"field {name!r} is longer than {limit} characters")
