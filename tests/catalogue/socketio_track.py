"""Answers to the exercises of notebooks 07 to 09, as students write them: right ones, wrong ones.

Each is a feature, ``add_...(app)``, registering python-socketio handlers on ``app[SIO]``.
"""

from __future__ import annotations

from tests.catalogue.answers import Answer, right, wrong

# --- 07.1: shout ---------------------------------------------------------------------------------

SHOUT = [
    right("the notebook's solution", """
def add_shout(app):
    sio = app[SIO]

    @sio.on("shout")
    async def shout(sid, text):
        await sio.emit("chat message", str(text).upper())
"""),
    right("@sio.event, by the function's name; an f-string", """
def add_shout(app):
    sio = app[SIO]

    @sio.event
    async def shout(sid, message):
        loud = f"{message}".upper()
        await sio.emit("chat message", loud, to=None)
"""),
    right("sio.on(name, handler), without a decorator", """
def add_shout(app):
    async def shout(sid, text):
        await app[SIO].emit("chat message", text.upper())

    app[SIO].on("shout", shout)
"""),
    wrong("to the others only: skip_sid", "alice expected: 'HI THERE'", """
def add_shout(app):
    sio = app[SIO]

    @sio.on("shout")
    async def shout(sid, text):
        await sio.emit("chat message", text.upper(), skip_sid=sid)
"""),
    wrong("back to the sender only", "bob expected: 'HI THERE'", """
def add_shout(app):
    sio = app[SIO]

    @sio.on("shout")
    async def shout(sid, text):
        await sio.emit("chat message", text.upper(), to=sid)
"""),
    wrong("emits 'shout', which the page doesn't show", "no 'chat message' event", """
def add_shout(app):
    sio = app[SIO]

    @sio.on("shout")
    async def shout(sid, text):
        await sio.emit("shout", text.upper())
"""),
    wrong("returns it as the acknowledgement", "no 'chat message' event", """
def add_shout(app):
    sio = app[SIO]

    @sio.on("shout")
    async def shout(sid, text):
        return text.upper()
"""),
    wrong("title case", "alice got:      'Hi There'", """
def add_shout(app):
    sio = app[SIO]

    @sio.on("shout")
    async def shout(sid, text):
        await sio.emit("chat message", text.title())
"""),
    wrong("a handler in python-socketio's style, never registered", "no 'chat message' event", """
def add_shout(app):
    sio = app[SIO]

    async def shout(sid, text):
        await sio.emit("chat message", text.upper())
"""),
    wrong("the handler itself, async, in place of the feature", "must be a function that adds handlers", """
async def add_shout(sid, text):
    pass
"""),
]

# --- 07.2: count each client's messages ----------------------------------------------------------

MESSAGE_COUNTER = [
    right("the notebook's solution: the session", """
def add_counted_chat_message(app):
    sio = app[SIO]

    @sio.on("chat message")
    async def chat_message(sid, msg, client_offset=None):
        async with sio.session(sid) as session:
            session["count"] = session.get("count", 0) + 1
            count = session["count"]
        await sio.emit("chat message", msg)
        return {"count": count}
"""),
    right("get_session and save_session", """
def add_counted_chat_message(app):
    sio = app[SIO]

    @sio.on("chat message")
    async def chat_message(sid, msg, client_offset=None):
        session = await sio.get_session(sid)
        count = session.get("count", 0) + 1
        await sio.save_session(sid, {**session, "count": count})
        await sio.emit("chat message", msg, to=None)
        return {"count": count}
"""),
    wrong("a dict by sid, never cleaned up", "after every client left, the server still keeps 2 of them in `counts`", """
def add_counted_chat_message(app):
    sio = app[SIO]
    counts = {}

    @sio.on("chat message")
    async def chat_message(sid, msg, client_offset=None):
        counts[sid] = counts.get(sid, 0) + 1
        await sio.emit("chat message", msg)
        return {"count": counts[sid]}
"""),
    wrong("one count for every client", "bob's acknowledgement expected: {'count': 1}", """
def add_counted_chat_message(app):
    sio = app[SIO]
    total = [0]

    @sio.on("chat message")
    async def chat_message(sid, msg, client_offset=None):
        total[0] += 1
        await sio.emit("chat message", msg)
        return {"count": total[0]}
"""),
    wrong("counts, never relays", "no 'chat message' event", """
def add_counted_chat_message(app):
    sio = app[SIO]

    @sio.on("chat message")
    async def chat_message(sid, msg, client_offset=None):
        async with sio.session(sid) as session:
            session["count"] = session.get("count", 0) + 1
            return {"count": session["count"]}
"""),
    wrong("to the others only", "alice expected: 'one'", """
def add_counted_chat_message(app):
    sio = app[SIO]

    @sio.on("chat message")
    async def chat_message(sid, msg, client_offset=None):
        async with sio.session(sid) as session:
            session["count"] = session.get("count", 0) + 1
            count = session["count"]
        await sio.emit("chat message", msg, skip_sid=sid)
        return {"count": count}
"""),
    wrong("takes no client offset: the page's second argument", "wrong arguments", """
def add_counted_chat_message(app):
    sio = app[SIO]

    @sio.on("chat message")
    async def chat_message(sid, msg):
        async with sio.session(sid) as session:
            session["count"] = session.get("count", 0) + 1
            count = session["count"]
        await sio.emit("chat message", msg)
        return {"count": count}
"""),
    wrong("the count as a bare number", "alice's acknowledgement got:      1", """
def add_counted_chat_message(app):
    sio = app[SIO]

    @sio.on("chat message")
    async def chat_message(sid, msg, client_offset=None):
        async with sio.session(sid) as session:
            session["count"] = session.get("count", 0) + 1
            count = session["count"]
        await sio.emit("chat message", msg)
        return count
"""),
    wrong("get_session without saving it", "{'count': 2}", """
def add_counted_chat_message(app):
    sio = app[SIO]

    @sio.on("chat message")
    async def chat_message(sid, msg, client_offset=None):
        session = dict(await sio.get_session(sid))
        session["count"] = session.get("count", 0) + 1
        await sio.emit("chat message", msg)
        return {"count": session["count"]}
"""),
]

