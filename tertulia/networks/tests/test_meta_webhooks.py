"""Meta webhooks end to end through the Django view: the subscription check, the
X-Hub-Signature-256 check on the raw body, Page feed comments and Instagram comments into
the inbox of every account that connected that id, replays stored once, hostile bodies."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.test import Client
from django.urls import reverse

from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.inbox.models import Interaction
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db
SECRET = "app-secret-for-tests"
PAGE = "20531316728"
IG = "17841400000000001"


@pytest.fixture(autouse=True)
def meta_app(settings):
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "meta": {
        "client_id": "1234567890", "client_secret": SECRET, "webhook_verify_token": "verify-me-please"}}


def signed_in(user, brand, network, handle, external_id, token="t", base_url=""):
    """An account connected through the network's sign-in (what vouches for its id)."""
    from tertulia.networks.base import Credentials, Profile
    from tertulia.networks.services import do_connect_oauth_account

    account, _created = do_connect_oauth_account(
        Ctx(user, via="test"), brand, network=network, base_url=base_url, credentials=Credentials(token),
        profile=Profile(external_id=external_id, handle=handle))
    return account


@pytest.fixture
def accounts(brand_a, brand_b):
    (a, pa), (b, pb) = brand_a, brand_b
    fa = signed_in(pa["owner"], a, "facebook", "cafe", PAGE)
    fb = signed_in(pb["owner"], b, "facebook", "cafe", PAGE)
    ig = signed_in(pa["owner"], a, "instagram", "cafetertulia", IG)
    return fa, fb, ig


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(body: bytes, signature: str | None = None, **extra):
    headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    return Client(enforce_csrf_checks=True).post(reverse("meta_webhook"), body, content_type="application/json",
                                                 **headers, **extra)


def page_comment(text="¿Abrís el domingo?", comment_id="10158407654328553_555", verb="add", author="4242",
                 entry=PAGE):
    return json.dumps({"object": "page", "entry": [{"id": entry, "time": 1764100000, "changes": [{
        "field": "feed", "value": {
            "item": "comment", "verb": verb, "comment_id": comment_id, "post_id": f"{PAGE}_10158407654328553",
            "parent_id": f"{PAGE}_10158407654328553", "from": {"id": author, "name": "Lucía Pérez"},
            "message": text, "created_time": 1764100000}}]}]}).encode()


def test_subscription_check_echoes_the_challenge_only_for_our_token():
    url = reverse("meta_webhook")
    ok = Client().get(url, {"hub.mode": "subscribe", "hub.verify_token": "verify-me-please", "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444" and ok["Content-Type"].startswith("text/plain")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me-please", "hub.challenge": "1"},
                   {"hub.mode": "subscribe", "hub.challenge": "1"}, {}):
        assert Client().get(url, params).status_code == 403


def test_subscription_check_refused_when_no_token_is_configured(settings):
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "meta": {"client_secret": SECRET, "webhook_verify_token": ""}}
    response = Client().get(reverse("meta_webhook"), {"hub.mode": "subscribe", "hub.verify_token": "",
                                                      "hub.challenge": "1"})
    assert response.status_code == 403


def test_a_signed_page_comment_reaches_both_brands_that_connected_the_page_once(accounts):
    fa, fb, ig = accounts
    body = page_comment()
    response = post(body, sign(body))
    assert response.status_code == 200
    for account in (fa, fb):
        (item,) = Interaction.objects.filter(account=account)
        assert item.text == "¿Abrís el domingo?" and item.external_id == "10158407654328553_555"
    assert not Interaction.objects.filter(account=ig).exists()
    # Meta retries deliveries: the same event again stores nothing new.
    assert post(body, sign(body)).status_code == 200
    assert Interaction.objects.filter(account__in=[fa, fb]).count() == 2


def test_an_edit_updates_the_text(accounts):
    fa, _fb, _ig = accounts
    first = page_comment()
    post(first, sign(first))
    edit = page_comment(text="¿Abrís el domingo por la tarde?", verb="edited")
    post(edit, sign(edit))
    (item,) = Interaction.objects.filter(account=fa)
    assert item.text == "¿Abrís el domingo por la tarde?"


def test_bad_signatures_store_nothing(accounts):
    body = page_comment()
    for signature in (None, "", "sha256=", sign(body, "wrong-secret"), sign(body).replace("sha256=", "sha1="),
                      sign(body)[:-2] + "00"):
        assert post(body, signature).status_code == 403
    tampered = body.replace(b"domingo", b"lunes!!")
    assert post(tampered, sign(body)).status_code == 403
    assert not Interaction.objects.exists()


