"""``make doctor``: does this machine have what ``make lab`` and ``make test`` need?

One line per requirement, ``[OK]`` or ``[FAIL]``, a FAIL followed by its fix on the next line,
in the order a newcomer meets them: Python, the pinned packages of the ``.venv``, Node and npm,
Chromium, redis-server, nginx, port 3000, and the address a class would be shared on. Exit
status 0 when every line is OK, 1 otherwise. It changes nothing on the machine: it only looks.

Modelled on the environment check of LLMs-from-scratch. Typical use::

    make doctor                                    # or: python tools/doctor.py, python -m tools.doctor
    python tools/doctor.py --requirements other.txt
    WORKBOOK_PORT=3001 python tools/doctor.py      # check the port a session would use instead

It must also run before ``make setup``, when there is no ``.venv`` yet and the workbook's packages
(aiohttp...) are not installed: so it needs only the standard library, reads the helpers'
settings without importing the ``helpers`` package (whose ``__init__`` imports aiohttp), and
keeps to syntax an old Python can parse, so that a Python 3.9 is told it is too old instead of
failing on a ``SyntaxError``. With a ``.venv``, it re-runs itself with the ``.venv``'s Python:
that is the Python and the packages ``make lab`` and ``make test`` use.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import ipaddress
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

__all__ = ["Check", "check_python", "checks", "main", "normalize", "pins", "render"]

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements.txt"

MINIMUM_PYTHON = (3, 11)
"""pyproject.toml's ``requires-python``; the pinned packages need it too."""

PORT_VARIABLE = "WORKBOOK_PORT"
DEFAULT_PORT = 3000
"""What ``helpers.common.addresses.DEFAULT_PORT`` reads: ``WORKBOOK_PORT``, else 3000 (the tutorial's)."""

SHOWN = 4
"""Packages named on a FAIL line: enough to see what is wrong, short enough to read."""

RERUN = "WORKBOOK_DOCTOR_RERUN"
"""Set when the doctor re-runs itself with the ``.venv``'s Python: it never does so twice."""

MACOS = sys.platform == "darwin"
VERSION_TIMEOUT = 20.0
"""Seconds a ``--version`` may take: Chromium's first start on a cold disk is slow."""


@dataclass(frozen=True)
class Check:
    """One requirement: what was found, and for a FAIL how to fix it."""

    name: str
    ok: bool
    found: str
    fix: str = ""


def render(check: Check) -> str:
    """``[OK]   name: found``, or ``[FAIL] name: found`` and ``fix: ...`` indented below it."""
    mark = "[OK]  " if check.ok else "[FAIL]"
    line = f"{mark} {check.name}: {check.found}"
    return f"{line}\n       fix: {check.fix}" if not check.ok and check.fix else line


# Python and the packages


def in_venv() -> bool:
    """Whether this Python is the workbook's ``.venv``'s (``sys.prefix`` is the venv's folder)."""
    return Path(sys.prefix).resolve() == VENV.resolve()


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3]), platform: str = sys.platform,
                 ) -> Check:
    """Python 3.11 or newer, on Linux or macOS (native Windows: WSL 2 instead)."""
    shown = ".".join(map(str, version))
    where = ".venv/bin/python" if in_venv() else f"{sys.executable}; no .venv yet"
    if platform == "win32":
        return Check("Python", False, f"{shown} on native Windows, which the workbook does not support",
                     "use WSL 2 with a Debian or Ubuntu distribution, and run make there")
    if tuple(version[:2]) < MINIMUM_PYTHON:
        get = "brew install python@3.12" if MACOS else "Debian 12: sudo apt-get install python3 python3-venv"
        return Check("Python", False, f"{shown} ({where}) is older than 3.11",
                     f"install Python 3.11 or newer ({get}), then "
                     "rm -r .venv && make setup PYTHON=python3.12 (the new Python's command)")
    return Check("Python", True, f"{shown} ({where})")


