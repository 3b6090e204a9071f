"""The inbox's most visited pages read a fixed number of rows-sets, whatever the page holds:
the list (rows, labels and newest messages in bulk) and a conversation (thread, author history,
labels, suggestions, presence)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tertulia.core.tests.web_helpers import html
from tertulia.inbox.models import Conversation, Label

from .test_web_inbox import inbox, say  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_list_and_a_conversation_stay_within_their_query_budget(client, inbox,  # noqa: F811
                                                                    django_assert_max_num_queries):
    a, pa, b, pb, fb_a, x_b = inbox
    cm = pa["community_manager"]
    label = Label.objects.create(brand=a, name="vip")
    convs = [say(fb_a, f"c{i}", f"Message {i}", who=f"fan{i}", minutes_ago=i + 1) for i in range(8)]
    for conv in convs[::2]:
        conv.labels.add(label)
    Conversation.objects.filter(pk__in=[c.pk for c in convs[::3]]).update(assignee=cm)
    client.force_login(cm)
    client.get(reverse("section_inbox", args=[a.pk]))  # the session's brand is stored once
    with django_assert_max_num_queries(13):
        page = html(client.get(reverse("section_inbox", args=[a.pk])))
    assert page.count("data-row ") == 8 and page.count(">vip</bdi>") == 4
    conv_url = reverse("inbox_conversation", args=[a.pk, convs[0].pk])
    client.get(conv_url)  # my presence on it is created once
    with django_assert_max_num_queries(18):
        page = html(client.get(conv_url))
    assert "Message 0" in page and ">vip</bdi>" in page
