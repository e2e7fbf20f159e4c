"""What a notebook imports stays short and stable, and the plumbing's folders show its architecture.

A notebook (and the code it exports into ``helpers.stages``) imports plumbing only as
``from helpers import NAME``, with NAME one of ``NOTEBOOK_NAMES`` below: a new name is a
decision, made here. Lesson code (the modules earlier notebooks export, and the checkers)
is imported from its own module. Behind that face, the import graph of ``helpers`` has no
circle, and each folder imports only the folders its role allows.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pytest

import helpers
from tools import export

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
PACKAGE = ROOT / "helpers"

NOTEBOOK_NAMES = frozenset({
    # running a server in the kernel, and showing it
    "start_server", "stop_server", "current_server", "DEFAULT_PORT", "page", "show_file",
    # the server's plumbing a stage builds on
    "PUBLIC", "LOG", "LIMITS", "RATE_LIMIT", "ServerLog", "allow_origins", "chat_app", "drop",
    "transport_of", "until_sent", "registered_handlers",
    # chat clients
    "ChatClient", "JsonChatClient", "SocketIOClient", "SocketIOChatClient", "side_by_side",
    "transcript", "hide_ids", "websocket_cli", "handshake_status", "stall_test",
    # the whole class (notebook 10)
    "ClassPanel", "JoinCard", "join_card", "hand_out_a_new_key",
    # the load lab (notebook 11)
    "compare", "loop_lag", "plot_runs", "run_load", "summary",
    # programs beside the kernel (notebook 12)
    "start_nginx", "start_redis", "start_serve", "temporary_folder",
})
"""Every name a notebook may import from ``helpers``."""

SUBPACKAGES = frozenset({"checks"})
"""``from helpers import checks as grader``: the autograder's cells (notebooks 03-09)."""

LESSON_MODULES = frozenset({"helpers.stages", "helpers.checks"} | {
    f"helpers.{module}" for module in export.exported_cells(NOTEBOOKS)
})
"""What a notebook may import from a module of its own: the code earlier notebooks export
(``helpers.stages.echo``, ``helpers.protocol``, ...) and the exercises' checkers."""

ALLOWED = {
    "common": set(),
    "server": {"common", "protocol"},
    "kernel": {"common", "server", "stages", "clients"},
    "clients": {"common"},
    "programs": {"common"},
    "loadlab": {"common", "kernel"},
    "checks": {"common", "server", "kernel", "clients", "programs"},
    "stages": {"common", "server", "stages", "protocol", "delivery"},
    "protocol": set(),
    "delivery": set(),
    "serve": {"common", "server", "kernel", "stages", "serve_checks"},
    "serve_checks": {"common", "kernel", "delivery"},
}
"""The folders (and top-level modules) each may import. The server imports no kernel tool, no
client and no stage; a client imports nothing but ``common`` (it connects as any client does,
and follows this kernel's servers through ``common.signals``); the kernel's tools sit above
the server and the clients (the teacher's panel reads the stages' nicknames, the stall test
runs clients)."""


def notebook_imports(path: Path) -> list[tuple[int, ast.stmt]]:
    """Every import statement of the notebook's code cells, with its cell's index."""
    found = []
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append((index, node))
    return found


def problems_with(node: ast.stmt) -> list[str]:
    """What is wrong with one import of a notebook's (or an exported module's) plumbing."""
    if isinstance(node, ast.Import):
        plumbing = [a.name for a in node.names if a.name.startswith("helpers")]
        return [f"import {name}: use from helpers import NAME" for name in plumbing]
    module = node.module or ""
    if module == "helpers":
        return [
            f"from helpers import {a.name}: not in NOTEBOOK_NAMES"
            for a in node.names
            if a.name not in NOTEBOOK_NAMES | SUBPACKAGES
        ]
    if module.startswith("helpers.") and module not in LESSON_MODULES:
        names = ", ".join(a.name for a in node.names)
        return [f"from {module} import {names}: plumbing is imported as from helpers import NAME"]
    return []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name[:2])
def test_a_notebook_imports_plumbing_only_by_the_listed_names(path: Path) -> None:
    problems = [
        f"cell {index}: {problem}"
        for index, node in notebook_imports(path)
        for problem in problems_with(node)
    ]
    assert not problems, "\n".join(problems)


