"""The poll schedule (orchestrator/polling.py): when the state machine looks at a running job again."""

from __future__ import annotations

import pytest
from orchestrator.config import settings_from_env
from orchestrator.polling import PollSchedule

from devstack.template import load_template

DEPLOYED = PollSchedule()


def test_the_first_minute_is_looked_at_every_two_seconds() -> None:
    assert {DEPLOYED.wait_seconds(age / 10) for age in range(0, 600)} == {2}


def test_after_the_first_minute_the_interval_doubles_at_a_tenth_of_the_age_up_to_the_cap() -> None:
    ages = (60, 79, 80, 159, 160, 299, 300, 3600)
    assert [DEPLOYED.wait_seconds(age) for age in ages] == [4, 4, 8, 8, 16, 16, 30, 30]
    # Never longer than the cap, never shorter than the fast interval, never decreasing with age.
    waits = [DEPLOYED.wait_seconds(age) for age in range(0, 4000)]
    assert min(waits) == 2 and max(waits) == 30
    assert waits == sorted(waits)


def test_the_gap_stays_within_a_tenth_of_the_age_after_the_first_minute() -> None:
    for age in range(60, 4000):
        assert DEPLOYED.wait_seconds(age) <= max(2, 0.1 * age, 1), age


def test_the_deadline_is_never_overshot() -> None:
    assert DEPLOYED.wait_seconds(10, remaining_seconds=0.4) == 1
    assert DEPLOYED.wait_seconds(400, remaining_seconds=5.2) == 6
    assert DEPLOYED.wait_seconds(400, remaining_seconds=100) == 30


def test_a_fast_interval_above_the_cap_is_cut_to_the_cap() -> None:
    assert PollSchedule(fast_seconds=5, max_seconds=1).wait_seconds(0) == 1


@pytest.mark.parametrize("changes", [{"fast_seconds": 0}, {"max_seconds": 0}, {"growth": -1.0}])
def test_a_nonsense_schedule_is_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PollSchedule(**changes)  # type: ignore[arg-type]


def test_the_deployed_schedule_is_what_template_yaml_sets_and_the_settings_read() -> None:
    template = load_template()
    environ = {
        name: template.global_variable(name) or ""
        for name in ("POLL_FAST_SECONDS", "POLL_FAST_WINDOW_SECONDS", "POLL_MAX_SECONDS")
    }
    assert all(environ.values()), environ
    schedule = settings_from_env(environ).poll_schedule
    assert schedule == DEPLOYED
    assert settings_from_env({}).poll_schedule == DEPLOYED  # the code's defaults agree