# --- 08.1: nicknames in any case ----------------------------------------------------------------

_NICK_HEAD = '''
def add_nick_ignoring_case(app):
    sio, nicks = app[SIO], app[NICKS]

    @sio.event
    async def nick(sid, new=None):
        problem = problem_with(new, "nickname")
        if problem:
            return {"error": problem}
        new, old = new.strip(), nicks.get(sid, "?")
'''
_NICK_TAIL = '''
        if new != old:
            nicks[sid] = new
            await sio.emit("nick changed", (old, new))
        return {"nick": new}
'''

NICK_CASE = [
    right("the notebook's solution", _NICK_HEAD + """
        others = {name.casefold() for other, name in nicks.items() if other != sid}
        if new.casefold() in others:
            return {"error": f"nickname {new!r} is taken"}
""" + _NICK_TAIL),
    right("lower() on both sides, a loop", _NICK_HEAD + """
        for other, name in nicks.items():
            if other != sid and name.lower() == new.lower():
                return {"error": "nickname '" + new + "' is taken"}
""" + _NICK_TAIL),
    wrong("lower-cases only the requested nickname", "bob sent emit('nick', 'ALICE')", _NICK_HEAD + """
        if new.lower() in nicks.values():
            return {"error": f"nickname {new!r} is taken"}
""" + _NICK_TAIL),
    wrong("in any case, including the client's own", "Alice's acknowledgement expected: {'nick': 'ALICE'}", _NICK_HEAD + """
        if new.casefold() in {name.casefold() for name in nicks.values()}:
            return {"error": f"nickname {new!r} is taken"}
""" + _NICK_TAIL),
    wrong("exact case only, as notebook 8's nick", "bob sent emit('nick', 'ALICE')", _NICK_HEAD + """
        if new != old and new in nicks.values():
            return {"error": f"nickname {new!r} is taken"}
""" + _NICK_TAIL),
    wrong("names the taken nickname as it is stored", """expected: {'error': "nickname 'ALICE' is taken"}""", _NICK_HEAD + """
        for other, name in nicks.items():
            if other != sid and name.casefold() == new.casefold():
                return {"error": f"nickname {name!r} is taken"}
""" + _NICK_TAIL),
    wrong("stores the lower-cased name", "{'nick': 'Bobby'}", _NICK_HEAD + """
        others = {name for other, name in nicks.items() if other != sid}
        if new.lower() in {name.lower() for name in others}:
            return {"error": f"nickname {new!r} is taken"}
        new = new.lower()
""" + _NICK_TAIL),
    wrong("raises instead of answering", "bob's acknowledgement got:      {'error': 'internal server error'}", _NICK_HEAD + """
        others = {name.casefold() for other, name in nicks.items() if other != sid}
        if new.casefold() in others:
            raise ValueError(f"nickname {new!r} is taken")
""" + _NICK_TAIL),
]

