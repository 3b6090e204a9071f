"""The workload estimator, calibrated on the job description's two baselines."""

import math

import pytest

from tertulia.strategy import workload


def test_first_baseline_two_profiles_three_to_four_posts_each_is_two_to_three_hours():
    e = workload.estimate(2, 7)
    assert (e.low_hours, e.high_hours) == (2.0, 3.0)


def test_second_baseline_three_profiles_five_posts_each_is_six_to_eight_hours():
    e = workload.estimate(3, 15)
    assert 6.0 <= e.low_hours <= 6.5 and 7.5 <= e.high_hours <= 8.0


def test_hours_grow_faster_than_posts_and_nothing_is_nothing():
    assert workload.estimate(0, 0).high_hours == 0
    small, big = workload.estimate(2, 7).hours, workload.estimate(4, 14).hours
    assert big > 2 * small
    assert math.isclose(workload.K, math.log(7 / 2.5) / math.log(15 / 7))


def test_inbox_volume_above_the_included_amount_adds_time():
    quiet, busy = workload.estimate(2, 7, 50), workload.estimate(2, 7, 290)
    assert quiet.inbox_hours == 0 and busy.inbox_hours == 6.0  # 240 × 1.5 min
    assert busy.low_hours == quiet.low_hours + 6.0


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), 10**9, True, "3", None])
def test_bad_inputs_are_refused(bad):
    with pytest.raises(ValueError):
        workload.estimate(2, bad)
