"""inbox.polling with a connector whose ``thread_ids`` narrow the read (WordPress): the poller
does not pass our posts' ids, so comments on every post of the blog keep coming in."""

from __future__ import annotations

import pytest

from tertulia.core.services import Ctx
from tertulia.inbox import polling
from tertulia.inbox.models import Interaction
from tertulia.networks.base import PostPayload
from tertulia.networks.services import do_add_account
from tests.fakes.wordpress_plugin import fake_wordpress, wordpress, wordpress_http_config  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("polling_settings")]


def test_comments_on_posts_written_outside_tertulia_arrive_too(brand_a, wordpress, fake_wordpress):
    from django.utils import timezone

    from tertulia.content.services import do_create_post
    from tertulia.publishing.models import PostTarget

    brand, people = brand_a
    ctx = Ctx(people["owner"], via="test")
    account = do_add_account(ctx, brand, network="wordpress", handle=fake_wordpress.username,
                             access_token=fake_wordpress.app_password, base_url=fake_wordpress.base_url)
    ours = wordpress.publish(PostPayload(text="Desde Tertulia")).external_id
    other = wordpress.publish(PostPayload(text="Escrito en WordPress")).external_id
    post = do_create_post(ctx, brand, text="Desde Tertulia", accounts=[account])
    PostTarget.objects.filter(post=post).update(state=PostTarget.State.PUBLISHED, external_id=ours,
                                                published_at=timezone.now())
    fake_wordpress.comment("Ana", "en el nuestro", post=int(ours))
    fake_wordpress.comment("Luis", "en el otro", post=int(other))
    assert polling.poll_due_accounts()["outcomes"] == {str(account.pk): "ok"}
    assert sorted(Interaction.objects.filter(account=account).values_list("text", flat=True)) == [
        "en el nuestro", "en el otro"]