# --- 08.2: /me --------------------------------------------------------------------------------------

_ME_HEAD = '''
def add_chat_with_me(app):
    sio, nicks = app[SIO], app[NICKS]

    @sio.on("chat message")
    async def chat_message(sid, text=None, client_offset=None):
        problem = problem_with(text, "text", MAX_TEXT)
        if problem:
            return {"error": problem}
        text, nick = text.strip(), nicks.get(sid, "?")
'''

ME_LINE = [
    right("the notebook's solution", _ME_HEAD + """
        if text.startswith("/me "):
            action = text.removeprefix("/me ")
            line = f"* {nick} {action}"
        else:
            line = f"{nick}: {text}"
        await sio.emit("chat message", line, skip_sid=sid)
        return {}
"""),
    right("split once, two emits", _ME_HEAD + """
        command, _, rest = text.partition(" ")
        if command == "/me" and rest:
            await sio.emit("chat message", "* " + nick + " " + rest, skip_sid=sid)
        else:
            await sio.emit("chat message", nick + ": " + text, skip_sid=sid)
        return {}
"""),
    wrong('"/me " anywhere in the text', "bob expected: 'alice: hi /me there'", _ME_HEAD + """
        if "/me " in text:
            line = f"* {nick} {text.replace('/me ', '')}"
        else:
            line = f"{nick}: {text}"
        await sio.emit("chat message", line, skip_sid=sid)
        return {}
"""),
    wrong('startswith("/me") without the space', "bob expected: 'alice: /meow'", _ME_HEAD + """
        if text.startswith("/me"):
            line = f"* {nick} {text[3:].strip()}"
        else:
            line = f"{nick}: {text}"
        await sio.emit("chat message", line, skip_sid=sid)
        return {}
"""),
    wrong("sends the /me line to the sender too", "alice expected: nothing", _ME_HEAD + """
        if text.startswith("/me "):
            await sio.emit("chat message", f"* {nick} {text[4:]}")
        else:
            await sio.emit("chat message", f"{nick}: {text}", skip_sid=sid)
        return {}
"""),
    wrong("no acknowledgement", "alice's acknowledgement expected: {}", _ME_HEAD + """
        if text.startswith("/me "):
            line = f"* {nick} {text[4:]}"
        else:
            line = f"{nick}: {text}"
        await sio.emit("chat message", line, skip_sid=sid)
"""),
    wrong("keeps the command in the line", "bob got:      '* alice /me waves'", _ME_HEAD + """
        line = f"* {nick} {text}" if text.startswith("/me ") else f"{nick}: {text}"
        await sio.emit("chat message", line, skip_sid=sid)
        return {}
"""),
    wrong("no star", "bob got:      'alice waves'", _ME_HEAD + """
        line = f"{nick} {text[4:]}" if text.startswith("/me ") else f"{nick}: {text}"
        await sio.emit("chat message", line, skip_sid=sid)
        return {}
"""),
]

# --- 09.1: a replay limit ---------------------------------------------------------------------------

_LIMIT_HEAD = '''
REPLAY_LIMIT = 3


def add_replay_limit(app):
    sio, store = app[SIO], app[STORE]

    @sio.event
    async def connect(sid, environ, auth):
        await welcome(app, sid, auth)
        offset = replay_from(auth, store.last_id)
'''