def test_the_exported_lesson_code_imports_plumbing_the_same_way() -> None:
    modules = [PACKAGE / (name.replace(".", "/") + ".py") for name in export.exported_cells(NOTEBOOKS)]
    modules += sorted((PACKAGE / "stages").glob("*.py"))
    problems = [
        f"{path.relative_to(ROOT)}: {problem}"
        for path in modules
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for problem in problems_with(node)
    ]
    assert not problems, "\n".join(problems)


def test_the_listed_names_are_the_packages_face_and_each_is_there() -> None:
    assert set(helpers.NAMES) == NOTEBOOK_NAMES
    for name, module in helpers.NAMES.items():
        assert getattr(helpers, name) is getattr(importlib.import_module(module), name), name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        helpers.nothing_here  # noqa: B018


def test_a_name_no_notebook_may_import_is_refused() -> None:
    (node,) = ast.parse("from helpers import hold_socketio").body
    assert problems_with(node) == ["from helpers import hold_socketio: not in NOTEBOOK_NAMES"]
    (node,) = ast.parse("from helpers.server.app import PUBLIC").body
    assert problems_with(node) and "from helpers import NAME" in problems_with(node)[0]
    (node,) = ast.parse("from helpers.stages.receive import index").body
    assert problems_with(node) == []


# --- the plumbing's architecture: folders by role, no circle -----------------------------------


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The ``helpers`` modules ``path`` imports, anywhere in it (inside functions too).

    ``from helpers import NAME`` leads to the module that defines NAME (the face is lazy);
    ``from helpers.x import y`` to ``helpers.x.y`` when that is a module, else ``helpers.x``.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers"):
            for alias in node.names:
                if node.module == "helpers" and alias.name in helpers.NAMES:
                    found.add(helpers.NAMES[alias.name])
                elif f"{node.module}.{alias.name}" in modules:
                    found.add(f"{node.module}.{alias.name}")
                else:
                    found.add(node.module)
    return found - {"helpers"}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.glob("**/*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, modules) - {module_name(path)} for path in paths}


def folder(module: str) -> str:
    """``helpers.server.sio.hold`` -> ``server``; ``helpers.protocol`` -> ``protocol``."""
    return module.split(".")[1] if module.count(".") >= 1 else module


def circles_in(graph: dict[str, set[str]]) -> list[str]:
    """Each circle of imports in ``graph``, as ``a -> b -> a``."""
    done: set[str] = set()
    path: list[str] = []
    circles: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            circles.append(" -> ".join([*path[path.index(module):], module]))
            return
        if module in done:
            return
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            visit(imported)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    return circles


def breaks_in(graph: dict[str, set[str]]) -> list[str]:
    """Each import from one folder into another that ``ALLOWED`` does not list."""
    return [
        f"{module} imports {imported}"
        for module, imports in graph.items()
        if folder(module) in ALLOWED
        for imported in sorted(imports)
        if folder(imported) != folder(module) and folder(imported) not in ALLOWED[folder(module)]
    ]


def test_the_import_graph_of_helpers_has_no_circle() -> None:
    circles = circles_in(import_graph())
    assert not circles, "\n".join(circles)


def test_each_folder_imports_only_what_its_role_allows() -> None:
    broken = breaks_in(import_graph())
    assert not broken, "\n".join(broken)


def reached_from(graph: dict[str, set[str]], module: str) -> set[str]:
    """Every module ``module`` imports, directly or through others."""
    reached: set[str] = set()
    waiting = [module]
    while waiting:
        for imported in graph.get(waiting.pop(), ()):
            if imported not in reached:
                reached.add(imported)
                waiting.append(imported)
    return reached


def test_no_client_reaches_the_server_or_the_kernel_even_through_another_module() -> None:
    graph = import_graph()
    reached = {
        module: sorted(m for m in reached_from(graph, module) if folder(m) in ("server", "kernel", "stages"))
        for module in graph
        if folder(module) == "clients"
    }
    assert reached and not any(reached.values()), reached


def test_the_checks_see_a_planted_circle_and_a_client_importing_the_server(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("def later():\n    from helpers.server.app import DOORS\n")  # inside a function too
    assert imported_modules(planted, {"helpers.server.app"}) == {"helpers.server.app"}
    graph = {"helpers.clients.widgets": {"helpers.server.app"}, "helpers.server.app": set()}
    assert breaks_in(graph) == ["helpers.clients.widgets imports helpers.server.app"]
    share, lifecycle = "helpers.kernel.share", "helpers.kernel.lifecycle"
    assert circles_in({share: {lifecycle}, lifecycle: {share}}) == [f"{lifecycle} -> {share} -> {lifecycle}"]
