"""One-click Binder (``binder/``), checked offline as far as it goes.

``jupyter-repo2docker --no-build --debug`` renders the Dockerfile Binder would build, without
Docker: it must install Debian's redis-server and nginx, the runtime's Python 3.11, the
workbook's pinned requirements (``binder/requirements.txt`` says ``-r ../requirements.txt``,
installed once the repository is in the image, and pip resolves it to every pin), then run
``binder/postBuild`` and start through ``binder/start``. repo2docker lives in a virtual
environment of its own, ``.venv-repo2docker/`` (``tools/requirements-repo2docker.txt``), never
in the workbook's ``.venv``: without it these tests are skipped, or fail when ``CI=true``.

On Binder the hub sets ``JUPYTERHUB_SERVICE_PREFIX``: every address the workbook shows the
student (the start line, ``page()``, a shared server's link) goes through jupyter-server-proxy
at ``{prefix}proxy/{port}/``, with ``WORKBOOK_PORT`` as the port; a shared chat's link, with its
key, is opened through a real proxy here (tests/browser/test_proxy.py drives the pages there).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

from helpers.kernel.lifecycle import start_server, stop_server
from helpers.kernel.share import BEHIND_A_PROXY, JoinCard
from helpers.stages import STAGES
from tests.scale_support import IN_CI, quiet_port

ROOT = Path(__file__).resolve().parent.parent
REPO2DOCKER = ROOT / ".venv-repo2docker" / "bin" / "jupyter-repo2docker"
INSTALL = (
    "python3 -m venv .venv-repo2docker && "
    ".venv-repo2docker/bin/pip install -r tools/requirements-repo2docker.txt   (make setup)"
)
PIP_LINE = 'pip install --no-cache-dir -r "binder/requirements.txt"'
HUB_PREFIX = "/user/ada-chat-workbook-x1y2z3/"  # what mybinder.org's hub gives a launch


def needs_repo2docker() -> None:
    """Skip (fail in CI) unless repo2docker is installed in its own virtual environment."""
    if REPO2DOCKER.exists():
        return
    why = f"jupyter-repo2docker is not installed in .venv-repo2docker ({INSTALL})"
    if IN_CI:
        pytest.fail(f"{why}: CI=true, the Binder tests must run", pytrace=False)
    pytest.skip(why)


def clone_files() -> list[str]:
    """What a clone of the repository holds: the files git tracks, and binder/ (new or not)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    binder = [str(path.relative_to(ROOT)) for path in (ROOT / "binder").iterdir() if path.is_file()]
    return sorted({name for name in [*tracked, *binder] if name and (ROOT / name).is_file()})


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository as Binder clones it: no .venv, no node_modules, nothing ignored."""
    folder = tmp_path_factory.mktemp("binder") / "chat-workbook"
    for name in clone_files():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, folder / name)  # keeps postBuild's and start's executable bits
    return folder


@pytest.fixture(scope="module")
def rendered(clone: Path) -> tuple[str, str]:
    """The Dockerfile repo2docker renders for the clone (and what it said while rendering)."""
    needs_repo2docker()
    done = subprocess.run(
        [str(REPO2DOCKER), "--no-build", "--debug", "."],
        cwd=clone, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "FROM " in done.stdout, done.stdout
    return done.stdout, done.stderr


def environment_locks(dockerfile: str) -> list[Path]:
    """The conda lock files the Dockerfile copies in, as files of repo2docker's own package.

    repo2docker names a build file after its path, with escapism's ``-XX`` escapes (``-2e`` is
    ``.``), then ``-`` and a short hash.
    """
    names = re.findall(r"COPY \S+ build_script_files/(\S+) /tmp/env/environment\.lock", dockerfile)
    unescape = lambda name: re.sub(r"-([0-9a-f]{2})", lambda match: chr(int(match[1], 16)), name)  # noqa: E731
    # the escaped path is lower-cased (a checkout in /tmp/tmp.AbC loses its capitals): find the
    # file by its name in repo2docker's own package instead
    found = []
    for name in names:
        lock = Path(unescape(name.rsplit("-", 1)[0])).name
        found += sorted(REPO2DOCKER.parent.parent.glob(f"lib/python*/site-packages/repo2docker/**/{lock}"))
    return found


def pins() -> dict[str, str]:
    """The workbook's pinned requirements: name -> version."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))


