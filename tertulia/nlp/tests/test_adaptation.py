"""Per-brand adaptation: the team's relabels change that brand's triage, measurably, and no other brand's."""

from __future__ import annotations

import json

import pytest

from tertulia.nlp import adapt, triage
from tertulia.nlp.models import BrandLayer
from tertulia.nlp.triage import analyse, learn

pytestmark = pytest.mark.django_db

# A sports-nutrition brand whose community says "una máquina"/"una bestia" for "excellent".
SLANG_TRAIN = [
    "el repartidor es una máquina",
    "sois unas máquinas",
    "el nuevo batido es una bestia",
    "qué máquina el de atención al cliente",
    "la proteína nueva es una bestia, madre mía",
    "menudas máquinas en la tienda de Sevilla",
    "el entrenador del vídeo es una máquina",
    "una bestia el sabor de chocolate",
    "sois unas bestias, pedido en un día",
    "la app es una máquina",
]
SLANG_HELD_OUT = [
    "es una máquina el chico de la tienda",
    "vaya bestia de batido",
    "las zapatillas son una máquina",
    "sois unas máquinas con los envíos",
    "una bestia la nueva receta",
    "la dependienta es una máquina",
]
UNRELATED = [
    "El pedido llegó roto y nadie responde, pésimo servicio",
    "¿A qué hora abrís el domingo?",
    "Muchas gracias por todo, sois los mejores",
    "This is the worst service I have ever had",
]


def sentiments(texts, brand_id=None):
    return [r.sentiment for r in analyse(texts, brand_id=brand_id)]


def test_relabelled_slang_improves_that_brand_only(brand_a, brand_b):
    a, b = brand_a[0], brand_b[0]
    before_a = sentiments(SLANG_HELD_OUT, a.pk)
    before_b = analyse(SLANG_HELD_OUT + UNRELATED, brand_id=b.pk)
    unrelated_before = sentiments(UNRELATED, a.pk)
    right_before = sum(s == "positive" for s in before_a)
    # The shared model gets most of this brand's slang wrong, which is why the team relabels it.
    assert right_before <= len(SLANG_HELD_OUT) // 2, before_a

    for text in SLANG_TRAIN:
        learn(a.pk, text, "sentiment", "positive")

    after_a = sentiments(SLANG_HELD_OUT, a.pk)
    right_after = sum(s == "positive" for s in after_a)
    assert right_after >= right_before + 3, (before_a, after_a)
    assert right_after >= len(SLANG_HELD_OUT) - 1
    # The corrections do not leak: brand B is exactly as before, the shared model too ...
    assert analyse(SLANG_HELD_OUT + UNRELATED, brand_id=b.pk) == before_b
    assert analyse(SLANG_HELD_OUT + UNRELATED) == before_b
    # ... and brand A's unrelated messages keep their sentiment.
    assert sentiments(UNRELATED, a.pk) == unrelated_before

    row = BrandLayer.objects.get(brand=a, task="sentiment")
    assert row.updates == len(SLANG_TRAIN)
    assert not BrandLayer.objects.filter(brand=b).exists()


def test_relabelled_text_gets_the_team_label_and_intent_layer_generalises(brand_a, brand_b):
    a, b = brand_a[0], brand_b[0]
    # This brand files "presupuesto para ..." messages (quotes for events) as requests.
    train = [
        "presupuesto para una boda de 120 personas en junio",
        "presupuesto para cena de empresa, 40 personas",
        "presupuesto para un cumpleaños infantil",
        "presupuesto para comunión en mayo",
        "presupuesto para catering de congreso",
    ]
    held_out = ["presupuesto para bautizo en julio", "presupuesto para despedida de soltera"]
    assert [r.intent for r in analyse(held_out, brand_id=a.pk)] != ["request", "request"]
    for text in train:
        learn(a.pk, text, "intent", "request")
    assert [r.intent for r in analyse(train + held_out, brand_id=a.pk)] == ["request"] * 7
    assert [r.intent for r in analyse(held_out, brand_id=b.pk)] == [r.intent for r in analyse(held_out)]


def test_toxic_relabel_both_ways(brand_a):
    a = brand_a[0]
    banter = "sois unos cabrones, qué bueno el último vídeo jajaja"
    learn(a.pk, banter, "toxic", "no")
    assert not analyse([banter], brand_id=a.pk)[0].toxic
    local_insult = "vete a freír espárragos, pagafantas"
    learn(a.pk, local_insult, "toxic", "yes")
    r = analyse([local_insult], brand_id=a.pk)[0]
    assert r.toxic and r.toxicity >= 0.5
    assert BrandLayer.objects.get(brand=a, task="toxic").updates == 2


def test_learn_validates_field_and_label(brand_a):
    a = brand_a[0]
    with pytest.raises(ValueError):
        learn(a.pk, "hola", "mood", "happy")
    with pytest.raises(ValueError):
        learn(a.pk, "hola", "sentiment", "furious")
    with pytest.raises(ValueError):
        learn(a.pk, "hola", "toxic", "maybe")
    learn(a.pk, "   ", "sentiment", "positive")  # nothing to learn from an empty text
    assert not BrandLayer.objects.filter(brand=a).exists()


def test_layer_state_is_bounded_json_without_raw_text(brand_a, monkeypatch):
    a = brand_a[0]
    monkeypatch.setattr(adapt, "MAX_EXAMPLES", 5)
    for i in range(8):
        learn(a.pk, f"mensaje secreto número {i} sobre el pedido", "sentiment", "neutral")
    row = BrandLayer.objects.get(brand=a, task="sentiment")
    state = json.loads(bytes(row.state))
    assert len(state["examples"]) == 5 and len(state["exact"]) == 5
    assert "secreto" not in bytes(row.state).decode()
    assert row.updates == 8


def test_corrupt_layer_is_ignored(brand_a):
    a = brand_a[0]
    BrandLayer.objects.create(brand=a, task="sentiment", state=b"\x00not json")
    text = ["Me encanta, gracias"]
    assert analyse(text, brand_id=a.pk) == analyse(text)
    learn(a.pk, "Me encanta, gracias", "sentiment", "negative")  # starts a fresh layer
    assert analyse(text, brand_id=a.pk)[0].sentiment == "negative"
    assert triage.analyse(text)[0].sentiment == "positive"
