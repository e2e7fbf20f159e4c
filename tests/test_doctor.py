"""``make doctor`` (tools/doctor.py): one line per requirement, a FAIL with its fix, exit 1 on any FAIL.

The doctor runs as a program here, as ``make doctor`` runs it, against this machine: each test
takes one requirement away for real (a PATH without Node, a port this test holds, a requirements
file the venv doesn't match, a network namespace without a network) and reads that line. What the
machine happens to have (Chromium, redis-server, nginx, a network) is never assumed: those lines
are compared with what the tests' own skip logic finds.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from scale_support import INSTALL, missing, quiet_port

from helpers.programs.chromium import CHROMIUM
from helpers.programs.process import installed
from tools.doctor import Check, check_python, normalize, pins, render

ROOT = Path(__file__).resolve().parent.parent
DOCTOR = ROOT / "tools" / "doctor.py"
NAMES = ["Python", "packages", "Node and npm", "Chromium", "redis-server", "nginx", "port", "sharing address"]
CHOSEN_BY_THE_RUN = ("WORKBOOK_PORT", "WORKBOOK_SHARE_ADDRESS", "WORKBOOK_DOCTOR_RERUN")
"""Set by ``make test`` (a quiet port, loopback sharing): each test says what it wants instead."""


@dataclass
class Line:
    ok: bool
    name: str
    text: str  # the line after its mark, and its fix


@dataclass
class Run:
    status: int
    lines: dict[str, Line]
    output: str

    def __getitem__(self, name: str) -> Line:
        return self.lines[name]


def parse(output: str) -> dict[str, Line]:
    """The requirement lines, by name, each with the indented fix below it."""
    lines: dict[str, Line] = {}
    last = None
    for raw in output.splitlines():
        if raw.startswith(("[OK]", "[FAIL]")):
            mark, rest = raw.split(" ", 1)
            name = rest.strip().split(":", 1)[0]
            last = lines[name] = Line(mark == "[OK]", name, rest.strip())
        elif raw.startswith(" ") and last is not None:
            last.text += "\n" + raw.strip()
    return lines


def doctor(*args: str, python: str = sys.executable, script: Path = DOCTOR, cwd: Path = ROOT,
           **env: str) -> Run:
    """Run the doctor as a program, with ``env`` added to this environment (minus the run's choices)."""
    environment = {k: v for k, v in os.environ.items() if k not in CHOSEN_BY_THE_RUN}
    done = subprocess.run([python, str(script), *args], cwd=cwd, env={**environment, **env},
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return Run(done.returncode, parse(done.stdout), done.stdout)


@pytest.fixture(scope="module")
def here() -> Run:
    """The doctor on this machine, as it is."""
    return doctor()


def outside_python() -> str:
    """A Python outside the workbook's venv (the one the venv was made from)."""
    for name in ("python3", "python"):
        candidate = Path(sys.base_prefix) / "bin" / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.skip(f"no Python in {sys.base_prefix}/bin")


# The whole run


def test_every_requirement_has_one_line_in_order_and_the_status_says_whether_all_are_ok(here: Run) -> None:
    assert list(here.lines) == NAMES, here.output
    assert here.status == (0 if all(line.ok for line in here.lines.values()) else 1), here.output
    for line in here.lines.values():
        assert ("fix:" in line.text) == (not line.ok), line


def test_it_also_runs_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-m", "tools.doctor"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert list(parse(done.stdout)) == NAMES, done.stdout + done.stderr


def test_render_puts_the_fix_of_a_fail_on_the_next_line() -> None:
    assert render(Check("port", True, "3000 is free", "never shown")) == "[OK]   port: 3000 is free"
    failed = render(Check("port", False, "3000 is held", "stop it"))
    assert failed == "[FAIL] port: 3000 is held\n       fix: stop it"


# 1. Python


def test_the_venvs_python_is_ok_here(here: Run) -> None:
    version = ".".join(map(str, sys.version_info[:3]))
    assert here["Python"].ok, here.output
    assert f"{version} (.venv/bin/python)" in here["Python"].text


def test_another_python_hands_over_to_the_venvs(here: Run) -> None:
    run = doctor(python=outside_python())
    assert "(.venv/bin/python)" in run["Python"].text, run.output
    assert run["packages"].ok == here["packages"].ok


@pytest.mark.parametrize("version", [(3, 10, 4), (3, 9, 6), (2, 7, 18)])
def test_a_python_older_than_311_fails_with_how_to_get_a_newer_one(version: tuple[int, ...]) -> None:
    check = check_python(version, "linux")
    assert not check.ok and "older than 3.11" in check.found
    assert "make setup PYTHON=" in check.fix and "rm -r .venv" in check.fix


def test_python_311_and_newer_pass_and_native_windows_is_sent_to_wsl() -> None:
    assert check_python((3, 11, 0), "linux").ok
    assert check_python((3, 14, 1), "darwin").ok
    windows = check_python((3, 12, 0), "win32")
    assert not windows.ok and "WSL 2" in windows.fix


# 2. The pinned packages


def test_the_venv_matches_requirements_txt(here: Run) -> None:
    assert here["packages"].ok, here.output
    assert f"all {len(pins(ROOT / 'requirements.txt'))} pins" in here["packages"].text


def test_pins_that_differ_or_are_missing_fail_with_make_setup(tmp_path: Path) -> None:
    typing_extensions = metadata.version("typing_extensions")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# not a pin\n--index-url https://example.invalid/simple\n"
        f"aiohttp==0.0.1\nno-such-package-for-the-doctor==1.0\nTyping.Extensions=={typing_extensions}\n"
    )
    run = doctor("--requirements", str(requirements))
    line = run["packages"]
    assert not line.ok and run.status == 1, run.output
    assert "2 of 3 differ" in line.text
    assert f"aiohttp {metadata.version('aiohttp')} (pinned 0.0.1)" in line.text
    assert "no-such-package-for-the-doctor missing" in line.text
    assert "Typing.Extensions" not in line.text  # typing_extensions, as PEP 503 compares names
    assert "fix: make setup" in line.text and "rm -r .venv && make setup" in line.text


def test_names_are_compared_as_pep_503_says(tmp_path: Path) -> None:
    assert {normalize(name) for name in ("Jupyter_Core", "jupyter.core", "jupyter-core")} == {"jupyter-core"}
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        f"JINJA2=={metadata.version('jinja2')}\nJupyter.Core=={metadata.version('jupyter_core')}\n"
        f"pyyaml=={metadata.version('PyYAML')}  # a comment\n"
    )
    run = doctor("--requirements", str(requirements))
    assert run["packages"].ok and "all 3 pins" in run["packages"].text, run.output


