# Exported from notebooks/09-delivery-guarantees.ipynb by `make export`: the cells marked
# `#| export delivery`. Edit those cells, not this file (tests/test_export.py checks).
"""The code of notebook 09, "Delivery guarantees", as the workbook runs it."""

import sqlite3
from typing import NamedTuple

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the server offset
    client_offset TEXT UNIQUE,             -- the sender's name for it: stored once
    nick TEXT NOT NULL,
    text TEXT NOT NULL
)
"""
COLUMNS = "id, nick, text, client_offset"
INSERT = "INSERT INTO messages (client_offset, nick, text) VALUES (?, ?, ?)"


class Message(NamedTuple):
    """One stored chat message; ``id`` is its server offset."""

    id: int
    nick: str
    text: str
    client_offset: str | None = None

    @property
    def line(self) -> str:
        return f"{self.nick}: {self.text}"


class Database:
    """An SQLite database, ``":memory:"`` or a file, open from ``open()`` to ``close()``."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None

    def open(self) -> None:
        self.db = sqlite3.connect(self.path)
        self.db.execute(SCHEMA)

    def close(self) -> None:
        self.db.close()
        self.db = None


class MessageStore(Database):
    """The chat's messages, by server offset."""

    def add(self, nick: str, text: str, client_offset: str | None = None) -> tuple[Message, bool]:
        """``(the message, True)``; for a client offset seen before, ``(that message, False)``."""
        try:
            with self.db:  # a transaction
                cursor = self.db.execute(INSERT, (client_offset, nick, text))
        except sqlite3.IntegrityError:  # UNIQUE(client_offset): a resend of a stored message
            row = self.db.execute(f"SELECT {COLUMNS} FROM messages WHERE client_offset = ?", (client_offset,))
            return Message(*row.fetchone()), False
        return Message(cursor.lastrowid, nick, text, client_offset), True

    def since(self, offset: int, limit: int = -1) -> list[Message]:
        """The messages after ``offset`` (the first ``limit``; -1: all), oldest first."""
        query = f"SELECT {COLUMNS} FROM messages WHERE id > ? ORDER BY id LIMIT ?"
        return [Message(*row) for row in self.db.execute(query, (offset, limit))]

    @property
    def last_id(self) -> int:  # a property: read as store.last_id, without ()
        return self.db.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]
