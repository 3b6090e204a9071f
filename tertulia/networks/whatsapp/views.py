"""WhatsApp pages and endpoints. Thin: rules in ``services.py``, parsing in ``webhooks.py``.

- ``whatsapp_webhook``: Meta's subscription check (GET, the same verify token as the other Meta
  webhooks) and signed notifications (POST: ``X-Hub-Signature-256`` with the Meta app secret,
  checked on the raw body, capped at 1 MB, before anything is parsed). No session, no CSRF
  token: the signature is the credential.
- ``whatsapp_connect``: the form where a manager pastes the number's ids and a system user token.
- ``whatsapp_templates_sync``: re-read the approved templates.
- ``whatsapp_media``: a customer's photo, voice note or document, fetched from WhatsApp for a
  member of the brand, through our server only (the page never links to Meta), size-capped and
  served with headers that stop the browser from running anything in it.
- ``whatsapp_send_template``: send an approved template in a conversation.
"""

from __future__ import annotations

import logging
import re

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.debug import sensitive_post_parameters

from tertulia.core import roles
from tertulia.core.services import Ctx
from tertulia.core.views import brand_view

from ..errors import AuthExpired, ConnectorError, Permanent
from ..meta import webhooks as meta_webhooks
from ..models import Network, SocialAccount
from . import services, webhooks

log = logging.getLogger(__name__)
MAX_PARAMS = 20
# Shown in the page (inline) only for these types; anything else is a download.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "video/mp4", "video/3gpp", "audio/ogg",
                          "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"})
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]+")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request):
    if request.method == "GET":
        challenge = meta_webhooks.verify_subscription(request.GET)
        if challenge is None:
            return HttpResponseForbidden("forbidden", content_type="text/plain")
        return HttpResponse(challenge, content_type="text/plain")
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > webhooks.MAX_BODY:
        return HttpResponse("too large", status=413, content_type="text/plain")
    body = request.read(webhooks.MAX_BODY + 1)
    if len(body) > webhooks.MAX_BODY:
        return HttpResponse("too large", status=413, content_type="text/plain")
    if not meta_webhooks.signature_ok(body, request.headers.get("X-Hub-Signature-256")):
        return HttpResponseForbidden("forbidden", content_type="text/plain")
    try:
        result = webhooks.handle(body)
    except webhooks.Malformed:
        return HttpResponse("malformed", status=400, content_type="text/plain")
    log.info("whatsapp webhook: %s", result)
    return HttpResponse("ok", content_type="text/plain")