def test_the_pages_own_replies_and_unknown_ids_are_ignored(accounts):
    own = page_comment(author=PAGE, comment_id="1_2")
    assert post(own, sign(own)).status_code == 200
    stranger = page_comment(entry="999999999", comment_id="1_3")
    assert post(stranger, sign(stranger)).status_code == 200
    like = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1, "changes": [
        {"field": "feed", "value": {"item": "reaction", "verb": "add", "post_id": "1_1"}}]}]}).encode()
    assert post(like, sign(like)).status_code == 200
    assert not Interaction.objects.exists()


def test_an_instagram_comment_reaches_the_instagram_account(accounts):
    _fa, _fb, ig = accounts
    body = json.dumps({"object": "instagram", "entry": [{"id": IG, "time": 1764100000, "changes": [
        {"field": "comments", "value": {"from": {"id": "232323232", "username": "lector"},
                                        "media": {"id": "17918195224117851", "media_product_type": "FEED"},
                                        "id": "17865799348089039", "text": "¡Qué buena pinta!"}},
        {"field": "mentions", "value": {"media_id": "17887498072083520", "comment_id": "17887498072083521"}}]}]}).encode()
    assert post(body, sign(body)).status_code == 200
    (item,) = Interaction.objects.filter(account=ig)
    assert item.text == "¡Qué buena pinta!" and item.external_id == "17865799348089039"


def test_script_injection_is_stored_as_plain_text(accounts):
    fa, _fb, _ig = accounts
    body = page_comment(text=XSS + "\x00")
    assert post(body, sign(body)).status_code == 200
    (item,) = Interaction.objects.filter(account=fa)
    assert item.text == XSS  # kept as written (control characters dropped), escaped by templates


def test_oversized_and_malformed_bodies(accounts):
    big = b'{"object": "page", "entry": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert post(big, sign(big)).status_code == 413
    for body in (b"{not json", b"[]", b'{"object": "page"}', "{\"entry\": [1, \"x\", {\"id\": []}]}".encode(),
                 b'{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":"x"}]}]}',
                 b"\xff\xfe"):
        status = post(body, sign(body)).status_code
        assert status in (200, 400)
        if body in (b"{not json", b"[]", b'{"object": "page"}', b"\xff\xfe"):
            assert status == 400
    assert not Interaction.objects.exists()


def test_no_login_no_csrf_and_other_methods_refused():
    client = Client(enforce_csrf_checks=True)
    body = page_comment()
    assert client.post(reverse("meta_webhook"), body, content_type="application/json",
                       HTTP_X_HUB_SIGNATURE_256=sign(body)).status_code == 200
    assert client.put(reverse("meta_webhook"), body).status_code == 405


@pytest.fixture
def ig_on_fake(brand_a, settings):
    from tests.fakes.facebook import IG_USER_ID, FakeGraph

    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {"connect_timeout": 2.0, "read_timeout": 5.0,
                                                           "allow_private_networks": True}}
    brand, people = brand_a
    with FakeGraph() as fake:
        account = signed_in(people["owner"], brand, "instagram", "cafetertulia", IG_USER_ID, token=fake.page_token,
                            base_url=fake.base_url)
        yield fake, account


def mention(media_id, comment_id=None):
    from tests.fakes.facebook import IG_USER_ID

    value = {"media_id": media_id}
    if comment_id:
        value["comment_id"] = comment_id
    return json.dumps({"object": "instagram", "entry": [{"id": IG_USER_ID, "time": 1764100000, "changes": [
        {"field": "mentions", "value": value}]}]}).encode()


def test_instagram_mentions_are_read_from_graph_and_stored(ig_on_fake):
    fake, account = ig_on_fake
    fake.mention_in_comment("17887498072083521", "@cafetertulia ¿tenéis mesa para 6? " + XSS)
    fake.mention_in_caption("17887498072083999", "Desayuno en @cafetertulia ☕", username="marta.lee")
    for body in (mention("17918195224117851", "17887498072083521"), mention("17887498072083999")):
        assert post(body, sign(body)).status_code == 200
        assert post(body, sign(body)).status_code == 200  # replayed: stored once
    items = {i.external_id: i for i in Interaction.objects.filter(account=account)}
    assert set(items) == {"mention:17887498072083521", "mention:17887498072083999"}
    assert items["mention:17887498072083521"].text.endswith(XSS)
    assert items["mention:17887498072083999"].text == "Desayuno en @cafetertulia ☕"
    assert items["mention:17887498072083999"].author.handle == "@marta.lee"
    (request, *_rest) = fake.requests_to("GET /:id")
    assert request.token == fake.page_token
    assert request.params["fields"].startswith("mentioned_comment.comment_id(17887498072083521){")


