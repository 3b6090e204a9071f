"""What the inbox's conversation page shows for a WhatsApp conversation: each message's type,
media (through ``whatsapp_media``, never a Meta address), shared locations (as text, with an
OpenStreetMap link built from checked numbers), the 24-hour window and the templates."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .services import window_for

KIND_LABELS = {
    "image": _("Photo"),
    "video": _("Video"),
    "audio": _("Voice note or audio"),
    "document": _("Document"),
    "sticker": _("Sticker"),
    "location": _("Location"),
    "contacts": _("Contact card"),
    "reaction": _("Reaction"),
    "interactive": _("Answer to a button or list"),
    "button": _("Template button"),
    "unsupported": _("Unsupported message"),
}
DELIVERY_LABELS = {
    "sent": _("Sent to WhatsApp"),
    "delivered": _("Delivered"),
    "read": _("Read"),
    "failed": _("Not delivered"),
}
MAX_TEMPLATES_SHOWN = 50


def osm_url(latitude, longitude) -> str:
    """An OpenStreetMap link for a checked position, else ""."""
    if not isinstance(latitude, float) or not isinstance(longitude, float):
        return ""
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return ""
    return (f"https://www.openstreetmap.org/?mlat={latitude:.6f}&mlon={longitude:.6f}"
            f"#map=17/{latitude:.6f}/{longitude:.6f}")


def annotate_messages(brand, messages: list[dict]) -> None:
    """Add ``wa`` (type, media link, location) to each message dict of the page."""
    from tertulia.inbox.models import WhatsAppMessage

    ids = [m["i"].pk for m in messages]
    details = {d.interaction_id: d for d in WhatsAppMessage.objects.filter(brand=brand, interaction_id__in=ids)}
    for m in messages:
        d = details.get(m["i"].pk)
        if d is None:
            continue
        m["wa"] = {
            "type": d.message_type, "label": KIND_LABELS.get(d.message_type, ""),
            "media_url": reverse("whatsapp_media", args=[brand.pk, d.interaction_id]) if d.media_id else "",
            "mime": d.mime_type, "filename": d.filename,
            "latitude": d.latitude, "longitude": d.longitude, "osm": osm_url(d.latitude, d.longitude),
            "place_name": d.place_name, "place_address": d.place_address,
            "unsupported": d.message_type == "unsupported",
        }


def conversation_extras(brand, conv, can_reply: bool) -> dict:
    from tertulia.inbox.models import WhatsAppTemplate

    window = window_for(conv)
    templates = []
    if can_reply:
        for t in WhatsAppTemplate.objects.filter(brand=brand, account=conv.account_id).order_by(
                "name", "language")[:MAX_TEMPLATES_SHOWN]:
            templates.append({"t": t, "sendable": t.status == "APPROVED" and not t.unsupported,
                              "reason": _(t.unsupported) if t.unsupported else "",
                              "params": [f"{{{{{p}}}}}" for p in (t.params or [])]})
    return {"whatsapp": {"window": window, "window_open": window.open, "templates": templates,
                         "template_url": reverse("whatsapp_send_template", args=[brand.pk, conv.pk])}}


def delivery_label(status: str) -> str:
    return DELIVERY_LABELS.get(status, "")