def test_a_long_list_of_differences_is_cut_short(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"absent-package-{n}==1.0\n" for n in range(7)))
    line = doctor("--requirements", str(requirements))["packages"]
    assert not line.ok and "absent-package-3 missing" in line.text and "and 3 more" in line.text
    assert "absent-package-4" not in line.text


def test_a_requirements_file_that_is_not_there_fails(tmp_path: Path) -> None:
    line = doctor("--requirements", str(tmp_path / "nothing.txt"))["packages"]
    assert not line.ok and "can't read" in line.text


# 3. Node and npm


def test_without_node_on_path_its_line_fails_with_how_to_install_it(tmp_path: Path) -> None:
    run = doctor(PATH=str(tmp_path))  # an empty folder: no node, no npm
    line = run["Node and npm"]
    assert not line.ok and run.status == 1, run.output
    assert "node and npm not found on PATH" in line.text
    assert "sudo apt-get install nodejs npm" in line.text and "brew install node" in line.text


def test_node_on_path_is_ok_with_its_version(here: Run) -> None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("node or npm is not installed here")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip().lstrip("v")
    assert here["Node and npm"].ok and f"node {version}" in here["Node and npm"].text, here.output


# 4. Chromium


def test_chromium_is_ok_exactly_when_the_browser_tests_find_it(here: Run) -> None:
    found = os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)
    assert here["Chromium"].ok == found, here.output
    assert CHROMIUM in here["Chromium"].text


def test_a_chromium_that_is_not_there_fails_with_how_to_install_it(tmp_path: Path) -> None:
    line = doctor(WORKBOOK_CHROMIUM=str(tmp_path / "chromium"))["Chromium"]
    assert not line.ok and "not found: the browser tests will be skipped" in line.text
    assert "WORKBOOK_CHROMIUM" in line.text
    if sys.platform == "linux":
        assert "sudo apt-get install chromium" in line.text


