"""The book site `make book` builds (issue 21): every page renders in Chromium, offline.

The site is served from ``build/book/_build/html`` by a static server on loopback (Mermaid's
modules can't load from ``file://``). Each notebook's page must show its title and its stored
outputs, each Mermaid diagram must be drawn as SVG, no page may raise an error, and no request
to the site may fail; the ``pages`` fixture fails any request to another host (a CDN). An
exercise's page shows its checker's verdict, never its solution or its hidden test
(``book/_ext/no_answers.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import nbformat
import pytest
import pytest_asyncio
from aiohttp import web
from browser_support import require

from tests.scale_support import IN_CI

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "book" / "_build" / "html"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def has_mermaid(notebook: Path) -> bool:
    cells = nbformat.read(notebook, as_version=4).cells
    return any("```mermaid" in cell.source for cell in cells if cell.cell_type == "markdown")


def first_output(notebook: Path) -> str:
    """The first line of the first stored stream output: the page must show it."""
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output["text"].strip():
                return output["text"].strip().splitlines()[0]
    raise AssertionError(f"{notebook.name} stores no printed output")


@pytest_asyncio.fixture(loop_scope="session")
async def site() -> AsyncIterator[str]:
    """The built site on a loopback port: its address."""
    if not (SITE / "index.html").exists():
        why = "the book is not built: run `make book` (make test does)"
        if IN_CI:
            pytest.fail(why, pytrace=False)
        require(False, why)
    app = web.Application()
    app.router.add_static("/", SITE)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_the_landing_page_is_the_readme_and_lists_every_notebook(site, pages):
    page = await pages.open(f"{site}/index.html")
    await page.wait_for_load_state("networkidle")
    assert "chat-workbook" in await page.title()
    navigation = await page.locator("nav").all_inner_texts()
    for notebook in NOTEBOOKS:
        title = nbformat.read(notebook, as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
        assert any(title in text for text in navigation), f"{title!r} not in the navigation"
    assert pages.errors == [] and pages.failed == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
async def test_every_notebook_page_renders_its_outputs_and_diagrams(site, pages, notebook):
    page = await pages.open(f"{site}/notebooks/{notebook.stem}.html")
    await page.wait_for_load_state("networkidle")
    title = nbformat.read(notebook, as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
    assert title in await page.locator("article h1").first.inner_text()
    assert first_output(notebook) in await page.locator("article").inner_text()
    if has_mermaid(notebook):
        diagram = page.locator(".mermaid svg").first
        await diagram.wait_for(state="attached", timeout=10_000)
        assert await page.locator(".mermaid svg").count() == await page.locator(".mermaid").count()
    assert pages.errors == [], pages.errors
    assert pages.failed == [], pages.failed


def verdicts(notebook: Path) -> list[str]:
    """The first line of each checker's stored verdict in ``notebook``."""
    cells = nbformat.read(notebook, as_version=4).cells
    return [
        output["data"]["text/plain"].splitlines()[0]
        for cell in cells
        if cell.cell_type == "code" and cell.source.startswith("await check_")
        for output in cell.outputs
        if output.get("output_type") == "execute_result"
    ]


EXERCISES = [notebook for notebook in NOTEBOOKS if verdicts(notebook)]


@pytest.mark.parametrize("notebook", EXERCISES, ids=[n.stem for n in EXERCISES])
async def test_an_exercise_page_shows_verdicts_but_no_solution_and_no_hidden_test(site, pages, notebook):
    page = await pages.open(f"{site}/notebooks/{notebook.stem}.html")
    text = await page.locator("article").inner_text()
    for verdict in verdicts(notebook):
        assert verdict.startswith("Passed: ") and verdict in text
    for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "assert verdict.passed"):
        assert secret not in text, f"{notebook.name}: the page shows {secret!r}"


async def test_the_teaching_guide_is_a_chapter(site, pages):
    page = await pages.open(f"{site}/docs/teaching.html")
    await page.wait_for_load_state("networkidle")
    assert "Run All" in await page.locator("article").inner_text()
    assert pages.errors == [] and pages.failed == []
