"""Wait strategies: what a consumer (or a producer facing a full ring) does while it waits.

=============  =====================================================  =====================
strategy       idle behaviour                                         trade-off
=============  =====================================================  =====================
BUSY_SPIN      ``pause`` in a loop                                    lowest latency; burns
                                                                      a whole core forever
YIELDING       spin briefly, then ``sched_yield``                     low latency; still
                                                                      100% CPU when idle
SLEEPING       spin, yield, then ``nanosleep`` doubling 1 µs → 1 ms   near-zero idle CPU;
                                                                      wake-up up to ~1 ms
BLOCKING       spin, yield, then sleep on a futex in the header;      zero idle CPU; wake
(default)      publishers wake sleepers                               in ~10-50 µs; every
                                                                      publish pays a fence
=============  =====================================================  =====================

The machine this runs on has 2 cores shared by several busy processes, so the default,
:data:`DEFAULT`, is BLOCKING: an idle ring costs nothing, a busy ring never reaches the
futex (the spin and yield phases catch the next batch), and the producer's cost is a full
fence plus one load per published batch, and a ``futex_wake`` syscall only when somebody
sleeps. The strategy is chosen by the ring's owner and stored in the header, because
producers and consumers must agree on it (only BLOCKING producers wake anyone).

A producer that finds the ring full, whatever the strategy, spins, yields and sleeps (the
SLEEPING schedule) until the slowest consumer moves: a full ring means a consumer is behind,
and on 2 cores a spinning producer would only take the CPU that consumer needs.

The ALERT cell stops waits for orderly shutdown: RUN, DRAIN (consumers stop once they have
consumed everything claimed) or HALT (stop now). Waits return a sequence >= 0, or
:data:`ALERTED` / :data:`TIMED_OUT`.
"""

from __future__ import annotations

from ringex.jit import njit
from ringex.ring.atomics import cpu_relax, fence, fetch_add, load_acquire
from ringex.ring.kernel import futex_wake, sched_yield, sleep_ns
from ringex.ring.layout import FUTEX_WORD, WAIT_STRATEGY, WAITERS

__all__ = ["BUSY_SPIN", "YIELDING", "SLEEPING", "BLOCKING", "DEFAULT", "NAMES",
           "RUN", "DRAIN", "HALT", "ALERTED", "TIMED_OUT",
           "backoff", "should_block", "signal", "BLOCK_SLICE_NS"]

BUSY_SPIN = 0
YIELDING = 1
SLEEPING = 2
BLOCKING = 3
DEFAULT = BLOCKING
NAMES = {"busy-spin": BUSY_SPIN, "yielding": YIELDING, "sleeping": SLEEPING,
         "blocking": BLOCKING}

RUN = 0
DRAIN = 1
HALT = 2
ALERTED = -2
TIMED_OUT = -3

_SPIN_TRIES = 256
_YIELD_TRIES = 64
_SLEEP_MIN_NS = 1_000
_SLEEP_MAX_NS = 1_000_000
#: Longest single futex sleep: a sleeper re-checks the alert flag and its deadline this often.
BLOCK_SLICE_NS = 20_000_000


@njit
def should_block(strategy, attempt):
    """True once a BLOCKING waiter has spun and yielded enough to sleep in the kernel."""
    return strategy == BLOCKING and attempt >= _SPIN_TRIES + _YIELD_TRIES


@njit
def backoff(strategy, attempt):
    """One idle step of attempt number ``attempt`` (0, 1, ...) under ``strategy``."""
    if strategy == BUSY_SPIN or attempt < _SPIN_TRIES:
        cpu_relax()
    elif strategy == YIELDING or attempt < _SPIN_TRIES + _YIELD_TRIES:
        sched_yield()
    else:
        shift = min(attempt - _SPIN_TRIES - _YIELD_TRIES, 10)
        sleep_ns(min(_SLEEP_MIN_NS << shift, _SLEEP_MAX_NS))


@njit
def signal(header):
    """After a publish or a consumer's progress: wake futex sleepers, if any (BLOCKING only)."""
    if header[WAIT_STRATEGY] == BLOCKING:
        # the store just made must be visible before WAITERS is read (store-load order)
        fence()
        if load_acquire(header, WAITERS) > 0:
            fetch_add(header, FUTEX_WORD, 1)
            futex_wake(header, FUTEX_WORD)
