"""The UTM builder: tagging, presets, refused schemes, short links."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tertulia.content import composer, services
from tertulia.content.models import ShortLink, UtmPreset
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx

pytestmark = pytest.mark.django_db


def test_tag_url_keeps_the_query_and_fragment_and_does_not_double_encode():
    params = {"utm_source": "x", "utm_medium": "social", "utm_campaign": "otoño 2030"}
    url = "https://shop.example/p?q=caf%C3%A9+con+leche&empty=&utm_source=old&UTM_medium=old2#reviews"
    tagged = composer.tag_url(url, params)
    assert tagged == ("https://shop.example/p?q=caf%C3%A9+con+leche&empty="
                      "&utm_source=x&utm_medium=social&utm_campaign=oto%C3%B1o%202030#reviews")
    assert composer.tag_url(tagged, params) == tagged  # idempotent: tagging twice changes nothing
    assert composer.tag_url("http://a.example", {"utm_source": "x"}) == "http://a.example?utm_source=x"


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
                                 "data:text/html,<b>x</b>", "ftp://a.example/", "//a.example/", "a.example",
                                 "https://a.example/\n<script>", "", "https://" + "a" * 2100 + ".example"])
def test_only_web_addresses_are_accepted(bad):
    with pytest.raises(ValidationError):
        composer.tag_url(bad, {"utm_source": "x"})


def test_presets_and_defaults(brand_a):
    brand, people = brand_a
    cm = Ctx(people["community_manager"])
    campaign = services.do_create_campaign(cm, brand, name="Rebajas de invierno")
    assert composer.utm_params(brand, "x", campaign) == {
        "utm_source": "x", "utm_medium": "social", "utm_campaign": "rebajas-de-invierno"}
    composer.do_save_utm_preset(cm, brand, "x", utm_source="twitter", utm_medium="organic", utm_content="v1")
    assert composer.utm_params(brand, "x") == {"utm_source": "twitter", "utm_medium": "organic", "utm_content": "v1"}
    urls = composer.tagged_urls(brand, "https://a.example/", ["x", "bluesky"], campaign)
    assert urls["x"].endswith("utm_source=twitter&utm_medium=organic&utm_content=v1&utm_campaign=rebajas-de-invierno")
    assert "utm_source=bluesky" in urls["bluesky"]
    assert AuditEvent.objects.filter(action="utm_preset.save").count() == 1
    with pytest.raises(ValidationError):
        composer.do_save_utm_preset(cm, brand, "x", utm_source="<script>")
    with pytest.raises(ValidationError):
        composer.do_save_utm_preset(cm, brand, "myspace", utm_source="a")
    with pytest.raises(PermissionDenied):
        composer.do_save_utm_preset(Ctx(people["analyst"]), brand, "x", utm_source="a")
    composer.do_delete_utm_preset(cm, UtmPreset.objects.get(brand=brand, network="x"))
    assert composer.utm_params(brand, "x")["utm_source"] == "x"


def test_short_links_per_network(brand_a, brand_b):
    brand, people = brand_a
    cm = Ctx(people["community_manager"])
    campaign = services.do_create_campaign(cm, brand, name="Otoño")
    out = composer.do_create_tracked_links(cm, brand, "https://a.example/p?id=3", ["bluesky", "x"], campaign)
    assert list(out) == ["x", "bluesky"]
    for network, short in out.items():
        link = ShortLink.objects.get(slug=short.rsplit("/", 1)[1])
        assert link.utm_source == network and link.utm_campaign == "otono"
        assert services.tracked_url(link) == f"https://a.example/p?id=3&utm_source={network}&utm_medium=social&utm_campaign=otono"
    other_campaign = services.do_create_campaign(Ctx(brand_b[1]["owner"]), brand_b[0], name="Beta")
    with pytest.raises(PermissionDenied):
        composer.do_create_tracked_links(cm, brand, "https://a.example/", ["x"], other_campaign)
    with pytest.raises(ValidationError):
        composer.do_create_tracked_links(cm, brand, "javascript:alert(1)", ["x"])
