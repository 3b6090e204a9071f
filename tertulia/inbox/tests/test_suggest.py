"""Suggestions for the reply box: the knowledge base, the department to refer to, "thank you"
for praise and contributions, and saved replies that fit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.core.models import KnowledgeEntry
from tertulia.inbox import suggest
from tertulia.inbox.models import Conversation, SavedReply
from tertulia.inbox.services import IncomingAuthor

from .backend_helpers import brand, ingest, msg, owner_ctx, people, x_account  # noqa: F401

ANA = IncomingAuthor(external_id="u-ana", handle="@ana", display_name="Ana García")


@pytest.fixture
def kb(brand, owner_ctx):  # noqa: F811
    KnowledgeEntry.objects.create(brand=brand, kind="faq", title="Horario de apertura",
                                  answer="Abrimos de 9 a 21 h, domingos de 10 a 14 h.",
                                  keywords=["horario", "abrís", "opening hours"])
    KnowledgeEntry.objects.create(brand=brand, kind="service", title="Devoluciones y reembolsos",
                                  answer="Tienes 30 días para devolver tu pedido.", department="Atención al cliente",
                                  contact="clientes@example.com", keywords=["reembolso", "devolución", "refund"])
    KnowledgeEntry.objects.create(brand=brand, kind="department", title="Prensa", answer="",
                                  contact="prensa@example.com", keywords=["periodista", "entrevista"])


def conversation_with(account, text, **kw):
    ingest(account, msg("c1", text=text, author=ANA, at=timezone.now() - timedelta(minutes=1), **kw))
    return Conversation.objects.get()


def test_knowledge_matches_keywords_ignoring_accents_and_case(x_account, kb):  # noqa: F811
    conv = conversation_with(x_account, "¿A qué hora ABRIS el domingo? ¿cuál es el HORARIO?",
                             sentiment="neutral", intent="question", toxicity=0.0, urgency=0.2)
    found = suggest.suggestions(conv, "es")
    assert [s.kind for s in found] == ["knowledge"]
    assert found[0].title == "Horario de apertura" and "domingos" in found[0].text


def test_a_matching_entry_with_a_department_suggests_referring_people(x_account, kb):  # noqa: F811
    conv = conversation_with(x_account, "I want a refund for my order", sentiment="negative", intent="complaint",
                             toxicity=0.0, urgency=0.5)
    found = suggest.suggestions(conv, "en")
    kinds = [s.kind for s in found]
    assert kinds[:2] == ["knowledge", "department"]
    referral = found[1]
    assert referral.department == "Atención al cliente"
    assert referral.text == "For this, our Atención al cliente can help you: clientes@example.com"
    spanish = suggest.suggestions(conv, "es")[1]
    assert spanish.text != referral.text and "clientes@example.com" in spanish.text


def test_a_department_entry_is_a_referral(x_account, kb):  # noqa: F811
    conv = conversation_with(x_account, "Soy periodista y me gustaría una entrevista", sentiment="neutral",
                             intent="request", toxicity=0.0, urgency=0.2)
    found = suggest.suggestions(conv, "es")
    assert [(s.kind, s.department) for s in found] == [("department", "Prensa")]
    assert "prensa@example.com" in found[0].text


def test_thanks_for_praise_addressed_by_name(x_account):  # noqa: F811
    conv = conversation_with(x_account, "¡Me encantó el café de ayer!", sentiment="positive", intent="praise",
                             toxicity=0.0, urgency=0.1)
    (thanks,) = suggest.suggestions(conv, "en")
    assert thanks.kind == "thanks" and thanks.text.startswith("Thank you so much, Ana García!")
    (gracias,) = suggest.suggestions(conv, "es")
    assert "Ana García" in gracias.text and gracias.text != thanks.text


def test_thanks_for_contributions_of_information(x_account):  # noqa: F811
    conv = conversation_with(x_account, "Por si os sirve: el enlace de la carta está roto https://example.com/carta",
                             sentiment="neutral", intent="other", toxicity=0.0, urgency=0.2)
    (thanks,) = suggest.suggestions(conv, "en")
    assert thanks.kind == "thanks" and thanks.text.startswith("Thank you for letting us know, Ana García!")


def test_no_thanks_for_complaints_or_spam(x_account):  # noqa: F811
    conv = conversation_with(x_account, "FYI your service is terrible", sentiment="negative", intent="complaint",
                             toxicity=0.0, urgency=0.5)
    assert [s for s in suggest.suggestions(conv, "en") if s.kind == "thanks"] == []


def test_saved_replies_that_fit_the_intent_and_language(x_account, brand):  # noqa: F811
    SavedReply.objects.create(brand=brand, title="Queja: disculpas", language="es",
                              text="Hola {name}, sentimos mucho lo ocurrido.")
    SavedReply.objects.create(brand=brand, title="Complaint apology", language="en", text="Sorry {name}!")
    SavedReply.objects.create(brand=brand, title="Horario", language="es", text="Abrimos a las 9.")
    conv = conversation_with(x_account, "Fatal servicio", sentiment="negative", intent="complaint", toxicity=0.0,
                             urgency=0.5)
    found = suggest.suggestions(conv, "es")
    assert [(s.kind, s.title, s.text) for s in found] == [
        ("saved_reply", "Queja: disculpas", "Hola Ana García, sentimos mucho lo ocurrido.")]
    assert [s.title for s in suggest.suggestions(conv, "en")] == ["Complaint apology"]


def test_another_brands_knowledge_is_never_suggested(x_account, brand_b):  # noqa: F811
    KnowledgeEntry.objects.create(brand=brand_b[0], kind="faq", title="Horario", answer="secreto",
                                  keywords=["horario"])
    conv = conversation_with(x_account, "¿Horario?", sentiment="neutral", intent="question", toxicity=0.0,
                             urgency=0.1)
    assert suggest.suggestions(conv, "es") == []


def test_hostile_text_does_not_break_matching(x_account, kb):  # noqa: F811
    text = "<script>alert(1)</script> \u202ehorario\u200b " + "(" * 500 + "x" * 60000
    conv = conversation_with(x_account, text, sentiment="neutral", intent="question", toxicity=0.0, urgency=0.1)
    found = suggest.suggestions(conv, "es")
    assert [s.title for s in found] == ["Horario de apertura"]
