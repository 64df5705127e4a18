"""The hybrid logical clock (app.store.hlc) that orders change rows across workstations."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from app.store.hlc import Hlc, HybridLogicalClock

HOUR_MS = 3_600_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class ManualWall:
    """A wall clock the test sets by hand, in milliseconds."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


walls = st.integers(min_value=0, max_value=10**15 - 1)
counters = st.integers(min_value=0, max_value=99_999)
stamps = st.builds(Hlc, walls, counters)


def test_clock_follows_the_wall_clock_when_it_moves_forward() -> None:
    wall = ManualWall(START_MS)
    clock = HybridLogicalClock(wall_clock=wall)

    first = clock.now()
    wall.ms += 5
    second = clock.now()

    assert first == Hlc(START_MS, 0)
    assert second == Hlc(START_MS + 5, 0)


def test_timestamps_in_the_same_millisecond_count_up() -> None:
    clock = HybridLogicalClock(wall_clock=ManualWall(START_MS))

    stamps_taken = [clock.now() for _ in range(3)]

    assert stamps_taken == [Hlc(START_MS, 0), Hlc(START_MS, 1), Hlc(START_MS, 2)]


def test_clock_never_goes_backwards_when_the_wall_clock_jumps_back_an_hour() -> None:
    wall = ManualWall(START_MS)
    clock = HybridLogicalClock(wall_clock=wall)
    before = clock.now()

    wall.ms -= HOUR_MS
    after = [clock.now() for _ in range(5)]
    wall.ms += 10  # still an hour behind what the clock has already issued
    later = clock.now()

    sequence = [before, *after, later]
    assert all(a < b for a, b in pairwise(sequence))
    assert all(a.encode() < b.encode() for a, b in pairwise(sequence))


def test_clock_resumes_from_the_last_saved_timestamp() -> None:
    last = Hlc(START_MS + HOUR_MS, 7)
    clock = HybridLogicalClock(last, wall_clock=ManualWall(START_MS))

    assert clock.now() > last


@given(stamps)
def test_encode_then_decode_gives_the_same_timestamp(stamp: Hlc) -> None:
    assert Hlc.decode(stamp.encode()) == stamp


@given(stamps, stamps)
def test_text_order_equals_tuple_order(a: Hlc, b: Hlc) -> None:
    assert (a.encode() < b.encode()) == (a < b)
    assert (a.encode() == b.encode()) == (a == b)


@given(st.lists(st.integers(min_value=-2 * HOUR_MS, max_value=2 * HOUR_MS), max_size=50))
def test_any_wall_clock_wandering_gives_strictly_increasing_text(steps: list[int]) -> None:
    wall = ManualWall(START_MS)
    clock = HybridLogicalClock(wall_clock=wall)
    issued = [clock.now().encode()]

    for step in steps:
        wall.ms += step
        issued.append(clock.now().encode())

    assert all(a < b for a, b in pairwise(issued))


def test_text_order_holds_past_99999_ticks_while_the_wall_clock_is_behind() -> None:
    # After the wall clock jumps back an hour, every write for that hour only bumps the
    # counter; a busy hour (an import, the demo clinic) writes well over 99,999 change
    # rows, and the change table is ordered by the hlc text.
    wall = ManualWall(START_MS)
    clock = HybridLogicalClock(wall_clock=wall)
    clock.now()
    wall.ms -= HOUR_MS

    previous = clock.now().encode()
    out_of_order = 0
    for _ in range(100_001):
        current = clock.now().encode()
        out_of_order += current <= previous
        previous = current

    assert out_of_order == 0


def test_observing_a_clock_hours_ahead_moves_past_it() -> None:
    wall = ManualWall(START_MS)
    clock = HybridLogicalClock(wall_clock=wall)
    clock.now()
    remote = Hlc(START_MS + 3 * HOUR_MS, 4)

    merged = clock.observe(remote)
    wall.ms += 1
    following = clock.now()

    assert merged > remote
    assert following > merged
    assert following.encode() > remote.encode()


def test_observing_an_older_timestamp_still_moves_forward() -> None:
    wall = ManualWall(START_MS)
    clock = HybridLogicalClock(wall_clock=wall)
    local = clock.now()

    merged = clock.observe(Hlc(START_MS - HOUR_MS, 50))

    assert merged > local
    assert clock.now() > merged


def test_observing_the_same_millisecond_takes_the_larger_counter() -> None:
    wall = ManualWall(START_MS - 10)
    clock = HybridLogicalClock(Hlc(START_MS, 3), wall_clock=wall)

    merged = clock.observe(Hlc(START_MS, 9))

    assert merged == Hlc(START_MS, 10)


@given(st.lists(st.tuples(st.booleans(), stamps, st.integers(-HOUR_MS, HOUR_MS)), max_size=40))
def test_every_timestamp_issued_exceeds_all_seen_before(
    events: list[tuple[bool, Hlc, int]],
) -> None:
    wall = ManualWall(START_MS)
    clock = HybridLogicalClock(wall_clock=wall)
    highest = clock.now()

    for is_remote, remote, step in events:
        wall.ms += step
        issued = clock.observe(remote) if is_remote else clock.now()
        assert issued > highest
        if is_remote:
            assert issued > remote
        highest = issued
