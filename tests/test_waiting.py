"""Honest waits: only what arrived since the cell began (or a mark) counts; short errors."""

from __future__ import annotations

import asyncio

import pytest

from helpers.common import waiting
from helpers.common.waiting import Lines, WaitTimeout, describe_interrupt


async def test_a_line_from_before_the_cell_does_not_satisfy_a_wait(monkeypatch):
    monkeypatch.setattr(waiting, "_cell_mark", waiting._cell_mark)  # restored after the test
    lines = Lines("bob")
    lines.append("alice: hi")  # left over from an earlier run
    waiting.cell_began()
    with pytest.raises(WaitTimeout, match="bob got no 'alice: hi' within 0.1 s; last arrived: nothing"):
        await lines.wait_for("alice: hi", timeout=0.1)
    asyncio.get_running_loop().call_later(0.05, lines.append, "alice: hi")
    await lines.wait_for("alice: hi", timeout=1)  # a new one does


async def test_a_mark_taken_by_the_cell_counts_from_there():
    lines = Lines("the server log")
    lines.append("Client connected (1 open).")
    mark = waiting.now()
    lines.append("ws got: hi")
    await lines.wait_for("ws got: hi", since=mark, timeout=0.1)
    with pytest.raises(WaitTimeout):
        await lines.wait_for("Client connected", since=mark, timeout=0.1)


def test_a_timeout_is_one_line_in_a_notebook():
    error = WaitTimeout("bob got no 'hi' within 3 s; last arrived: nothing")
    assert error._render_traceback_() == ["TimeoutError: bob got no 'hi' within 3 s; last arrived: nothing"]
    assert isinstance(error, TimeoutError)


async def test_an_interrupt_says_what_it_interrupted():
    lines = Lines("bob")

    async def waits() -> None:
        await lines.wait_for("never", timeout=10)

    task = asyncio.get_running_loop().create_task(waits())
    await asyncio.sleep(0.01)
    task.cancel()  # what the kernel's stop button does to a running cell
    with pytest.raises(asyncio.CancelledError) as interrupted:
        await task
    assert interrupted.value._render_traceback_() == ["Interrupted while waiting for bob to get 'never'."]


def test_describe_interrupt_leaves_other_errors_alone():
    with pytest.raises(ValueError), describe_interrupt("x"):
        raise ValueError("not an interrupt")


def test_lines_only_grow():
    lines = Lines("x", ["a"])
    with pytest.raises(TypeError):
        del lines[0]
    assert lines == ["a"]