def normalize(name: str) -> str:
    """A distribution's name as PEP 503 compares them: ``Jupyter_Core`` and ``jupyter-core`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def pins(requirements: Path) -> list[tuple[str, str]]:
    """Every ``name==version`` of a requirements file, in its order; other lines are not pins."""
    found = []
    for line in requirements.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found.append((match.group(1), match.group(2)))
    return found


def installed_versions() -> dict[str, str]:
    """The distributions this Python has, by normalized name (the names their metadata gives)."""
    from importlib import metadata

    versions = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            versions.setdefault(normalize(name), distribution.version)
    return versions


def same_version(installed: str, pinned: str) -> bool:
    """Equal as versions (``1.0`` is ``1.0.0``) when ``packaging`` is there, else as text."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        return installed == pinned
    try:
        return Version(installed) == Version(pinned)
    except InvalidVersion:
        return installed == pinned


def differences(wanted: list[tuple[str, str]], have: dict[str, str]) -> list[str]:
    """``name X (pinned Y)`` or ``name missing`` for each pin this Python doesn't match."""
    found = []
    for name, version in wanted:
        installed = have.get(normalize(name))
        if installed is None:
            found.append(f"{name} missing")
        elif not same_version(installed, version):
            found.append(f"{name} {installed} (pinned {version})")
    return found


def check_packages(requirements: Path) -> Check:
    """Every pin of ``requirements`` installed at its version in the ``.venv``."""
    name = "packages"
    if not in_venv():
        fix = "make setup"
        if importlib.util.find_spec("ensurepip") is None:  # Debian's python3 makes no venv without it
            fix = "sudo apt-get install python3-venv (Debian, Ubuntu), then make setup"
        there = "has no working bin/python" if VENV.exists() else "does not exist"
        return Check(name, False, f"{VENV} {there}: the pinned packages are not installed", fix)
    try:
        wanted = pins(requirements)
    except OSError as error:
        return Check(name, False, f"can't read {requirements}: {error.strerror}",
                     "give an existing requirements file")
    wrong = differences(wanted, installed_versions())
    if not wrong:
        return Check(name, True, f"all {len(wanted)} pins of {requirements.name} installed at their versions")
    more = f", and {len(wrong) - SHOWN} more" if len(wrong) > SHOWN else ""
    return Check(name, False, f"{len(wrong)} of {len(wanted)} differ from {requirements.name}: "
                 f"{', '.join(wrong[:SHOWN])}{more}",
                 "make setup (if it finds nothing to do: rm -r .venv && make setup)")


# Programs


def version_of(argv: list[str]) -> str | None:
    """The version number ``argv`` prints (stdout, else stderr: ``nginx -v`` writes there), else its
    first line; ``None`` when it can't run or fails: a program that is there but broken."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    first = lines[0].strip() if lines else ""
    number = re.search(r"\d+(?:\.\d+)+", first)
    return number.group(0) if number else first


def check_node() -> Check:
    """``node`` and ``npm`` on PATH: ``make setup`` installs the Node peers of the interop tests
    and the pages' Socket.IO client with npm."""
    fix = "sudo apt-get install nodejs npm (Debian, Ubuntu); macOS: brew install node; then make setup"
    node, npm = shutil.which("node"), shutil.which("npm")
    absent = [name for name, path in (("node", node), ("npm", npm)) if path is None]
    if absent:
        return Check("Node and npm", False, f"{' and '.join(absent)} not found on PATH", fix)
    versions = [version_of([node, "--version"]), version_of([npm, "--version"])]
    if None in versions:
        return Check("Node and npm", False, f"{node} or {npm} does not run (--version failed)", fix)
    return Check("Node and npm", True, f"node {versions[0]}, npm {versions[1]}")


