"""waits.wait_for: the decision between slow, stuck and done, on a simulated clock (the
real-server cases are the Galera procedures' tests and benchmarks/bench_recovery_load.py)."""

from __future__ import annotations

import pytest

from wpfarm_tui.waits import Patience, Seen, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(looks, patience: Patience, poll: float = 1.0):
    clock = Clock()
    it = iter(looks)
    seen_at: list[float] = []

    def look() -> Seen:
        seen_at.append(clock.now)
        return next(it)(clock.now)

    return wait_for(look, patience, poll, clock=clock, sleep=clock.sleep), seen_at


def test_a_step_that_keeps_moving_is_waited_for_past_the_stall():
    # A new seqno every 5 s for 60 s, then done: far longer than the 10 s stall.
    looks = [lambda t: Seen(t >= 60, int(t // 5), f"seqno {int(t // 5)}")] * 100
    result, _ = run(looks, Patience(stall=10, ceiling=600))
    assert result.ok and result.elapsed == 60


def test_no_new_marker_for_the_stall_is_stuck_with_the_last_state():
    looks = [lambda t: Seen(False, "Joining" if t < 3 else "Joined", "Joined" if t >= 3
                            else "Joining")] * 100
    result, _ = run(looks, Patience(stall=10, ceiling=600))
    assert not result.ok and result.stuck
    assert result.elapsed == 13 and result.state == "Joined"


def test_a_node_flapping_between_two_states_is_not_progress():
    looks = [lambda t: Seen(False, int(t) % 2, "flap")] * 100
    result, _ = run(looks, Patience(stall=10, ceiling=600))
    assert result.stuck and result.elapsed == 11  # the second state was new once, at 1 s


def test_moving_without_a_marker_change_counts_as_progress_until_the_ceiling():
    looks = [lambda t: Seen(False, "Joining", "Joining; state transfer", moving=True)] * 1000
    result, _ = run(looks, Patience(stall=10, ceiling=100))
    assert not result.ok and result.why == "ceiling" and result.elapsed == 100


def test_fatal_ends_at_once():
    looks = [lambda t: Seen(False, 1, "starting"), lambda t: Seen(False, 1, "x", fatal="gone")]
    result, seen_at = run(looks, Patience(stall=10, ceiling=100))
    assert (result.ok, result.why, seen_at) == (False, "gone", [0, 1])


def test_patience_refuses_a_stall_longer_than_its_ceiling():
    with pytest.raises(ValueError, match="stall"):
        Patience(stall=10, ceiling=5)
