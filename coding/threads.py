"""One-thread sections for the native thread pools (BLAS, OpenMP).

spaCy's network, liblinear and the coder's tree meta-learners work on small matrices,
where a second BLAS or OpenMP thread costs more than it saves, and the coder's
training already runs its own threads: coding a drill answer took 43 ms instead of
about 25, and training the default coder 55 s instead of 29 (2 cores).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _controller() -> Any:
    # Load the runtimes first, so the controller knows them: numpy's BLAS, and the
    # OpenMP runtime that scikit-learn's gradient boosting brings. Finding them takes
    # about 6 ms with spaCy loaded; limiting through a found controller about 20 µs.
    import numpy  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded(user_api: str | None = None) -> Any:
    """A context in which BLAS and OpenMP (or just ``user_api``: "blas", "openmp") run
    one thread. OpenMP's setting belongs to the calling thread: concurrent threads
    neither undo each other's nor inherit it. BLAS's is process-wide and restored on
    leaving; overlapping BLAS limits from two threads can restore out of order, which
    only ever changes speed, never results."""
    return _controller().limit(limits=1, user_api=user_api)
