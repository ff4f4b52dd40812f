"""The poller's retry schedule while the registry does not answer."""

from __future__ import annotations

from services.model_server.routing import retry_wait


def test_a_healthy_registry_is_polled_every_interval():
    assert retry_wait(0, interval=30, max_backoff=30) == 30


def test_failed_polls_back_off_1_2_4_seconds_up_to_the_interval():
    assert [retry_wait(n, interval=10, max_backoff=30) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_the_backoff_never_exceeds_its_cap_even_with_a_long_interval():
    assert [retry_wait(n, interval=300, max_backoff=30) for n in (5, 6, 50)] == [16, 30, 30]
