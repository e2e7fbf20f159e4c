"""Share a server with a class on the network: its address, a join key, the link and its QR code.

Without sharing, the workbook listens on loopback only, and no other machine can reach it.
A teacher who wants the students' laptops and phones in the chat starts the server with
``start_server(app, share=True)`` (``python -m helpers.serve --share`` in a terminal): it
then listens on this machine's network address too, on the same port, and lets a websocket
or Socket.IO connection in only with this run's join key (``?key=...``), so that whoever
else is on the network, or an old link from an earlier lesson, can't join. The pages are
static and need no key; each reads the key from its own link and passes it on to its
connection. The link (the stage's page at the network address, with the key) is printed,
with a QR code to scan: in a notebook a widget (``JoinCard``), shown live and never saved
with the notebook's outputs (the key and the address stay out of the file JupyterLab
autosaves); in a terminal, text blocks.

A teacher who removes a student (notebook 10) hands everyone else a new key over their open
connections (``hand_out_a_new_key``, in ``helpers.kernel.join``): the old link no longer opens
the chat, the others' pages and widgets use the new one when they reconnect.

The network address is this machine's IPv4 address on its default route, found without
sending anything. ``WORKBOOK_SHARE_ADDRESS`` sets it instead (``make test`` and the test
suite set ``127.0.0.1``, so nothing leaves loopback and nbval's sharing cells run anywhere).

Behind jupyter-server-proxy (JupyterHub, Binder: ``helpers.common.addresses.proxy_base``) the network
address is the container's, which no student's machine reaches: the link goes through the
proxy instead, as ``page()``'s do (``/user/NAME/proxy/3000/chat.html?key=...``), opens only in
a browser logged in to that Jupyter server, and the card says so (``BEHIND_A_PROXY``), with no
QR code (a phone can't open a path).
"""

from __future__ import annotations

import html
import io
import ipaddress
import os
import secrets
import socket
import weakref
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import ipywidgets as widgets
import segno
from aiohttp import web

from helpers.common.addresses import browser_url, proxy_base, with_key
from helpers.server.app import DOORS, SOCKETIO_PREFIX, json_actions

__all__ = [
    "ADDRESS_VARIABLE",
    "JoinCard",
    "JoinCode",
    "Sharing",
    "announce",
    "default_route_address",
    "join_key",
    "network_address",
    "scannable",
    "stage_page",
]

ADDRESS_VARIABLE = "WORKBOOK_SHARE_ADDRESS"
"""Set to an IP address of this machine to share on that one (tests: ``127.0.0.1``)."""

KEY_BYTES = 16
"""``token_urlsafe(16)`` is 22 characters, 128 random bits: never guessed. Nobody types it:
students scan the QR code or click the link (and a guesser is slowed down, ``helpers.server.join_keys``)."""

NO_NETWORK = (
    "No network address found (is this machine on a network?): sharing on 127.0.0.1, "
    "so only this machine can open the link."
)

BEHIND_A_PROXY = (
    "This Jupyter server runs behind a proxy (JupyterHub, Binder): no student's machine can reach "
    "its servers, so the link below opens only in a browser logged in to it (yours). To share "
    "with a class, run the workbook on a computer on the class's network (make lab)."
)

QR_BORDER = 4
"""The quiet zone around the code, in modules: the standard's 4, which phone cameras expect."""

_ROUTE_PROBE = ("192.0.2.1", 9)
"""TEST-NET-1 (RFC 5737), never routed. A UDP ``connect()`` there only picks the route and the
source address this machine would use; it sends no packet."""