def test_the_image_installs_redis_server_and_nginx_from_apt(rendered):
    dockerfile, _ = rendered
    installs = re.findall(r"apt-get install --yes --no-install-recommends ([a-z0-9.+\- ]+) &&", dockerfile)
    assert any({"redis-server", "nginx"} <= set(packages.split()) for packages in installs), installs


def test_the_image_runs_python_3_11(rendered):
    dockerfile, said = rendered
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    locks = environment_locks(dockerfile)
    named = [re.fullmatch(r"environment\.py-(\d+\.\d+)-.*", lock.name) for lock in locks]
    versions = {match[1] for match in named if match}
    assert versions == {"3.11"}, locks
    assert "conda environment for python=3.11" in said


def test_the_workbooks_pinned_requirements_reach_pip_once_the_repository_is_copied(rendered, clone):
    """``-r ../requirements.txt`` is a local reference: repo2docker installs binder/requirements.txt
    after copying the repository (not before, when the path would be missing), from its root."""
    dockerfile, _ = rendered
    copy = dockerfile.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    install = dockerfile.index(f"${{KERNEL_PYTHON_PREFIX}}/bin/{PIP_LINE}")
    assert copy < install, "binder/requirements.txt is installed before ../requirements.txt is in the image"
    assert dockerfile.rindex("WORKDIR ${REPO_DIR}", 0, install) > 0
    # what that pip line reads, resolved by pip itself from the same folder (nothing is installed:
    # every pin is already in this .venv, so pip answers without an index)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index",
         "--disable-pip-version-check", "-r", "binder/requirements.txt"],
        cwd=clone, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n(is .venv up to date? make setup)"
    from_pins = r"Requirement already satisfied: (\S+)==(\S+) .*\(from -r binder/\.\./requirements\.txt"
    satisfied = dict(re.findall(from_pins, done.stdout))
    assert satisfied == pins()
    assert satisfied["aiohttp"] == pins()["aiohttp"] and "jupyter-server-proxy" in satisfied


def test_post_build_runs_after_the_requirements_and_the_image_starts_through_binder_start(rendered):
    dockerfile, _ = rendered
    install = dockerfile.index(PIP_LINE)
    assert dockerfile.index("RUN ./binder/postBuild", install) > install
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-cache-dir --no-deps --editable ." in post_build  # the notebooks import helpers
    assert "npm ci" in post_build
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK) and os.access(ROOT / "binder" / "start", os.X_OK)


def test_the_image_has_node_for_post_builds_npm_ci(rendered):
    """The Socket.IO client comes from npm: repo2docker's Python 3.11 environment has Node.js."""
    dockerfile, _ = rendered
    [lock] = environment_locks(dockerfile)
    assert lock.is_file() and lock.is_relative_to(REPO2DOCKER.parent.parent), lock
    assert re.search(r"/nodejs-20\.[^/]*\.conda", lock.read_text())
    assert "${NB_PYTHON_PREFIX}/bin" in dockerfile.split("ENV PATH=", 1)[1].splitlines()[0]


def started(env: dict[str, str]) -> dict[str, str]:
    """The environment ``binder/start`` hands the Jupyter server."""
    done = subprocess.run(
        ["bash", str(ROOT / "binder" / "start"), "env"], env=env, capture_output=True, text=True, check=True
    )
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def test_start_keeps_the_hubs_prefix_and_proxies_an_image_run_without_a_hub():
    bare = {"PATH": os.environ["PATH"]}
    assert "WORKBOOK_PROXY_BASE" not in started({**bare, "JUPYTERHUB_SERVICE_PREFIX": HUB_PREFIX})
    assert started(bare)["WORKBOOK_PROXY_BASE"] == "/"  # `jupyter-repo2docker .`: Jupyter at /
    assert started({**bare, "WORKBOOK_PROXY_BASE": "off"})["WORKBOOK_PROXY_BASE"] == "off"


