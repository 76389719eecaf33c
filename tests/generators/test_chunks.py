"""Chunks drawn ahead on threads: in order, at most so many at once, errors raised in place."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from synthmed.generators._chunks import chunk_streams, drawn_ahead


def test_draws_come_out_in_order_whichever_finishes_first():
    def draw(k: int) -> int:
        time.sleep(0.05 if k % 2 == 0 else 0.0)  # odd chunks finish before the even ones
        return k

    assert list(drawn_ahead(draw, 7, 2)) == list(range(7))


def test_no_more_than_the_threads_run_at_once():
    running, most, lock = 0, 0, threading.Lock()

    def draw(k: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return k

    assert list(drawn_ahead(draw, 8, 2)) == list(range(8))
    assert most == 2


def test_a_failed_draw_raises_where_its_chunk_is_handed_out():
    def draw(k: int) -> int:
        if k == 2:
            raise ValueError("chunk 2")
        return k

    out = drawn_ahead(draw, 5, 2)
    assert [next(out), next(out)] == [0, 1]
    with pytest.raises(ValueError, match="chunk 2"):
        next(out)


def test_each_chunk_has_its_own_stream_and_the_first_is_the_callers():
    rng = np.random.default_rng(5)
    streams = chunk_streams(rng, 4)
    assert streams[0] is rng and len({id(s) for s in streams}) == 4
    firsts = [s.random() for s in streams]
    assert len(set(firsts)) == 4
    again = [s.random() for s in chunk_streams(np.random.default_rng(5), 4)]
    assert again == firsts  # same seed, same streams
    assert chunk_streams(rng, 1) == [rng]