@dataclass(frozen=True)
class Sharing:
    """How a server is shared: the network address it listens on too, and its join key."""

    address: str
    key: str
    note: str | None = None  # why ``address`` is not a network one, when it isn't

    @classmethod
    def new(cls) -> Sharing:
        """The sharing of one start: this machine's address, and a key never used before."""
        address, note = network_address()
        if proxy_base() is not None:  # the link goes through the proxy: say who can open it
            note = BEHIND_A_PROXY
        return cls(address, join_key(), note)

    def origin(self, port: int) -> str:
        """``http://ADDRESS:PORT``: the origin of the pages students open."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{port}"

    def url(self, port: int, path: str = "") -> str:
        """``path`` at the network address, with the key: the link students open.

        Behind a proxy, ``path`` through the proxy instead (``helpers.common.addresses.browser_url``).
        """
        return with_key(browser_url(port, path, direct=f"{self.origin(port)}/"), self.key)


def network_address() -> tuple[str, str | None]:
    """The address to share on, and a note when it is loopback for lack of a network.

    ``WORKBOOK_SHARE_ADDRESS`` first (an IP address, else ``ValueError``), then the default
    route's IPv4 address, else ``127.0.0.1`` with a note saying so.
    """
    chosen = os.environ.get(ADDRESS_VARIABLE, "").strip()
    if chosen:
        try:
            return str(ipaddress.ip_address(chosen)), None
        except ValueError:
            raise ValueError(
                f"{ADDRESS_VARIABLE}={chosen!r} is not an IP address; give one of this machine's, "
                "e.g. 192.168.1.20, or unset it to use the default route's"
            ) from None
    found = default_route_address()
    return (found, None) if found is not None else ("127.0.0.1", NO_NETWORK)


def default_route_address() -> str | None:
    """This machine's IPv4 address on its default route, or ``None`` without a network.

    A UDP socket's ``connect()`` asks the kernel which route and source address a packet
    would take, and sends nothing: no traffic, no DNS, no waiting.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_ROUTE_PROBE)
            address = probe.getsockname()[0]
        except OSError:  # no route at all: ENETUNREACH
            return None
    if address == "0.0.0.0" or ipaddress.ip_address(address).is_loopback:
        return None
    return address


def join_key() -> str:
    """A new join key: 22 URL-safe characters (128 bits) from ``secrets``."""
    return secrets.token_urlsafe(KEY_BYTES)


def stage_page(app: web.Application) -> str:
    """The page that chats with ``app``: a Socket.IO, a JSON or a plain websocket server's."""
    if SOCKETIO_PREFIX in app:  # set when a python-socketio server is held (helpers.server.sio.hold)
        return "socketio.html"
    if json_actions(app) is not None:
        return "json.html"
    return "chat.html"


@dataclass
class _Added:
    """What a start added to an app's doors (Host names), taken back at its next start: the
    same app started again unshared, on loopback, is loopback-only as before."""

    names: set[str] = field(default_factory=set)


_ADDED: weakref.WeakKeyDictionary[web.Application, _Added] = weakref.WeakKeyDictionary()

WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def open_doors(app: web.Application, sharing: Sharing | None, host: str = "127.0.0.1") -> None:
    """Set ``app``'s join key (``None``: not shared) and let its Host names in, before it listens.

    The key first, so that no connection of a shared run gets in without it. Anything an
    earlier start of the same app added is taken back first. The names let in are the shared
    address and the one the server is bound to (``bound_names``).
    """
    doors = app[DOORS]
    earlier = _ADDED.pop(app, _Added())
    doors.names.difference_update(earlier.names)
    doors.shared_origin = None  # until this start shares it (allow_shared_origin)
    doors.key = sharing.key if sharing is not None else None
    wanted = bound_names(host) | ({sharing.address} if sharing is not None else set())
    _ADDED[app] = added = _Added({name for name in wanted if name not in doors.names})
    doors.names.update(added.names)


def bound_names(host: str) -> set[str]:
    """The names a server bound to ``host`` is reached by.

    ``--host 192.168.1.20`` is reached as ``http://192.168.1.20:3000/``: its Host is that
    address, which the Host check must know. Bound to every address (``0.0.0.0``), it is
    reached by this machine's name or its network address (no reverse DNS lookup: it could
    hold the kernel's loop for seconds).
    """
    if host not in WILDCARDS:
        return {host.lower()}
    return {socket.gethostname().lower(), default_route_address()} - {None}


