"""Portal pages for quote sources and source pairs: the live setup a desk admin does without a
superuser or a restart.

Everyone who reads trading data sees the desk's sources and pairs and the platform's; a desk's admins create,
edit and delete their own (the platform's are read-only to them). Forms post with HTMX and come back with their
errors inline (400) or redirect on success; without JavaScript they work as plain forms. Another desk's source or
pair is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuditContext, is_htmx, request_membership, require_actor, require_membership, require_tenant
from accounts.permissions import Perm, permission_required, role_has
from quantarb import clock
from trading.marketdata import selectors
from trading.marketdata.forms import QuoteSourceForm, SourcePairForm
from trading.marketdata.live_state import plain
from trading.marketdata.services import SourceInUse, pair_delete, pair_save, quote_source_delete, quote_source_save
from trading.models import QuoteSource, SourcePair

PER_PAGE = 25
# A feeder whose heartbeat is older than this is not streaming anything now (as the health strip judges it).
FEEDER_FRESH_S = 10


def _can_manage(request: HttpRequest) -> bool:
    membership = request_membership(request)
    return membership is not None and role_has(membership.role, Perm.MARKET_MANAGE)


def _saved(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful post: HTMX follows `HX-Redirect`; a plain form follows the 302."""
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def streamed_pair_ids() -> set[int]:
    """The pairs the engine (or the poller, where no engine runs) priced in its latest heartbeat, while fresh."""
    beats = selectors.heartbeats()
    feeders = [beat for beat in (beats.get("engine"), beats.get("poller")) if beat is not None]
    if not feeders:
        return set()
    feeder = max(feeders, key=lambda beat: beat.beat_at)
    if (clock.now() - feeder.beat_at).total_seconds() > FEEDER_FRESH_S:
        return set()
    return {int(pair_id) for pair_id in (feeder.detail or {}).get("pairs", {})}


