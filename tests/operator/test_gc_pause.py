"""The process-wide pause of the cyclic garbage collector around bulk work."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from obsyk_operator.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def collector_enabled() -> Iterator[None]:
    """Every test starts with the collector on and leaves it on, whatever happens."""
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_re_enable_only_when_the_outermost_ends() -> None:
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_after_an_exception() -> None:
    with pytest.raises(ValueError, match="bad page"), gc_paused():
        raise ValueError("bad page")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_pauses_in_threads_re_enable_only_when_the_last_ends() -> None:
    """First in is not last out: the thread that started the pause must not end it early."""
    first_inside, second_inside = threading.Event(), threading.Event()
    first_done, release_second = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with gc_paused():
            first_inside.set()
            second_inside.wait(5)
        seen["after first ended"] = gc.isenabled()
        first_done.set()

    def second() -> None:
        first_inside.wait(5)
        with gc_paused():
            second_inside.set()
            release_second.wait(5)
            seen["second still inside"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert first_done.wait(5)
    release_second.set()
    for thread in threads:
        thread.join(5)
    assert seen == {"after first ended": False, "second still inside": False}
    assert gc.isenabled()


def test_overlapping_pauses_cannot_keep_cyclic_garbage_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server whose threads always overlap never reaches a zero count."""
    import obsyk_operator.gc_pause as gc_pause

    now = [1000.0]
    monkeypatch.setattr(gc_pause, "clock", lambda: now[0])

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    outer = gc_paused()
    outer.__enter__()  # another thread's long ingestion, still running throughout
    try:
        with gc_paused():
            Cycle()  # unreachable, only a collection can free it
            now[0] += gc_pause.MAX_OFF_SECONDS / 2
        assert any(type(o) is Cycle for o in gc.get_objects()), "collected too early"
        with gc_paused():
            now[0] += gc_pause.MAX_OFF_SECONDS
        assert not any(type(o) is Cycle for o in gc.get_objects())
        assert not gc.isenabled()  # the outer pause still holds
    finally:
        outer.__exit__(None, None, None)
    assert gc.isenabled()