def allow_shared_origin(app: web.Application, sharing: Sharing, port: int) -> None:
    """Pages at the network address may use Socket.IO even when its origins are a given list.

    python-socketio checks a page's Origin itself: by default against the request's own Host
    (which the shared page matches), but a list (``--cors-allowed-origins ...``) replaces
    that, and the teacher can't list an address found at start. So the doors name it, and a
    held Socket.IO server's check takes it too (``helpers.server.sio.hold.TrustedOrigins``).
    """
    app[DOORS].shared_origin = sharing.origin(port)


def also_listen(host: str, sharing: Sharing | None) -> bool:
    """Whether a server bound to ``host`` needs a second site for the network address."""
    if sharing is None or sharing.address == host:
        return False
    return host not in ("0.0.0.0", "::", "")  # a wildcard already takes every address


class JoinCode:
    """The link students open, as a QR code to scan: SVG in a notebook, blocks in a terminal.

    Its text form, what nbval compares, is the link it encodes.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.qr = segno.make_qr(url)  # a full QR code, never a Micro QR that phones can't read

    def __repr__(self) -> str:
        return f"QR code of {self.url}"

    def _repr_svg_(self) -> str:
        # light modules painted white: on a dark theme a transparent code can't be scanned
        return self.qr.svg_inline(scale=5, border=QR_BORDER, dark="#000", light="#fff")

    def terminal(self) -> str:
        """The code in Unicode half blocks, two rows a line (light modules drawn)."""
        out = io.StringIO()
        self.qr.terminal(out=out, border=QR_BORDER, compact=True)
        return out.getvalue()


class JoinCard(widgets.HTML):
    """The link students open and its QR code, as a widget: live in the notebook, never saved there.

    A notebook stores a widget's output as its model id (random, skipped by nbval) and its
    text form, ``repr``: here a fixed sentence. The link (the machine's address, the join key)
    and the code are in the widget's live state only, so a notebook autosaved during a class
    holds neither.
    """

    def __init__(self, url: str, note: str | None = None, *, heading: str = "Students open") -> None:
        link = html.escape(url, quote=True)
        said = f"<p>{html.escape(note)}</p>" if note else ""
        scan = f" (or scan the QR code below)</p>{JoinCode(url)._repr_svg_()}" if scannable(url) else "</p>"
        super().__init__(f'{said}<p>{html.escape(heading)} <a href="{link}" target="_blank">{link}</a>{scan}')
        self.url = url

    def __repr__(self) -> str:
        return "JoinCard: the students' link and its QR code, shown live (not saved in the notebook)"

    def _get_embed_state(self, drop_defaults: bool = False) -> dict:
        """What ``ipywidgets``' embedding (``Widget.get_manager_state``) saves: a sentence, no link.

        The workbook's ``tools/execute_notebooks.py`` stores every widget's state this way;
        the card saved there says where the link is instead of holding it.
        """
        state = super()._get_embed_state(drop_defaults=drop_defaults)
        state["state"]["value"] = f"<p>{html.escape(SAVED_CARD)}</p>"
        return state


SAVED_CARD = "The students' link and its QR code show here while the kernel runs."


def scannable(url: str) -> bool:
    """Whether a phone could open ``url`` from its QR code: a whole address, not a path behind a proxy."""
    return bool(urlsplit(url).netloc)


def announce(url: str, note: str | None = None) -> JoinCode | JoinCard:
    """Show the link students open and its QR code: a ``JoinCard`` in a notebook, text in a terminal."""
    if _in_a_kernel():
        from IPython.display import display

        card = JoinCard(url, note)
        display(card)
        return card
    if note:
        print(note, flush=True)
    code = JoinCode(url)
    if not scannable(url):
        print(f"Students open {url}", flush=True)
        return code
    print(f"Students open {url} (or scan the QR code below)", flush=True)
    print(code.terminal(), end="", flush=True)
    return code


def _in_a_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None
