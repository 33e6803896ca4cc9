"""What every benchmark times with: the best of a few runs after a warm-up."""

import time


def best_time(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``fn`` in seconds, after one call that warms filter
    banks, caches, numba and the weights."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
