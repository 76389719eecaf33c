"""Chunks of a large draw on two threads: their random streams, and drawing ahead.

A generator's draw is mostly numpy's work (matrix products, sorting, interpolation), which
releases the interpreter's lock, so two chunks drawn at once on the machine's two cores take
less time than one after the other: the copula's draw of 400,000 rows of the scale benchmark's
table took 5.2 s one chunk after another and 3.9 s two at a time. Each chunk then needs a
random stream of its own, so that the output does not depend on which thread ran first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

__all__ = ["DRAW_THREADS", "chunk_streams", "drawn_ahead"]

#: chunks drawn at once: the machine's two cores
DRAW_THREADS = 2

T = TypeVar("T")


def chunk_streams(rng: np.random.Generator, count: int) -> list[np.random.Generator]:
    """A random stream per chunk: the first chunk draws from ``rng`` itself (so that one
    chunk equals one ``sample``), the others from streams spawned from it. A bit generator
    without a seed sequence to spawn from gives ``rng`` for every chunk (drawn in turn)."""
    if count <= 1:
        return [rng] * count
    try:
        return [rng, *rng.spawn(count - 1)]
    except (TypeError, ValueError, AttributeError):
        return [rng] * count


def drawn_ahead(draw: Callable[[int], T], count: int, threads: int) -> Iterator[T]:
    """``draw(0), ..., draw(count - 1)`` in order, with up to ``threads`` of them running at
    once on a thread pool; memory holds those and the one handed out. A draw's error is
    raised where its result is handed out; the pool waits for the running draws on exit."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque[Future[T]] = deque()
        following = 0
        try:
            while following < count or pending:
                while following < count and len(pending) < threads:
                    pending.append(pool.submit(draw, following))
                    following += 1
                done = pending.popleft().result()
                if following < count:  # the pool stays busy while the consumer works
                    pending.append(pool.submit(draw, following))
                    following += 1
                yield done
        finally:
            for future in pending:  # a consumer that stops early: no draw waits to start
                future.cancel()