def test_a_mention_graph_will_not_give_is_left_for_polling(ig_on_fake):
    fake, account = ig_on_fake
    body = mention("17918195224117851", "404040404")
    assert post(body, sign(body)).status_code == 200
    fake.expire_token()
    body = mention("17918195224117851", "505050505")
    assert post(body, sign(body)).status_code == 200
    assert not Interaction.objects.filter(account=account).exists()


def test_an_id_typed_by_hand_or_re_pointed_receives_nothing(accounts, tenant):
    """Page ids are public: a manager of another workspace who types the victim's Page id into
    an account (form or API), or re-points one of theirs to it, must not receive its comments.
    Only ids vouched for by Meta's sign-in, on connected accounts, get the webhook's data."""
    from tertulia.inbox.models import Interaction
    from tertulia.networks.services import do_update_account

    c, pc = tenant("Gamma")
    typed = do_add_account(Ctx(pc["owner"], via="test"), c, network="facebook", handle="imposter", external_id=PAGE,
                           access_token="t")
    own = signed_in(pc["owner"], c, "facebook", "mine", "999000111")
    moved = do_update_account(Ctx(pc["owner"], via="test"), own, external_id=PAGE)
    do_update_account(Ctx(pc["owner"], via="test"), moved, status="connected", access_token="again")
    body = page_comment()
    assert post(body, sign(body)).status_code == 200
    assert not Interaction.objects.filter(brand=c).exists()
    assert Interaction.objects.filter(brand=accounts[0].brand).exists()  # the real Page's brand got it
    typed.refresh_from_db()
    assert "signed_in_id" not in typed.options


# -- deletions and moderation on the network (verb remove / hide / unhide) --------------------


def test_a_removed_comment_is_marked_deleted_and_kept(accounts):
    fa, fb, _ig = accounts
    first = page_comment(text="Esto es una estafa")
    post(first, sign(first))
    removal = page_comment(verb="remove")
    assert post(removal, sign(removal)).status_code == 200
    for account in (fa, fb):
        (item,) = Interaction.objects.filter(account=account)
        assert item.deleted_at is not None and item.text == "Esto es una estafa"
    # Replayed: nothing changes, and a removal of an unknown comment stores nothing.
    before = Interaction.objects.get(account=fa).deleted_at
    assert post(removal, sign(removal)).status_code == 200
    assert Interaction.objects.get(account=fa).deleted_at == before
    unknown = page_comment(comment_id="10158407654328553_999", verb="remove")
    assert post(unknown, sign(unknown)).status_code == 200
    assert Interaction.objects.count() == 2


def test_hide_and_unhide_by_a_moderator_on_facebook_are_mirrored(accounts):
    fa, _fb, _ig = accounts
    first = page_comment()
    post(first, sign(first))
    hide = page_comment(verb="hide")
    post(hide, sign(hide))
    assert Interaction.objects.get(account=fa).hidden is True
    unhide = page_comment(verb="unhide")
    post(unhide, sign(unhide))
    assert Interaction.objects.get(account=fa).hidden is False


def test_meta_sometimes_says_edit_instead_of_edited(accounts):
    fa, _fb, _ig = accounts
    first = page_comment()
    post(first, sign(first))
    edit = page_comment(text="¿Y los festivos?", verb="edit")
    post(edit, sign(edit))
    item = Interaction.objects.get(account=fa)
    assert item.text == "¿Y los festivos?" and item.edited_at is not None


def test_a_comment_added_and_removed_in_one_delivery_is_stored_as_deleted(accounts):
    fa, _fb, _ig = accounts
    added, removed = json.loads(page_comment()), json.loads(page_comment(verb="remove"))
    added["entry"][0]["changes"] += removed["entry"][0]["changes"]
    body = json.dumps(added).encode()
    assert post(body, sign(body)).status_code == 200
    item = Interaction.objects.get(account=fa)
    assert item.deleted_at is not None


def test_a_removal_from_another_pages_entry_does_not_touch_ours(accounts):
    fa, _fb, _ig = accounts
    first = page_comment()
    post(first, sign(first))
    foreign = page_comment(verb="remove", entry="999999999")
    assert post(foreign, sign(foreign)).status_code == 200
    assert Interaction.objects.get(account=fa).deleted_at is None
