from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from quantarb.tenancy import SESSION_KEY

from .choices import Theme
from .models import Membership


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.headers.get("Referer") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return target


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Save the language on the user (when signed in) and in the `django_language` cookie."""
    language = request.POST.get("language", "").lower()  # `zh-Hans` is `zh-hans`
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest(_("Unknown language."))
    response = HttpResponseRedirect(_back(request))
    if request.user.is_authenticated:
        request.user.language = language
        request.user.save(update_fields=["language"])
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax")
    return response


@require_POST
def set_theme(request: HttpRequest) -> HttpResponse:
    theme = request.POST.get("theme", "")
    if theme not in Theme.values:
        return HttpResponseBadRequest(_("Unknown theme."))
    if request.user.is_authenticated:
        request.user.theme = theme
        request.user.save(update_fields=["theme"])
    return HttpResponseRedirect(_back(request))


@require_POST
def switch_tenant(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect(settings.LOGIN_URL)
    try:
        tenant_id = int(request.POST.get("tenant", ""))
    except ValueError:
        return HttpResponseBadRequest(_("Choose a tenant."))
    # `tenant__pk` (not `tenant_id`) goes through the primary key's lookup, which turns an id beyond the column's
    # range into "no such row" instead of an overflow error on SQLite.
    membership = Membership.objects.filter(user=request.user, tenant__pk=tenant_id).select_related("tenant").first()
    if membership is None:
        return HttpResponse(_("No such tenant."), status=404)
    request.session[SESSION_KEY] = membership.tenant_id
    messages.success(request, _("Switched to %(tenant)s.") % {"tenant": membership.tenant.name})
    return HttpResponseRedirect(_back(request))
