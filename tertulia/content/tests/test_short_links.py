"""`/l/<slug>`: the public redirect of tracked short links, and its click counting."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tertulia.content import services
from tertulia.content.models import LinkClick
from tertulia.core.services import Ctx

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"


@pytest.fixture
def link(brand_a):
    brand, people = brand_a
    return services.do_create_short_link(
        Ctx(people["owner"], via="test"), brand, target_url="https://example.org/menu?day=mon",
        utm_source="mastodon", utm_campaign="otono",
    )


def test_a_person_is_redirected_with_utm_and_counted(client, link):
    response = client.get(f"/l/{link.slug}", HTTP_USER_AGENT=BROWSER, HTTP_REFERER="https://mastodon.social/@cafe/1")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "example.org", "/menu")
    assert parse_qs(target.query) == {"day": ["mon"], "utm_source": ["mastodon"], "utm_medium": ["social"],
                                      "utm_campaign": ["otono"]}
    click = LinkClick.objects.get(link=link)
    assert click.brand_id == link.brand_id and click.referrer_host == "mastodon.social"
    assert "no-cache" in response.headers["Cache-Control"]  # every click reaches us


@pytest.mark.parametrize("agent", ["facebookexternalhit/1.1", "Mastodon/4.3.0 (http.rb/5.2.0; +https://m.example/)",
                                   "curl/8.5.0", "Googlebot/2.1", "python-httpx/0.27", ""])
def test_bots_and_link_previews_are_redirected_but_not_counted(client, link, agent):
    response = client.get(f"/l/{link.slug}", HTTP_USER_AGENT=agent)
    assert response.status_code == 302
    assert not LinkClick.objects.exists()


def test_head_is_not_a_click_and_post_is_refused(client, link):
    assert client.head(f"/l/{link.slug}", HTTP_USER_AGENT=BROWSER).status_code == 302
    assert client.post(f"/l/{link.slug}", HTTP_USER_AGENT=BROWSER).status_code == 405
    assert not LinkClick.objects.exists()


@pytest.mark.parametrize("slug", ["nope123", "a" * 17, "%3Cscript%3E", "..%2F..%2Fetc"])
@pytest.mark.django_db
def test_unknown_or_malformed_slugs_are_404(client, slug):
    assert client.get(f"/l/{slug}", HTTP_USER_AGENT=BROWSER).status_code == 404


def test_no_personal_data_is_stored(client, link):
    client.get(f"/l/{link.slug}", HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.9",
               HTTP_REFERER="https://mail.example.com/inbox?user=ana@example.com")
    stored = LinkClick.objects.values().get()
    flat = " ".join(str(v) for v in stored.values())
    assert "203.0.113.9" not in flat and "ana@example.com" not in flat and "Chrome" not in flat
    assert stored["referrer_host"] == "mail.example.com"
