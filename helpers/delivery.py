"""Delivery guarantees for the Socket.IO chat: every message stored in SQLite, with an id.

Node's socket.io can recover a connection's missed packets by itself; python-socketio
cannot, so the chat builds what the official tutorial's "server delivery" and "client
delivery" steps build on top of it:

- **server offset**: each message gets an increasing ``id``. A client remembers the last id
  it saw and sends it in ``auth`` when it reconnects; the server replays every message
  after it (:meth:`MessageStore.since`). Nothing missed.
- **client offset**: a client names each message it sends (``"<client>-<counter>"``) and
  resends it until the server acknowledges. The column is ``UNIQUE``, so a resent message is
  stored once and broadcast once (:meth:`MessageStore.add`). Nothing doubled.

Typical use::

    with MessageStore() as store:                # in memory; MessageStore("chat.db") on disk
        message, is_new = store.add("alice", "hi", client_offset="a1-0")
        store.add("alice", "hi", client_offset="a1-0")  # -> (the same message, False)
        store.since(0)                           # [Message(id=1, nick='alice', text='hi', ...)]

The store is open inside ``with`` only, and can be opened again: the chat server opens it at
each start and closes it at each stop (a ``":memory:"`` store then starts empty).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = ["Message", "MessageStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_offset TEXT UNIQUE,
    nick TEXT NOT NULL,
    text TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Message:
    """One stored chat message; ``id`` is its server offset."""

    id: int
    nick: str
    text: str
    client_offset: str | None = None

    @property
    def line(self) -> str:
        """What a chat shows: ``alice: hi``."""
        return f"{self.nick}: {self.text}"


class MessageStore:
    """The chat's messages in SQLite (stdlib ``sqlite3``): ``":memory:"`` or a file path."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None  # open inside `with` only

    def __enter__(self) -> MessageStore:
        self.db = sqlite3.connect(self.path)
        self.db.execute(SCHEMA)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.db.close()
        self.db = None

    def add(self, nick: str, text: str, client_offset: str | None = None) -> tuple[Message, bool]:
        """Store a message; return it and ``True``, or the one stored before and ``False``.

        ``False`` means the client sent this ``client_offset`` already (its ack was lost and
        it retried): the caller acknowledges again but must not broadcast again.
        """
        try:
            with self.db:
                cursor = self.db.execute(
                    "INSERT INTO messages (client_offset, nick, text) VALUES (?, ?, ?)",
                    (client_offset, nick, text),
                )
        except sqlite3.IntegrityError:  # UNIQUE(client_offset): seen before
            row = self.db.execute(
                "SELECT id, nick, text, client_offset FROM messages WHERE client_offset = ?",
                (client_offset,),
            ).fetchone()
            return Message(*row), False
        return Message(cursor.lastrowid, nick, text, client_offset), True

    def since(self, offset: int) -> list[Message]:
        """Every message after ``offset``, oldest first: what a reconnecting client missed."""
        rows = self.db.execute(
            "SELECT id, nick, text, client_offset FROM messages WHERE id > ? ORDER BY id", (offset,)
        )
        return [Message(*row) for row in rows]

    @property
    def last_id(self) -> int:
        """The newest message's id; 0 when there is none."""
        return self.db.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

