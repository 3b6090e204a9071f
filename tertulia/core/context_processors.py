from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .scoping import brands_for, permissions_in

# The app shell's sections, in order. Each is a per-brand page.
SECTIONS = [
    ("calendar", _("Calendar")),
    ("compose", _("Compose")),
    ("inbox", _("Inbox")),
    ("listening", _("Listening")),
    ("analytics", _("Analytics")),
    ("reports", _("Reports")),
    ("giveaways", _("Giveaways")),
    ("settings", _("Settings")),
]


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    brand = getattr(request, "brand", None)
    brands = list(brands_for(user).select_related("organization").order_by("organization__name", "name"))
    nav = []
    if brand is not None:
        nav = [
            {"key": key, "label": label, "url": reverse("inbox") if key == "inbox"  # the unified inbox
             else reverse(f"section_{key}" if key != "settings" else "brand_settings", args=[brand.pk])}
            for key, label in SECTIONS
        ]
    return {
        "current_brand": brand,
        "my_brands": brands,
        "nav": nav,
        "brand_perms": permissions_in(user, brand) if brand is not None else frozenset(),
    }


def notifications(request):
    """The signed-in user's unread notification count, for the bell in the top bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .notifications import unread_count

    return {"unread_notifications": unread_count(user)}