# --- sources -----------------------------------------------------------------------------------------------------
@permission_required(Perm.TRADING_READ)
def source_list(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    page = Paginator(selectors.setup_sources_for(membership=membership), PER_PAGE).get_page(request.GET.get("page"))
    ids = [source.pk for source in page]
    legs = list(
        selectors.pairs_for(membership=membership)
        .filter(Q(perp_source_id__in=ids) | Q(cfd_source_id__in=ids))
        .values_list("perp_source_id", "cfd_source_id")
    )
    for source in page:
        source.pair_count = sum(source.pk in leg for leg in legs)  # type: ignore[attr-defined]
    return render(
        request,
        "trading/setup/sources.html",
        {"page": page, "can_manage": _can_manage(request), "tenant": membership.tenant},
    )


@permission_required(Perm.MARKET_MANAGE)
def source_create(request: HttpRequest) -> HttpResponse:
    form = QuoteSourceForm(request.POST or None, tenant=require_tenant(request))
    if request.method == "POST":
        if form.is_valid():
            source = quote_source_save(
                tenant=form.tenant,
                source=None,
                values=form.values(),
                actor=require_actor(request),
                context=AuditContext.from_request(request),
            )
            messages.success(request, _("Source %(label)s created.") % {"label": source.label})
            return _saved(request, reverse("quote_source", args=[source.pk]))
        template = "trading/setup/partials/_source_form.html" if is_htmx(request) else "trading/setup/source_form.html"
        return render(request, template, {"form": form}, status=400)
    return render(request, "trading/setup/source_form.html", {"form": form})


@permission_required(Perm.TRADING_READ)
def source_detail(request: HttpRequest, source_id: int) -> HttpResponse:
    membership = require_membership(request)
    tenant = membership.tenant
    source = selectors.setup_source_for(membership=membership, source_id=source_id)
    if source is None:
        raise Http404
    editable = _can_manage(request) and source.tenant_id == tenant.pk
    form = None
    status = 200
    if editable:
        form = QuoteSourceForm(request.POST or None, instance=source, tenant=tenant)
        if request.method == "POST":
            if form.is_valid():
                saved = quote_source_save(
                    tenant=tenant,
                    source=source,
                    values=form.values(),
                    actor=require_actor(request),
                    context=AuditContext.from_request(request),
                )
                messages.success(request, _("Source %(label)s saved.") % {"label": saved.label})
                return _saved(request, reverse("quote_source", args=[source.pk]))
            status = 400
            if is_htmx(request):
                return render(
                    request, "trading/setup/partials/_source_form.html", {"form": form, "source": source}, status=400
                )
            source.refresh_from_db()
    elif request.method == "POST":
        return HttpResponse(status=403)
    pairs = selectors.pairs_for(membership=membership).filter(Q(perp_source=source) | Q(cfd_source=source))
    context = {"source": source, "form": form, "editable": editable, "pairs": pairs.order_by("name")}
    return render(request, "trading/setup/source_detail.html", context, status=status)


@require_POST
@permission_required(Perm.MARKET_MANAGE)
def source_delete(request: HttpRequest, source_id: int) -> HttpResponse:
    source = QuoteSource.objects.for_member(require_membership(request)).filter(pk=source_id).first()
    if source is None:
        raise Http404  # another desk's, or the platform's (read-only to desks)
    label = source.label
    try:
        quote_source_delete(source=source, actor=require_actor(request), context=AuditContext.from_request(request))
    except SourceInUse as exc:
        messages.error(
            request,
            _("%(source)s quotes a leg of the pair %(pair)s: delete or change that pair first.")
            % {"source": label, "pair": exc.pair.name},
        )
        return HttpResponseRedirect(reverse("quote_source", args=[source_id]))
    messages.success(request, _("Source %(label)s deleted.") % {"label": label})
    return HttpResponseRedirect(reverse("quote_sources"))


# --- pairs -------------------------------------------------------------------------------------------------------
@permission_required(Perm.TRADING_READ)
def pair_list(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    page = Paginator(selectors.pairs_for(membership=membership).order_by("name", "pk"), PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "can_manage": _can_manage(request),
        "tenant": membership.tenant,
        "streamed": streamed_pair_ids(),
    }
    return render(request, "trading/setup/pairs.html", context)


@permission_required(Perm.MARKET_MANAGE)
def pair_create(request: HttpRequest) -> HttpResponse:
    form = SourcePairForm(request.POST or None, tenant=require_tenant(request), initial={"enabled": True})
    if request.method == "POST":
        if form.is_valid():
            pair = pair_save(
                tenant=form.tenant,
                pair=None,
                values=form.values(),
                actor=require_actor(request),
                context=AuditContext.from_request(request),
            )
            messages.success(
                request,
                _("Pair %(name)s created: the engine starts streaming it within a few seconds.") % {"name": pair.name},
            )
            return _saved(request, reverse("source_pair", args=[pair.pk]))
        template = "trading/setup/partials/_pair_form.html" if is_htmx(request) else "trading/setup/pair_form.html"
        return render(request, template, {"form": form}, status=400)
    return render(request, "trading/setup/pair_form.html", {"form": form})


@permission_required(Perm.TRADING_READ)
def pair_detail(request: HttpRequest, pair_id: int) -> HttpResponse:
    membership = require_membership(request)
    tenant = membership.tenant
    pair = selectors.pair_for(membership=membership, pair_id=pair_id)
    if pair is None:
        raise Http404
    editable = _can_manage(request) and pair.tenant_id == tenant.pk
    form = None
    status = 200
    if editable:
        form = SourcePairForm(request.POST or None, instance=pair, tenant=tenant)
        if request.method == "POST":
            if form.is_valid():
                saved = pair_save(
                    tenant=tenant,
                    pair=pair,
                    values=form.values(),
                    actor=require_actor(request),
                    context=AuditContext.from_request(request),
                )
                messages.success(request, _("Pair %(name)s saved.") % {"name": saved.name})
                return _saved(request, reverse("source_pair", args=[pair.pk]))
            status = 400
            if is_htmx(request):
                return render(
                    request, "trading/setup/partials/_pair_form.html", {"form": form, "pair": pair}, status=400
                )
            pair.refresh_from_db()
    elif request.method == "POST":
        return HttpResponse(status=403)
    context = {
        "pair": pair,
        "form": form,
        "editable": editable,
        "streamed": pair.pk in streamed_pair_ids(),
        # Rates as typed: 0.0002, never 0.00020000 or 2E-4.
        "fees": {"perp": plain(pair.perp_fee_rate), "cfd": plain(pair.cfd_fee_rate)},
    }
    return render(request, "trading/setup/pair_detail.html", context, status=status)


@require_POST
@permission_required(Perm.MARKET_MANAGE)
def pair_delete_view(request: HttpRequest, pair_id: int) -> HttpResponse:
    pair = (
        SourcePair.objects.for_member(require_membership(request))
        .filter(pk=pair_id)
        .select_related("perp_source", "cfd_source")
        .first()
    )
    if pair is None:
        raise Http404  # another desk's, or the platform's (read-only to desks)
    name = pair.name
    pair_delete(pair=pair, actor=require_actor(request), context=AuditContext.from_request(request))
    messages.success(request, _("Pair %(name)s deleted: the engine stops streaming it.") % {"name": name})
    return HttpResponseRedirect(reverse("source_pairs"))