KERNEL_ON_BINDER = textwrap.dedent(
    """
    import asyncio
    from helpers.kernel.lifecycle import start_server, stop_server
    from helpers.kernel.show import page
    from helpers.stages import STAGES

    async def main():
        for share in (False, True):
            server = await start_server(STAGES["json"](), share=share, hand_over=False)
            print(page(server, "json.html", embed=False))
            await stop_server(quiet=True)

    asyncio.run(main())
    """
)


OURS = ("WORKBOOK_", "JUPYTER")  # the workbook's and Jupyter's variables: set by the test only


def test_on_binder_every_address_shown_goes_through_the_proxy_at_workbook_port(tmp_path):
    """What a kernel on Binder prints: the hub's prefix, ``WORKBOOK_PORT``, no direct address, no QR code."""
    port = quiet_port()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(OURS)},
        "JUPYTERHUB_SERVICE_PREFIX": HUB_PREFIX,
        "WORKBOOK_PORT": str(port),
        "WORKBOOK_SHARE_ADDRESS": "127.0.0.1",
        "WORKBOOK_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    done = subprocess.run(
        [sys.executable, "-c", KERNEL_ON_BINDER], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    proxied = f"{HUB_PREFIX}proxy/{port}/"
    lines = done.stdout.splitlines()
    assert lines[:3] == [f"Listening at port {port}: {proxied}", f"Page at {proxied}json.html", lines[2]]
    assert lines[2] == f"Listening at port {port}: {proxied}"
    assert lines[3] == BEHIND_A_PROXY
    assert re.fullmatch(rf"Students open {re.escape(proxied)}json\.html\?key=[\w-]{{22}}", lines[4]), lines[4]
    assert lines[5] == f"Page at {lines[4].removeprefix('Students open ')}"
    assert len(lines) == 6 and "127.0.0.1" not in done.stdout and "QR" not in done.stdout


async def test_a_shared_chats_link_opens_through_a_real_proxy_with_its_key_only(
    monkeypatch, tmp_path, capsys
):
    """jupyter-server-proxy in front, as on Binder: the page, and a websocket with the link's key."""
    from tests.browser.jupyter_support import BASE, JupyterServer

    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", BASE)
    monkeypatch.delenv("WORKBOOK_PROXY_BASE", raising=False)
    monkeypatch.setenv("WORKBOOK_SHARE_ADDRESS", "127.0.0.1")
    jupyter = JupyterServer(tmp_path)
    await jupyter.start()
    try:
        server = await start_server(STAGES["json"](), port=0, share=True, hand_over=False, name="binder")
        try:
            link = f"{BASE}proxy/{server.port}/json.html?key={server.key}"
            assert f"Students open {link}" in capsys.readouterr().out
            origin = jupyter.url.removesuffix(BASE)
            auth = {"Authorization": f"token {jupyter.token}", "Origin": origin}
            async with aiohttp.ClientSession(headers=auth) as http:
                async with http.get(origin + link) as response:
                    assert response.status == 200 and "<title>" in await response.text()
                socket_url = f"{origin}{BASE}proxy/{server.port}/".replace("http", "ws", 1)
                async with http.ws_connect(f"{socket_url}?key={server.key}") as ws:
                    await ws.send_json({"type": "nick", "nick": "ada"})
                    assert "ada" in (await ws.receive(timeout=5)).data
                # the proxy takes the browser's websocket, then closes it when the server refuses
                async with http.ws_connect(f"{socket_url}?key=an-old-key") as ws:
                    refused = await ws.receive(timeout=5)
                    assert refused.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), refused
                assert "Refused a connection without the join key (or an old one)." in server.log.lines
        finally:
            await stop_server(quiet=True, name="binder")
    finally:
        await jupyter.stop()


def test_a_card_behind_the_proxy_shows_the_link_and_no_qr_code_a_phone_could_not_open():
    behind = JoinCard(f"{HUB_PREFIX}proxy/3000/chat.html?key=k", BEHIND_A_PROXY)
    assert f'href="{HUB_PREFIX}proxy/3000/chat.html?key=k"' in behind.value and "<svg" not in behind.value
    assert "no student&#x27;s machine can reach" in behind.value
    assert "<svg" in JoinCard("http://192.168.1.20:3000/chat.html?key=k").value  # on a laptop, as before