def test_a_chromium_that_does_not_run_fails(tmp_path: Path) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'cannot open shared object file' >&2\nexit 127\n")
    broken.chmod(0o755)
    line = doctor(WORKBOOK_CHROMIUM=str(broken))["Chromium"]
    assert not line.ok and "--version` fails" in line.text


# 5. redis-server and nginx


@pytest.mark.parametrize("program", ["redis-server", "nginx"])
def test_a_program_of_notebook_12_is_ok_exactly_when_its_tests_would_run(here: Run, program: str) -> None:
    line = here[program]
    assert line.ok == (missing(program) is None), here.output
    if line.ok:
        assert f"({installed(program)})" in line.text
    else:
        assert INSTALL[program] in line.text


# 6. The port


def test_a_port_held_by_a_process_fails_naming_that_process() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        run = doctor(WORKBOOK_PORT=str(port))
    line = run["port"]
    assert not line.ok and run.status == 1, run.output
    assert f"{port} on 127.0.0.1 is held by" in line.text
    assert f"(pid {os.getpid()})" in line.text  # this test's own process, as psutil tells
    assert f"WORKBOOK_PORT={port + 1} make lab" in line.text


def test_a_free_port_is_ok() -> None:
    port = quiet_port()
    line = doctor(WORKBOOK_PORT=str(port))["port"]
    assert line.ok and f"{port} is free on 127.0.0.1" in line.text


def test_a_port_that_is_no_number_fails() -> None:
    line = doctor(WORKBOOK_PORT="three thousand")["port"]
    assert not line.ok and "is not a port" in line.text


# 7. The address for sharing


def test_the_address_is_the_one_helpers_share_would_use(here: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.kernel.share import ADDRESS_VARIABLE, network_address

    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)  # as the doctor ran
    address, note = network_address()
    line = here["sharing address"]
    assert line.ok == (note is None), here.output
    if note is None:
        assert f"{address} (on the default route)" in line.text
    else:
        assert "fix: WORKBOOK_SHARE_ADDRESS=" in line.text


def test_an_address_set_by_the_variable_is_used() -> None:
    line = doctor(WORKBOOK_SHARE_ADDRESS="192.0.2.7")["sharing address"]
    assert line.ok and "192.0.2.7 (from WORKBOOK_SHARE_ADDRESS)" in line.text


@pytest.mark.parametrize(
    ("value", "said"), [("not-an-ip", "is not an IP address"), ("127.0.0.1", "loopback")]
)
def test_an_address_students_cant_reach_fails(value: str, said: str) -> None:
    line = doctor(WORKBOOK_SHARE_ADDRESS=value)["sharing address"]
    assert not line.ok and said in line.text and "WORKBOOK_SHARE_ADDRESS=192.168.1.20" in line.text


def test_without_a_network_the_address_fails_with_the_variable_as_fix() -> None:
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("can't make a network namespace here (unshare -rn)")
    environment = {k: v for k, v in os.environ.items() if k not in CHOSEN_BY_THE_RUN}
    done = subprocess.run([unshare, "-rn", sys.executable, str(DOCTOR)], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)
    line = parse(done.stdout)["sharing address"]
    assert not line.ok and done.returncode == 1, done.stdout + done.stderr
    assert "No network address found" in line.text and "fix: WORKBOOK_SHARE_ADDRESS=" in line.text


# Before `make setup`


def test_before_make_setup_it_runs_on_the_standard_library_alone(tmp_path: Path, here: Run) -> None:
    """A checkout without .venv, run by a Python without the workbook's packages."""
    (tmp_path / "tools").mkdir()
    (tmp_path / "helpers" / "programs").mkdir(parents=True)
    shutil.copy(DOCTOR, tmp_path / "tools")
    shutil.copy(ROOT / "requirements.txt", tmp_path)
    for module in (ROOT / "helpers").glob("**/*.py"):
        (tmp_path / module.relative_to(ROOT).parent).mkdir(parents=True, exist_ok=True)
        shutil.copy(module, tmp_path / module.relative_to(ROOT))
    run = doctor(python=outside_python(), script=tmp_path / "tools" / "doctor.py", cwd=tmp_path)
    assert list(run.lines) == NAMES, run.output
    assert run["Python"].ok and "no .venv yet" in run["Python"].text
    assert not run["packages"].ok and "make setup" in run["packages"].text
    assert run.status == 1
    for name in ("Node and npm", "Chromium", "redis-server", "nginx"):
        assert run[name].ok == here[name].ok, (name, run.output)
