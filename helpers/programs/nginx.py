"""Debian's ``nginx`` in front of several chat servers on loopback: ``await start_nginx(port, backends)``.

nginx does what a load balancer does for a chat (the configuration is in ``CONFIG``):

- **websocket upgrades**: it passes ``Upgrade``/``Connection`` on, so a websocket goes
  through it (nginx speaks HTTP/1.0 to a server and drops those headers otherwise);
- **sticky sessions**: Socket.IO's long-polling sends each request of one session on a new
  HTTP request, and every one must reach the server that holds the session. nginx marks the
  answer with a cookie naming the server that gave it (``chat_node=node-b``), and sends the
  requests that carry it to that server; the first request of a session goes round-robin;
- **failover**: if the marked server is down, its requests go to another (``backup``), whose
  answer re-marks the client; a server that refuses connections is skipped for 2 s.

The ``Host`` header is passed on, so the servers' origin checks see the address the browser
opened (nginx's), and a foreign page is still refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from helpers.programs.process import Program, ProgramMissing, installed, start_program, temporary_folder

__all__ = ["INSTALL", "NGINX_PORT", "Nginx", "nginx_config", "start_nginx"]

NGINX_PORT = int(os.environ.get("WORKBOOK_NGINX_PORT", "8080"))
COOKIE = "chat_node"
INSTALL = "sudo apt-get install nginx   (Debian, Ubuntu; `make test` in CI installs it)"

CONFIG = """\
worker_processes 1;
pid {folder}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    upstream chat {{
{everyone}
    }}
{each}
    map $cookie_{cookie} $chat_upstream {{
        default chat;
{by_cookie}
    }}
    map $upstream_addr $chat_cookie {{
        default "";
{cookies}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://$chat_upstream;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_next_upstream error timeout http_502;
            proxy_connect_timeout 2s;
            add_header Set-Cookie $chat_cookie;
        }}
    }}
}}
"""


def _server(port: int, backup: bool = False) -> str:
    return f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s{' backup' if backup else ''};"


def nginx_config(port: int, backends: dict[str, int], folder: Path) -> str:
    """The configuration: ``backends`` maps each server's name (``node-a``) to its port."""
    for name in backends:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ValueError(f"a server's name is letters, digits, - and _: not {name!r}")
    each = []
    for name, own in backends.items():
        others = [_server(other, backup=True) for other in backends.values() if other != own]
        each.append(f"    upstream {name} {{\n" + "\n".join([_server(own), *others]) + "\n    }")
    return CONFIG.format(
        folder=folder, port=port, cookie=COOKIE,
        everyone="\n".join(_server(own) for own in backends.values()),
        each="\n".join(each),
        by_cookie="\n".join(f"        {name} {name};" for name in backends),
        # after a failover $upstream_addr lists each server tried: the last one answered
        cookies="\n".join(
            f'        "~127\\.0\\.0\\.1:{own}$" "{COOKIE}={name}; Path=/; SameSite=Lax";'
            for name, own in backends.items()
        ),
    )


@dataclass
class Nginx:
    """A running nginx: its address, its configuration, ``stop()``."""

    port: int
    backends: dict[str, int]
    folder: Path
    program: Program

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    key = None  # nginx asks for no join key: ``page(nginx, "chat.html")`` links to it as to a server

    @property
    def config(self) -> str:
        return (self.folder / "nginx.conf").read_text()

    async def stop(self) -> None:
        await self.program.stop()

    def __repr__(self) -> str:
        servers = ", ".join(f"{name} (port {port})" for name, port in self.backends.items())
        return f"<Nginx {self.url} in front of {servers}>"


async def start_nginx(backends: dict[str, int], port: int = NGINX_PORT) -> Nginx:
    """Start nginx on 127.0.0.1:``port`` in front of ``backends`` (name -> port), replacing an earlier one."""
    nginx = installed("nginx")
    if nginx is None:
        raise ProgramMissing("nginx", INSTALL)
    folder = temporary_folder("nginx")
    folder.chmod(0o755)  # run as root, nginx's workers are `nobody`: they read and write here
    (folder / "nginx.conf").write_text(nginx_config(port, backends, folder))
    argv = [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"]
    return Nginx(port, dict(backends), folder, await start_program("nginx", argv, port=port, folder=folder))