REPLAY_LIMIT = [
    right("the notebook's solution", _LIMIT_HEAD + """
        if offset is not None:
            offset = max(offset, store.last_id - REPLAY_LIMIT)
            await replay(app, sid, store.since(offset))
        await sio.enter_room(sid, CHAT)
"""),
    right("catch_up, and the last few sliced off", _LIMIT_HEAD + """
        if offset is not None and store.last_id - offset > REPLAY_LIMIT:
            offset = store.last_id - REPLAY_LIMIT
        await catch_up(app, sid, offset, asyncio.Lock())
"""),
    wrong("the first 3 missed, not the last", "carol, before 'm11', expected: ['writer: m8'", _LIMIT_HEAD + """
        if offset is not None:
            await replay(app, sid, store.since(offset)[:REPLAY_LIMIT])
        await sio.enter_room(sid, CHAT)
"""),
    wrong("the last 3 stored, whatever the client missed", "dave, before 'm12', expected: ['writer: m11']", _LIMIT_HEAD + """
        if offset is not None:
            await replay(app, sid, store.since(store.last_id - REPLAY_LIMIT))
        await sio.enter_room(sid, CHAT)
"""),
    wrong("one too many (off by one)", "expected: ['writer: m8', 'writer: m9', 'writer: m10']", _LIMIT_HEAD + """
        if offset is not None:
            offset = max(offset, store.last_id - REPLAY_LIMIT - 1)
            await replay(app, sid, store.since(offset))
        await sio.enter_room(sid, CHAT)
"""),
    wrong("never lets the client into the live chat", "nothing", _LIMIT_HEAD + """
        if offset is not None:
            offset = max(offset, store.last_id - REPLAY_LIMIT)
            await replay(app, sid, store.since(offset))
"""),
    wrong("replays to everyone", "writer expected: nothing", _LIMIT_HEAD + """
        await sio.enter_room(sid, CHAT)
        if offset is not None:
            offset = max(offset, store.last_id - REPLAY_LIMIT)
            for message in store.since(offset):
                await sio.emit("chat message", wire(message), room=CHAT)
"""),
    wrong("forgets to greet: no nickname", "writer: m", """
REPLAY_LIMIT = 3


def add_replay_limit(app):
    sio, store = app[SIO], app[STORE]

    @sio.event
    async def connect(sid, environ, auth):
        offset = replay_from(auth, store.last_id)
        if offset is not None:
            offset = max(offset, store.last_id - REPLAY_LIMIT)
            await replay(app, sid, store.since(offset))
        await sio.enter_room(sid, CHAT)
"""),
]

# --- 09.2: history ------------------------------------------------------------------------------------

_HISTORY_HEAD = '''
def add_history(app):
    sio, store = app[SIO], app[STORE]

    @sio.event
    async def history(sid, n=10):
        if type(n) is not int or n < 0:
            return {"error": "n must be a whole number, 0 or more"}
'''

HISTORY = [
    right("the notebook's solution", _HISTORY_HEAD + """
        rows = store.db.execute("SELECT nick, text FROM messages ORDER BY id DESC LIMIT ?", (n,))
        lines = [f"{nick}: {text}" for nick, text in reversed(rows.fetchall())]
        return {"lines": lines}
"""),
    right("the store's own since(), sliced", _HISTORY_HEAD + """
        messages = store.since(0)
        return {"lines": [message.line for message in messages[len(messages) - n:]] if n else []}
"""),
    wrong("the first n, not the last", "expected: {'lines': ['writer: m4', 'writer: m5']}", _HISTORY_HEAD + """
        rows = store.db.execute("SELECT nick, text FROM messages ORDER BY id LIMIT ?", (n,))
        return {"lines": [f"{nick}: {text}" for nick, text in rows]}
"""),
    wrong("newest first", "got:      {'lines': ['writer: m5', 'writer: m4']}", _HISTORY_HEAD + """
        rows = store.db.execute("SELECT nick, text FROM messages ORDER BY id DESC LIMIT ?", (n,))
        return {"lines": [f"{nick}: {text}" for nick, text in rows]}
"""),
    wrong("[-n:] with n = 0 is everything", "writer sent emit('history', 0)", _HISTORY_HEAD + """
        return {"lines": [message.line for message in store.since(0)[-n:]]}
"""),
    wrong("the texts without who said them", "got:      {'lines': ['m4', 'm5']}", _HISTORY_HEAD + """
        rows = store.db.execute("SELECT text FROM messages ORDER BY id DESC LIMIT ?", (n,))
        return {"lines": [text for (text,) in reversed(rows.fetchall())]}
"""),
    wrong("the list, not in a dict", "got:      ['writer: m4', 'writer: m5']", _HISTORY_HEAD + """
        rows = store.db.execute("SELECT nick, text FROM messages ORDER BY id DESC LIMIT ?", (n,))
        return [f"{nick}: {text}" for nick, text in reversed(rows.fetchall())]
"""),
    wrong("one message too many (LIMIT n + 1)", "got:      {'lines': ['writer: m3', 'writer: m4', 'writer: m5']}", _HISTORY_HEAD + """
        rows = store.db.execute("SELECT nick, text FROM messages ORDER BY id DESC LIMIT ?", (n + 1,))
        return {"lines": [f"{nick}: {text}" for nick, text in reversed(rows.fetchall())]}
"""),
]

EXERCISES: dict[str, list[Answer]] = {
    "07.1 shout": SHOUT,
    "07.2 message counter": MESSAGE_COUNTER,
    "08.1 nick case": NICK_CASE,
    "08.2 /me line": ME_LINE,
    "09.1 replay limit": REPLAY_LIMIT,
    "09.2 history": HISTORY,
}