def standalone(name: str) -> ModuleType:
    """``helpers/NAME.py`` loaded on its own, never through the ``helpers`` package: its
    ``__init__`` imports aiohttp (absent before ``make setup``) and reads ``WORKBOOK_PORT`` (a bad
    one would stop the doctor instead of failing the port line). Only for modules that need
    nothing but the standard library: ``helpers.programs.chromium``, ``helpers.programs.process``."""
    qualified = f"doctor_helpers_{name.replace('/', '_')}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, ROOT / "helpers" / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no helpers/{name}.py in {ROOT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def constant(name: str, variable: str) -> str:
    """The string ``helpers/NAME.py`` assigns to ``VARIABLE``, read from its source:
    ``helpers.programs.nginx`` and ``helpers.programs.redis_server`` import packages the doctor
    can't count on (redis, aiohttp)."""
    tree = ast.parse((ROOT / "helpers" / f"{name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == variable for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"helpers/{name}.py assigns no {variable}")


def check_chromium() -> Check:
    """The Chromium the browser tests drive (``helpers.programs.chromium.CHROMIUM``: Debian's
    ``/usr/bin/chromium``, or ``WORKBOOK_CHROMIUM``); Playwright never downloads one."""
    chromium = standalone("programs/chromium").CHROMIUM
    if MACOS:
        fix = ("the browser tests drive Debian's Chromium: on macOS they are skipped (CI runs them, on "
               "Debian); WORKBOOK_CHROMIUM=/path/to/a/Chromium binary might do, untested")
    else:
        fix = "sudo apt-get install chromium (Debian), or set WORKBOOK_CHROMIUM to a Chromium binary"
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        return Check("Chromium", False, f"{chromium} not found: the browser tests will be skipped", fix)
    version = version_of([chromium, "--version"])
    if version is None:
        return Check("Chromium", False, f"{chromium} is there but `{chromium} --version` fails", fix)
    return Check("Chromium", True, f"{version} ({chromium})")


INSTALL_TEXTS = {
    "redis-server": ("programs/redis_server", ["--version"]),
    "nginx": ("programs/nginx", ["-v"]),
}
"""The module whose ``INSTALL`` says how to get each program, and how it tells its version."""


def check_program(program: str) -> Check:
    """redis-server or nginx, found as notebook 12 and its tests find it
    (``helpers.programs.process.installed``)."""
    module, version_flags = INSTALL_TEXTS[program]
    path = standalone("programs/process").installed(program)
    if path is None:
        fix = constant(module, "INSTALL")
        if MACOS:
            fix += "; macOS: brew install redis nginx (untested: notebook 12 is written for Debian's)"
        return Check(program, False, "not found: notebook 12 and its tests will be skipped", fix)
    version = version_of([path, *version_flags])
    if version is None:
        return Check(program, False, f"{path} is there but does not run", constant(module, "INSTALL"))
    return Check(program, True, f"{version} ({path})")


# The port and the address


def free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:``port``, as ``helpers.programs.process`` sees it before it starts one."""
    return standalone("programs/process").port_free(port)


def holder(port: int) -> str | None:
    """Which process listens on ``port``, as psutil can tell (it can't before ``make setup``, nor for
    another user's process without root, nor on macOS without root), else ``None``."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        for connection in psutil.net_connections(kind="tcp"):
            if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
                if connection.pid is not None:
                    return describe(psutil.Process(connection.pid))
    except (psutil.Error, OSError):
        return None
    return None


def describe(process: psutil.Process) -> str:
    """A Jupyter kernel (the usual holder: a notebook's server still runs), or the program's command."""
    command = " ".join(process.cmdline())
    if "ipykernel" in command:
        return f"a Jupyter kernel (pid {process.pid}): a notebook's server still runs in it"
    shown = command if len(command) <= 80 else command[:77] + "..."
    return f"{process.name()} (pid {process.pid}): {shown}"


def check_port() -> Check:
    """The port the notebooks serve on (``WORKBOOK_PORT``, else 3000) is free on 127.0.0.1."""
    text = os.environ.get(PORT_VARIABLE, str(DEFAULT_PORT))
    try:
        port = int(text)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        return Check("port", False, f"{PORT_VARIABLE}={text!r} is not a port",
                     f"unset {PORT_VARIABLE}, or set it to a free port such as 3001")
    if free(port):
        return Check("port", True, f"{port} is free on 127.0.0.1")
    who = holder(port)
    if who is None:
        look = f"lsof -nP -iTCP:{port} -sTCP:LISTEN" if MACOS else f"ss -ltnp 'sport = :{port}'"
        who = f"a program (`{look}` says which)"
    return Check("port", False, f"{port} on 127.0.0.1 is held by {who}",
                 "stop that kernel (JupyterLab: Kernel > Shut Down All Kernels) or program, "
                 f"or use another port: {PORT_VARIABLE}={port + 1} make lab")


def wsl() -> bool:
    """Whether this Linux runs in WSL, whose address Windows' network doesn't reach by default."""
    try:
        return "microsoft" in Path("/proc/sys/kernel/osrelease").read_text().lower()
    except OSError:
        return False


def check_address() -> Check:
    """The address ``helpers.kernel.share`` would share a server on: students' machines must reach it."""
    name = "sharing address"
    try:
        from helpers.kernel.share import ADDRESS_VARIABLE as variable
        from helpers.kernel.share import network_address
    except ImportError as error:
        return Check(name, False, f"helpers.kernel.share does not import ({error})", "make setup")
    except Exception as error:  # a bad WORKBOOK_PORT raises in helpers.common.addresses
        return Check(name, False, f"helpers.kernel.share does not import ({type(error).__name__}: {error})",
                     "fix what the error names (WORKBOOK_PORT: see the port line)")
    fix = (f"{variable}=192.168.1.20 make lab, with this machine's address on the classroom network "
           "(`hostname -I` on Linux, `ipconfig getifaddr en0` on macOS)")
    try:
        address, note = network_address()
    except ValueError as error:
        return Check(name, False, str(error), f"unset {variable}, or {fix}")
    if note is not None:
        return Check(name, False, note, fix)
    source = f"from {variable}" if os.environ.get(variable, "").strip() else "on the default route"
    if ipaddress.ip_address(address).is_loopback:
        return Check(name, False, f"{address} ({source}): loopback, only this machine could open the link",
                     f"unset {variable}, or {fix}")
    found = f"{address} ({source})"
    if wsl():
        found += "; WSL 2: students reach it only with mirrored networking (docs/teaching.md, the checklist)"
    return Check(name, True, found)


# The run


def checks(requirements: Path = REQUIREMENTS) -> list[Check]:
    """Every requirement, in the order a newcomer meets them."""
    return [
        check_python(),
        check_packages(requirements),
        check_node(),
        check_chromium(),
        check_program("redis-server"),
        check_program("nginx"),
        check_port(),
        check_address(),
    ]


def use_the_venv(argv: list[str]) -> None:
    """Re-run with the ``.venv``'s Python when there is one and this isn't it: what ``make lab`` and
    ``make test`` use is what must be checked, whichever ``python`` started the doctor."""
    if in_venv() or os.environ.get(RERUN) or not os.access(VENV_PYTHON, os.X_OK):
        return
    sys.stdout.flush()
    os.execve(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *argv],
              {**os.environ, RERUN: "1"})


def main(argv: list[str] | None = None) -> int:
    """Print one line per requirement; 0 when all are met, else 1."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS,
                        help="the pinned packages to compare the .venv with (default: requirements.txt)")
    options = parser.parse_args(argv)
    use_the_venv(argv)
    if str(ROOT) not in sys.path:  # run as a file, before `make setup` installed `helpers`
        sys.path.insert(0, str(ROOT))
    found = checks(options.requirements)
    for check in found:
        print(render(check), flush=True)
    failed = sum(not check.ok for check in found)
    print(f"{failed} of {len(found)} FAIL: fix those above, then run make doctor again." if failed
          else f"All {len(found)} OK.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
