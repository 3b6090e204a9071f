"""Thin views for workspaces, brands, members, accounts, knowledge, audit and tokens.

Every brand page goes through ``brand_view``, which resolves the brand with
``scoping.get_brand`` (404 for strangers, 403 for members without the permission).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.decorators.debug import sensitive_post_parameters

from tertulia.networks import services as account_services
from tertulia.networks.models import SocialAccount

from . import roles, services
from .forms import (
    AcceptInvitationForm,
    AccountForm,
    BrandForm,
    InviteForm,
    KnowledgeForm,
    OrganizationForm,
    PreferencesForm,
    RoleForm,
    ThrottledAuthenticationForm,
    TokenForm,
)
from .models import AuditEvent, Invitation, KnowledgeEntry, Membership, PersonalAccessToken, User
from .scoping import brands_for, get_brand, permissions_in
from .services import Ctx


def brand_view(permission: str = roles.VIEW):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, brand_id, *args, **kwargs):
            brand = get_brand(request.user, brand_id, permission)
            request.brand = brand
            if request.session.get("brand_id") != brand.pk:  # a write (UPDATE + COMMIT) only on a change
                request.session["brand_id"] = brand.pk
            return view(request, brand, *args, **kwargs)

        return wrapper

    return decorator


def _errors_to_messages(request, exc: ValidationError | PermissionDenied) -> None:
    if isinstance(exc, PermissionDenied):
        messages.error(request, str(exc) or _("You do not have permission to do that."))
        return
    for msg in exc.messages:
        messages.error(request, msg)


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errs in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errs)
    else:
        form.add_error(None, exc)


def _search_param(request, name: str, max_length: int) -> str:
    """A free-text filter from the query string: bounded, and without NUL characters, which
    PostgreSQL refuses (a 500 instead of an empty result)."""
    return request.GET.get(name, "").replace("\x00", "").strip()[:max_length]


class SignInView(LoginView):
    form_class = ThrottledAuthenticationForm
    template_name = "core/login.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    brands = brands_for(request.user)
    preferred = brands.filter(pk=request.session.get("brand_id")).first() or brands.first()
    if preferred is not None:
        return redirect("section_calendar", preferred.pk)
    return render(request, "core/welcome.html", {
        "orgs": services.organizations_for(request.user),
        "org_form": OrganizationForm(),
    })


@require_POST
def set_language(request):
    lang = request.POST.get("language", "")
    nxt = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        nxt = "/"
    response = HttpResponseRedirect(nxt)
    if lang in dict(settings.LANGUAGES):
        if request.user.is_authenticated:
            services.do_update_preferences(Ctx.from_request(request), language=lang)
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, max_age=365 * 24 * 3600, samesite="Lax",
                            secure=settings.SESSION_COOKIE_SECURE)
    return response


@login_required
def preferences(request):
    form = PreferencesForm(request.POST or None, initial={"language": request.user.language, "timezone": request.user.timezone})
    if request.method == "POST" and form.is_valid():
        services.do_update_preferences(Ctx.from_request(request), language=form.cleaned_data["language"], tz=form.cleaned_data["timezone"])
        with translation.override(form.cleaned_data["language"]):  # confirm in the language just chosen
            messages.success(request, _("Preferences saved."))
        return redirect("preferences")
    return render(request, "core/preferences.html", {"form": form})


# --- Workspaces and brands ------------------------------------------------------------

@login_required
@require_POST
def org_create(request):
    form = OrganizationForm(request.POST)
    if form.is_valid():
        org = services.do_create_organization(Ctx.from_request(request), form.cleaned_data["name"])
        messages.success(request, _("Workspace created. Now add its first brand."))
        return redirect(reverse("brand_create") + f"?org={org.pk}")
    for err in form.errors.get("name", []):
        messages.error(request, err)
    return redirect("home")


@login_required
def brand_list(request):
    brands = brands_for(request.user).select_related("organization").order_by("organization__name", "name")
    admin_orgs = [o for o in services.organizations_for(request.user) if services.can_create_brand(request.user, o)]
    from .brand_lifecycle import restorable_for

    return render(request, "core/brand_list.html", {"brands": brands, "admin_orgs": admin_orgs, "org_form": OrganizationForm(),
                                                    "deleted_count": restorable_for(request.user).count()})


@login_required
def brand_create(request):
    orgs = [o for o in services.organizations_for(request.user) if services.can_create_brand(request.user, o)]
    if not orgs:
        raise PermissionDenied(_("Only workspace administrators can create brands."))
    org_id = request.POST.get("org") or request.GET.get("org")
    org = next((o for o in orgs if str(o.pk) == str(org_id)), None) if org_id else orgs[0]
    if org is None:
        # Not a workspace this user administers: never fall back to another one silently.
        raise Http404
    form = BrandForm(request.POST or None, initial={"timezone": request.user.timezone, "language": request.user.language})
    if request.method == "POST" and form.is_valid():
        try:
            brand = services.do_create_brand(Ctx.from_request(request), org, **form.values())
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Brand “%(name)s” created.") % {"name": brand.name})
            return redirect("brand_settings", brand.pk)
    return render(request, "core/brand_form.html", {"form": form, "orgs": orgs, "org": org})




@brand_view()
def brand_settings(request, brand):
    can_edit = roles.MANAGE_BRAND in permissions_in(request.user, brand)
    # The form validates into a copy: a ModelForm writes the submitted values into its
    # instance, and ``brand`` must stay as saved, for the service's audit "before" and for
    # the page (heading, menus) when the input is rejected.
    form = BrandForm(request.POST or None, request.FILES or None, instance=copy.copy(brand))
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            ctx = Ctx.from_request(request)
            try:
                services.do_update_brand(ctx, brand, **form.values())
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                # The report logo (validated by the form; tertulia/reports/branding.py).
                from tertulia.reports import branding

                if form.cleaned_data.get("logo_upload"):
                    branding.do_set_brand_logo(ctx, brand, form.cleaned_data["logo_upload"])
                elif form.cleaned_data.get("remove_logo"):
                    branding.do_remove_brand_logo(ctx, brand)
                messages.success(request, _("Brand settings saved."))
                return redirect("brand_settings", brand.pk)
    from tertulia.reports.render import logo_data_uri

    return render(request, "core/brand_settings.html", {"form": form, "can_edit": can_edit, "tab": "brand",
                                                        "logo": logo_data_uri(brand),
                                                        "grace_days": settings.BRAND_DELETE_GRACE_DAYS})


@brand_view(roles.DELETE_BRAND)
@require_POST
def brand_delete(request, brand):
    if request.POST.get("confirm_name", "").strip() != brand.name:
        messages.error(request, _("Type the brand's exact name to confirm deletion."))
        return redirect("brand_settings", brand.pk)
    try:
        services.do_delete_brand(Ctx.from_request(request), brand)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
        return redirect("brand_settings", brand.pk)
    request.session.pop("brand_id", None)
    messages.success(request, _("Brand “%(name)s” deleted. It can be restored from “Deleted brands” until "
                                "%(date)s.") % {"name": brand.name,
                                                 "date": formats.date_format(timezone.localtime(brand.purge_at),
                                                                             "DATETIME_FORMAT")})
    return redirect("home")


# --- Knowledge base -------------------------------------------------------------------

@brand_view()
def knowledge_list(request, brand):
    entries = KnowledgeEntry.objects.for_user(request.user).filter(brand=brand)
    kind = request.GET.get("kind")
    if kind in KnowledgeEntry.Kind.values:
        entries = entries.filter(kind=kind)
    q = _search_param(request, "q", 100)
    if q:
        entries = entries.filter(title__icontains=q) | entries.filter(answer__icontains=q)
    page = Paginator(entries.order_by("kind", "title"), 25).get_page(request.GET.get("page"))
    return render(request, "core/knowledge_list.html", {
        "page": page, "kinds": KnowledgeEntry.Kind.choices, "kind": kind, "q": q, "tab": "knowledge",
        "can_edit": roles.MANAGE_BRAND in permissions_in(request.user, brand),
    })


@brand_view(roles.MANAGE_BRAND)
def knowledge_edit(request, brand, entry_id=None):
    entry = None
    if entry_id is not None:
        entry = get_object_or_404(KnowledgeEntry.objects.for_user(request.user, roles.MANAGE_BRAND), pk=entry_id, brand=brand)
    # A copy, so the service's audit diff compares the saved entry with the new values.
    form = KnowledgeForm(request.POST or None, instance=copy.copy(entry) if entry is not None else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.do_save_knowledge(Ctx.from_request(request), brand, entry, **form.values())
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Answer saved."))
            return redirect("knowledge_list", brand.pk)
    return render(request, "core/knowledge_form.html", {"form": form, "entry": entry, "tab": "knowledge"})


@brand_view(roles.MANAGE_BRAND)
@require_POST
def knowledge_delete(request, brand, entry_id):
    entry = get_object_or_404(KnowledgeEntry.objects.for_user(request.user, roles.MANAGE_BRAND), pk=entry_id, brand=brand)
    services.do_delete_knowledge(Ctx.from_request(request), entry)
    messages.success(request, _("Answer deleted."))
    return redirect("knowledge_list", brand.pk)


# --- Social accounts ------------------------------------------------------------------

@brand_view()
def account_list(request, brand):
    accounts = SocialAccount.objects.for_user(request.user).filter(brand=brand)
    return render(request, "core/account_list.html", {
        "accounts": accounts, "tab": "accounts",
        "can_edit": roles.MANAGE_ACCOUNTS in permissions_in(request.user, brand),
    })


@sensitive_post_parameters("access_token", "refresh_token")
@brand_view(roles.MANAGE_ACCOUNTS)
def account_edit(request, brand, account_id=None):
    account = None
    if account_id is not None:
        account = get_object_or_404(SocialAccount.objects.for_user(request.user, roles.MANAGE_ACCOUNTS), pk=account_id, brand=brand)
    initial = {f: getattr(account, f) for f in ("network", "handle", "display_name", "base_url", "status")} if account else {}
    if account is not None and account.options:
        initial["wordpress_status"] = account.options.get("post_status", "publish")
        initial["wordpress_categories"] = ", ".join(account.options.get("categories", []))
    if account is not None and account.network == "joomla":
        initial["joomla_category"] = (account.options or {}).get("category", "")
        initial["joomla_state"] = (account.options or {}).get("state", "published")
        initial["joomla_featured"] = bool((account.options or {}).get("featured"))
    form = AccountForm(request.POST or None, initial=initial)
    if account is not None:
        form.fields["network"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if not data.get("access_token"):
            data.pop("access_token", None)  # empty: keep the stored secret
        wp_status, wp_categories = data.pop("wordpress_status", ""), data.pop("wordpress_categories", "")
        if (account.network if account else data["network"]) == "wordpress":
            data["options"] = {"post_status": wp_status or "publish", "categories": wp_categories}
        joomla = {key: data.pop(f"joomla_{key}", None) for key in ("category", "state", "featured")}
        if (account.network if account else data["network"]) == "joomla":
            data["options"] = {"category": joomla["category"] or "", "state": joomla["state"] or "published",
                               "featured": bool(joomla["featured"])}
        ctx = Ctx.from_request(request)
        try:
            if account is None:
                account_services.do_add_account(ctx, brand, **data)
            else:
                data.pop("network")
                account_services.do_update_account(ctx, account, **data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Account saved."))
            return redirect("account_list", brand.pk)
    return render(request, "core/account_form.html", {"form": form, "account": account, "tab": "accounts"})


@brand_view(roles.MANAGE_ACCOUNTS)
@require_POST
def account_delete(request, brand, account_id):
    account = get_object_or_404(SocialAccount.objects.for_user(request.user, roles.MANAGE_ACCOUNTS), pk=account_id, brand=brand)
    account_services.do_remove_account(Ctx.from_request(request), account)
    messages.success(request, _("Account removed."))
    return redirect("account_list", brand.pk)


# --- Members and invitations ----------------------------------------------------------

@brand_view()
def member_list(request, brand):
    can_manage = roles.MANAGE_MEMBERS in permissions_in(request.user, brand)
    members = Membership.objects.for_user(request.user).filter(brand=brand).select_related("user").order_by("user__first_name", "user__username")
    invitations = Invitation.objects.for_user(request.user, roles.MANAGE_MEMBERS).filter(
        brand=brand, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now())
    invite_form = InviteForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if invite_form.is_valid():
            try:
                inv = services.do_invite(Ctx.from_request(request), brand, invite_form.cleaned_data["email"], invite_form.cleaned_data["role"])
            except (ValidationError, PermissionDenied) as exc:
                _errors_to_messages(request, exc)
            else:
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": inv.email})
                return redirect("member_list", brand.pk)
    return render(request, "core/member_list.html", {
        "members": members, "invitations": invitations, "invite_form": invite_form, "can_manage": can_manage,
        "roles": roles.Role.choices, "tab": "members",
    })


def _membership(request, brand, membership_id):
    return get_object_or_404(Membership.objects.for_user(request.user, roles.MANAGE_MEMBERS).select_related("user", "brand"), pk=membership_id, brand=brand)


@brand_view(roles.MANAGE_MEMBERS)
@require_POST
def member_role(request, brand, membership_id):
    membership = _membership(request, brand, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Unknown role."))
        return redirect("member_list", brand.pk)
    try:
        services.do_change_role(Ctx.from_request(request), membership, form.cleaned_data["role"])
        messages.success(request, _("Role updated."))
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    return redirect("member_list", brand.pk)


@brand_view(roles.MANAGE_MEMBERS)
@require_POST
def member_remove(request, brand, membership_id):
    membership = _membership(request, brand, membership_id)
    try:
        services.do_remove_member(Ctx.from_request(request), membership)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
        return redirect("member_list", brand.pk)
    messages.success(request, _("Member removed."))
    if membership.user_id == request.user.pk:
        # They left the brand: its pages are no longer theirs.
        return redirect("home")
    return redirect("member_list", brand.pk)


@brand_view(roles.MANAGE_MEMBERS)
@require_POST
def invitation_revoke(request, brand, invitation_id):
    inv = get_object_or_404(Invitation.objects.for_user(request.user, roles.MANAGE_MEMBERS), pk=invitation_id, brand=brand)
    try:
        services.do_revoke_invitation(Ctx.from_request(request), inv)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("Invitation revoked."))
    return redirect("member_list", brand.pk)


@sensitive_post_parameters("password")
def invitation_accept(request, token):
    inv = Invitation.find_open(token)
    if inv is None:
        return render(request, "core/invitation_invalid.html", status=410)
    existing = User.objects.filter(email__iexact=inv.email).first()
    ctx = {"inv": inv, "existing": existing}
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                membership = services.do_accept_invitation(request.user, token, ip=services.client_ip(request))
            except (ValidationError, PermissionDenied) as exc:
                _errors_to_messages(request, exc)
                return redirect("invitation_accept", token)
            messages.success(request, _("Welcome to %(brand)s.") % {"brand": membership.brand.name})
            return redirect("section_calendar", membership.brand_id)
        return render(request, "core/invitation_accept.html", ctx)
    if existing is not None:
        return render(request, "core/invitation_accept.html", ctx)
    form = AcceptInvitationForm(request.POST or None, email=inv.email)
    if request.method == "POST" and form.is_valid():
        try:
            # One transaction: if the link was used or revoked meanwhile, no account is left
            # behind without its membership.
            with transaction.atomic():
                user = User.objects.create_user(
                    username=form.cleaned_data["username"], email=inv.email, password=form.cleaned_data["password"],
                    first_name=form.cleaned_data["first_name"], last_name=form.cleaned_data["last_name"],
                    language=request.LANGUAGE_CODE if request.LANGUAGE_CODE in dict(settings.LANGUAGES) else "es",
                )
                services.do_accept_invitation(user, token, ip=services.client_ip(request))
        except ValidationError:
            return render(request, "core/invitation_invalid.html", status=410)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to %(brand)s.") % {"brand": inv.brand.name})
        return redirect("section_calendar", inv.brand_id)
    ctx["form"] = form
    return render(request, "core/invitation_accept.html", ctx)


# --- Audit log ------------------------------------------------------------------------

@brand_view(roles.VIEW_AUDIT)
def audit_log(request, brand):
    events = AuditEvent.objects.for_user(request.user, roles.VIEW_AUDIT).filter(brand=brand).select_related("actor")
    action = _search_param(request, "action", 64)
    if action:
        events = events.filter(action__startswith=action)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    actions = sorted({a.split(".")[0] for a in AuditEvent.objects.for_user(request.user, roles.VIEW_AUDIT).filter(brand=brand).values_list("action", flat=True).distinct()})
    return render(request, "core/audit_log.html", {"page": page, "action": action, "actions": actions, "tab": "audit"})


# --- Personal access tokens -----------------------------------------------------------

@never_cache  # the page shows a new token once; no cache may keep it
@login_required
def token_list(request):
    brands = brands_for(request.user).order_by("name")
    form = TokenForm(request.POST or None, brands=brands)
    new_raw = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data.get("expires_in_days")
        try:
            _token, new_raw = services.do_create_token(
                Ctx.from_request(request), form.cleaned_data["name"], form.grants(),
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except (ValidationError, PermissionDenied) as exc:
            _errors_to_messages(request, exc)
        else:
            form = TokenForm(brands=brands)
    tokens = PersonalAccessToken.objects.filter(user=request.user, revoked_at=None).prefetch_related("grants__brand")
    return render(request, "core/token_list.html", {"form": form, "tokens": tokens, "new_raw": new_raw})


@login_required
@require_POST
def token_revoke(request, token_id):
    token = get_object_or_404(PersonalAccessToken, pk=token_id, user=request.user)
    services.do_revoke_token(Ctx.from_request(request), token)
    messages.success(request, _("Token revoked."))
    return redirect("token_list")
