"""Proactive rate limiting: token buckets per account and endpoint, from each network's
documented limits, that delay or defer before sending instead of hitting 429 (ratelimit.py)."""

from __future__ import annotations

import pytest

from tertulia.networks.base import Credentials, PostPayload
from tertulia.networks.errors import RateLimited
from tertulia.networks.http import HttpConfig
from tertulia.networks.mastodon import MastodonConnector
from tertulia.networks.ratelimit import BucketBook, RateRule, TokenBucket


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_bucket_starts_full_and_refills_at_its_rate():
    clock = Clock()
    bucket = TokenBucket(3, 1.0, clock)
    for _ in range(3):
        assert bucket.wait_for() == 0
        bucket.take()
    assert bucket.wait_for() == pytest.approx(1.0)
    clock.now += 0.5
    assert bucket.wait_for() == pytest.approx(0.5)
    clock.now += 100
    assert bucket.wait_for() == 0 and bucket.tokens == 3  # never above capacity


def test_the_book_waits_briefly_and_defers_beyond_the_limit():
    clock = Clock()
    book = BucketBook(clock)
    rule = RateRule("api", 2, 10.0)  # one token every 5 s
    assert book.reserve("a", [rule], max_wait=1.0) == 0
    assert book.reserve("a", [rule], max_wait=1.0) == 0
    assert book.reserve("a", [rule], max_wait=1.0) == pytest.approx(-5.0)  # not reserved: defer
    assert book.reserve("b", [rule], max_wait=1.0) == 0  # another account has its own bucket
    clock.now += 4.5
    assert book.reserve("a", [rule], max_wait=1.0) == pytest.approx(0.5)  # reserved: wait half a second
    assert book.reserve("a", [rule], max_wait=1.0) == pytest.approx(-5.5)


def test_every_matching_bucket_must_have_a_token():
    book = BucketBook(Clock())
    api, media = RateRule("api", 10, 10.0), RateRule("media", 1, 100.0, methods=frozenset({"POST"}),
                                                      path=r"/api/v[12]/media$")
    assert media.matches("POST", "/api/v2/media") and not media.matches("GET", "/api/v2/media")
    assert not media.matches("POST", "/api/v1/statuses")
    assert book.reserve("a", [api, media], max_wait=0) == 0
    assert book.reserve("a", [api, media], max_wait=0) == pytest.approx(-100.0)
    assert book.available("a", api) == 9  # the refused request took nothing


class TinyMastodon(MastodonConnector):
    rate_rules = (RateRule("api", 2, 600.0),)


def test_the_connector_defers_before_the_network_says_429(fake_mastodon):
    config = HttpConfig(connect_timeout=2.0, read_timeout=5.0, allow_private_networks=True, rate_limit_max_wait=0.5)
    with TinyMastodon(base_url=fake_mastodon.base_url, credentials=Credentials(access_token=fake_mastodon.token),
                      http_config=config, account_key="tiny", buckets=BucketBook()) as connector:
        connector.publish(PostPayload(text="uno"))
        connector.publish(PostPayload(text="dos"))
        with pytest.raises(RateLimited) as info:
            connector.publish(PostPayload(text="tres"))
    assert info.value.detail.startswith("not sent: proactive limit (api)")
    assert 250 <= info.value.retry_after <= 300
    assert len(fake_mastodon.requests_to("POST", "/api/v1/statuses")) == 2  # the third never left
    assert not [r for r in fake_mastodon.requests if r.status == 429]


def test_the_networks_documented_limits_are_declared():
    from tertulia.networks.bluesky import BlueskyConnector

    names = {rule.name: rule for rule in MastodonConnector.rate_rules}
    assert (names["api"].capacity, names["api"].period) == (300, 300.0)
    assert (names["media"].capacity, names["media"].period) == (30, 1800.0)
    assert names["delete"].matches("DELETE", "/api/v1/statuses/123")
    bluesky = {rule.name: rule for rule in BlueskyConnector.rate_rules}
    assert bluesky["writes-hour"].cost == 3 and bluesky["writes-hour"].matches(
        "POST", "/xrpc/com.atproto.repo.createRecord")