class ConnectForm(forms.Form):
    phone_number_id = forms.CharField(
        label=gettext_lazy("Phone number id"), max_length=30,
        help_text=gettext_lazy("In WhatsApp Manager or the app's WhatsApp API Setup page: the id of the number, "
                               "not the number itself."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
    waba_id = forms.CharField(
        label=gettext_lazy("WhatsApp Business Account id"), max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
    access_token = forms.CharField(
        label=gettext_lazy("Access token"), max_length=1000,
        help_text=gettext_lazy("A system user token with the whatsapp_business_messaging and "
                               "whatsapp_business_management permissions. It is stored encrypted."),
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}))

    def clean(self):
        data = super().clean()
        for key in ("phone_number_id", "waba_id"):
            value = (data.get(key) or "").strip()
            if value and not (value.isascii() and value.isdigit()):
                self.add_error(key, services.MSG_BAD_IDS)
        return data


@sensitive_post_parameters("access_token")
@brand_view(roles.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def whatsapp_connect(request, brand):
    form = ConnectForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            ctx = Ctx.from_request(request)
            try:
                account, created = services.do_connect_whatsapp(
                    ctx, brand, phone_number_id=data["phone_number_id"], waba_id=data["waba_id"],
                    access_token=data["access_token"])
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            except ConnectorError as err:
                log.info("whatsapp connect: %s", err.log_line())
                form.add_error(None, _("WhatsApp refused: %(reason)s") % {"reason": err.user_message})
            else:
                try:
                    count = services.do_sync_templates(ctx, account)
                except ConnectorError as err:
                    messages.warning(request, _("The message templates could not be read yet: %(reason)s")
                                     % {"reason": err.user_message})
                else:
                    messages.info(request, _("%(count)s message templates read from WhatsApp.") % {"count": count})
                if not account.options.get("webhooks"):
                    messages.warning(request, _("WhatsApp did not let Tertulia subscribe to this number's messages. "
                                                "Subscribe the app to the WhatsApp Business Account in the Meta app "
                                                "dashboard, or messages will not arrive."))
                messages.success(request, (_("%(name)s is connected.") if created else _("%(name)s is reconnected."))
                                 % {"name": account.handle})
                return redirect("account_list", brand.pk)
        status = 400
    from .. import oauth_flow

    return render(request, "networks/whatsapp_connect.html", {
        "form": form, "tab": "accounts", "webhook_url": request.build_absolute_uri("/networks/whatsapp/webhook/"),
        "configured": bool(oauth_flow.app_settings("meta").get("client_secret"))}, status=status)


@brand_view(roles.MANAGE_ACCOUNTS)
@require_POST
def whatsapp_templates_sync(request, brand, account_id):
    account = get_object_or_404(SocialAccount.objects.for_user(request.user, roles.MANAGE_ACCOUNTS),
                                pk=account_id, brand=brand)
    if account.network != Network.WHATSAPP:
        messages.error(request, str(services.MSG_NOT_WHATSAPP_ACCOUNT))
        return redirect("account_list", brand.pk)
    try:
        count = services.do_sync_templates(Ctx.from_request(request), account)
    except ConnectorError as err:
        if isinstance(err, AuthExpired):
            from ..services import mark_needs_reconnect

            mark_needs_reconnect(account, str(err.user_message))
        messages.error(request, _("WhatsApp refused: %(reason)s") % {"reason": err.user_message})
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, _("%(count)s message templates read from WhatsApp.") % {"count": count})
    return redirect("account_list", brand.pk)


def _media_error(message, status: int) -> HttpResponse:
    return HttpResponse(str(message), status=status, content_type="text/plain; charset=utf-8")


@brand_view()
def whatsapp_media(request, brand, interaction_id):
    """A customer's media file, for members of the brand only (404 for anyone else's)."""
    from tertulia.inbox.models import WhatsAppMessage
    from tertulia.publishing.engine import connector_for

    detail = get_object_or_404(
        WhatsAppMessage.objects.for_user(request.user).select_related("interaction", "interaction__account"),
        interaction_id=interaction_id, brand=brand)
    if request.method not in ("GET", "HEAD"):  # after the lookup: another brand's id is a 404 whatever the method
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if not detail.media_id:
        return _media_error(_("This message has no file."), 404)
    account = detail.interaction.account
    if account.status != SocialAccount.Status.CONNECTED:
        return _media_error(_("Reconnect the WhatsApp account to see this file."), 409)
    try:
        with connector_for(account) as connector:
            content, _declared = connector.download_media(detail.media_id)
    except Permanent as err:
        return _media_error(err.user_message, 413 if err.status == 413 or "bytes" in err.detail else 404)
    except ConnectorError as err:
        log.info("whatsapp media %s: %s", detail.pk, err.log_line())
        return _media_error(err.user_message, 502)
    mime = detail.mime_type if detail.mime_type in INLINE_TYPES else "application/octet-stream"
    response = HttpResponse(content, content_type=mime)
    name = _SAFE_FILENAME.sub("_", detail.filename or "")[:100].strip() or f"whatsapp-{detail.interaction_id}"
    disposition = "inline" if mime in INLINE_TYPES else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=300"
    return response


@brand_view(roles.REPLY)
@require_POST
def whatsapp_send_template(request, brand, conversation_id):
    from tertulia.inbox.models import Conversation, WhatsAppTemplate

    conv = get_object_or_404(Conversation.objects.for_user(request.user, roles.REPLY).select_related("account"),
                             pk=conversation_id, brand=brand)
    template_id = request.POST.get("template", "")
    template = None
    if template_id.isascii() and template_id.isdigit() and len(template_id) < 19:
        template = WhatsAppTemplate.objects.filter(brand=brand, account=conv.account_id, pk=int(template_id)).first()
    values = request.POST.getlist("param")[:MAX_PARAMS + 1]
    try:
        if template is None:
            raise ValidationError(_("Choose one of this number's templates."))
        if len(values) > MAX_PARAMS:
            raise ValidationError(str(services.MSG_PARAM_COUNT) % {"count": len(template.params or [])})
        services.do_send_template(Ctx.from_request(request), conv, template, values)
    except ValidationError as exc:
        for msg in exc.messages:
            messages.error(request, msg)
    else:
        messages.success(request, _("Your answer is on its way."))
    return redirect("inbox_conversation", brand.pk, conv.pk)
