from __future__ import annotations

import random


def retry_delay(retry_count: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before retry number `retry_count + 1`: exponential, capped, with jitter.

    "Equal jitter": half the exponential step is fixed and half random, so concurrent jobs that failed
    together spread out, while each retry still waits at least as long as the one before.
    """
    step = min(cap, base * 2**retry_count)
    return step / 2 + (rng or random).uniform(0, step / 2)
