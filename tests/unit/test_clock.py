import threading
from datetime import UTC, datetime, timedelta

import pytest

from core import clock


def test_as_of_moves_the_clock_for_its_block_only():
    then = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    with clock.as_of(then):
        inside = clock.now()
        seen_by_another_thread: list[datetime] = []
        thread = threading.Thread(target=lambda: seen_by_another_thread.append(clock.now()))
        thread.start()
        thread.join()
        with clock.as_of(then - timedelta(days=1)):
            assert abs(clock.now() - (then - timedelta(days=1))) < timedelta(seconds=5)
        assert abs(clock.now() - then) < timedelta(seconds=5)  # the outer moment is back
    assert timedelta(0) <= inside - then < timedelta(seconds=5)  # it runs on from the moment
    assert abs(seen_by_another_thread[0] - datetime.now(UTC)) < timedelta(seconds=5)  # not shared
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)


def test_as_of_ends_also_when_its_block_fails():
    with pytest.raises(RuntimeError), clock.as_of(datetime(2020, 1, 1, tzinfo=UTC)):
        raise RuntimeError("boom")
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
