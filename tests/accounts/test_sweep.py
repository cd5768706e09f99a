"""The isolation and role sweep, generated from the URLconf, the admin's registry and the WebSocket routes.

Every route is classified (a portal view names its matrix permission through `permission_required`, an API
view through `required_permission`, the admin through its model admins, a public route is listed below with
the reason), so a new endpoint that nobody classified fails here instead of shipping unchecked. Then each
persona of tenant alpha (alice admin, tom trader, ana analyst, bob viewer, cora compliance) calls every route:

- the status follows the permission matrix (allowed: 2xx; refused: 403, or the admin's sign-in redirect);
- no answer contains anything of tenant bravo (charlie's desk, marked `BRAVO-SECRET` wherever it has text);
- every route with an object id, given bravo's ids, answers 404 (the admin: its "doesn't exist" redirect), and
  posting to it changes nothing of bravo's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.admin_site import TenantScopedAdmin
from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.models import AuditEvent, ChangeLogEntry, Invitation, Membership, Tenant
from accounts.permissions import Perm, role_has
from accounts.sessions import TENANT_SESSION_KEY
from quantarb.routing import websocket_urlpatterns
from tests.helpers.clients import obtain, tenant_client

pytestmark = pytest.mark.django_db
MARKER = "BRAVO-SECRET"
ALPHA = ("alice", "tom", "ana", "bob", "cora")

# Routes anyone may call, and why. Everything else must name a matrix permission.
PUBLIC = {
    "healthz": "liveness probe, no data",
    "readyz": "readiness probe: component lights, no tenant data",
    "metrics": "Prometheus scrape: loopback callers or the metrics bearer token only; no tenant data",
    "login": "sign-in",
    "two_factor_verify": "the second sign-in step, the caller's own pending login",
    "two_factor_enrol": "enrolling the caller's own authenticator",
    "logout": "sign-out",
    "set_language": "the caller's own preference",
    "set_theme": "the caller's own preference",
    "my_sessions": "the caller's own sessions and API tokens",
    "my_session_revoke": "ends one of the caller's own sessions (another user's id is a 404, test_sessions.py)",
    "my_token_revoke": "revokes one of the caller's own API tokens (another user's id is a 404, test_sessions.py)",
    "switch_tenant": "chooses among the caller's own memberships (a foreign id is a 404, tested below)",
    "invitations": "the caller's own invitations to desks (a newcomer has no tenant yet)",
    "invitation_accept": "answers the caller's own invitation (anyone else's id is a 404, tested below)",
    "invitation_decline": "answers the caller's own invitation (anyone else's id is a 404, tested below)",
    "invitation_join": "a desk's join link: its secret key lets the holder create their own account and join",
    "auth-token": "authenticates by its body",
    "auth-token-refresh": "authenticates by its body",
    "auth-logout": "authenticates by its body",
    "me": "the caller themself (required_permission None)",
    "api-schema": "the OpenAPI description, signed-in users",
    "api-schema-v1": "the OpenAPI description, signed-in users",
    "api-docs": "Swagger UI over the schema, signed-in users",
}


# Query parameters that name an object, per route name: the sweep calls with alpha's own (allowed) and with
# bravo's (a 404, as if it did not exist).
QUERY_OBJECTS = {
    "market-spreads-candles": "pair",
    "market-quotes": "source",
    "market-opportunities": "pair",
    "api-analytics-metrics": "pool",
    "api-analytics-equity": "pool",
    "api-analytics-attribution": "pool",
}


# --- the routes -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    path: str  # with <params>
    name: str
    callback: Any

    @property
    def params(self) -> list[str]:
        return [part.split(":")[-1].rstrip(">") for part in self.path.split("<")[1:]]

    @property
    def permission(self) -> Perm | None | str:
        cls = getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)
        if cls is not None and hasattr(cls, "required_permission"):
            return cls.required_permission  # type: ignore[no-any-return]
        if hasattr(self.callback, "required_permission"):
            return self.callback.required_permission  # type: ignore[no-any-return]
        return "public" if self.name in PUBLIC else "unclassified"

    def permission_for(self, method: str) -> Perm | None | str:
        cls = getattr(self.callback, "cls", None)
        if method.upper() not in ("GET", "HEAD", "OPTIONS") and cls is not None and hasattr(cls, "write_permission"):
            return cls.write_permission  # type: ignore[no-any-return]
        return self.permission

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


def all_routes() -> list[Route]:
    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Route]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace != "admin":
                yield Route("/" + route, pattern.name or "", pattern.callback)

    return list(walk(get_resolver().url_patterns, "", ""))


ROUTES = all_routes()


def test_every_route_is_classified() -> None:
    names = {route.name for route in ROUTES}
    assert set(QUERY_OBJECTS) <= names, "QUERY_OBJECTS names a route that no longer exists"
    unclassified = [route.path for route in ROUTES if route.permission == "unclassified"]
    assert unclassified == [], "name a matrix permission (or add the route to PUBLIC with the reason)"
    assert len(ROUTES) >= 20


# --- the two desks --------------------------------------------------------------------------------------------
@pytest.fixture
def desks(
    alice: Any, tom: Any, ana: Any, bob: Any, cora: Any, charlie: Any, alpha_market: Any, canary_accounts: Any
) -> dict[str, Any]:
    from trading.models import PairAccess, QuoteSource, SourcePair

    Tenant.objects.filter(pk=charlie.tenant.pk).update(name=f"{MARKER} desk")
    perp, cfd = QuoteSource.objects.order_by("pk")[:2]
    # Bravo's own sources and pair, as its admin creates them in the portal (trading/marketdata/services.py).
    bravo_perp = QuoteSource.objects.create(
        tenant=charlie.tenant,
        key="bravo-perp",
        venue=perp.venue,
        instrument=perp.instrument,
        endpoint="bravo",
        label=f"{MARKER} perp",
    )
    bravo_cfd = QuoteSource.objects.create(
        tenant=charlie.tenant,
        key="bravo-cfd",
        venue=cfd.venue,
        instrument=cfd.instrument,
        endpoint="bravo",
        label=f"{MARKER} cfd",
    )
    bravo_pair = SourcePair.objects.create(
        tenant=charlie.tenant, name=f"{MARKER} pair", perp_source=bravo_perp, cfd_source=bravo_cfd
    )
    PairAccess.objects.create(tenant=charlie.tenant, pair=bravo_pair)
    audit_record(tenant=charlie.tenant, actor=charlie.user, action=AuditAction.SETTINGS_CHANGED, summary={"m": MARKER})
    from accounts.models import AccountPool, VenueAccount
    from mt5ops.models import TerminalInstance

    bravo_terminal = TerminalInstance.objects.create(tenant=charlie.tenant, label=f"{MARKER} terminal")
    bravo_account = VenueAccount.objects.create(
        tenant=charlie.tenant, owner=charlie.user, venue="simulated-perp", label=f"{MARKER} perp account"
    )
    bravo_cfd_account = VenueAccount.objects.create(
        tenant=charlie.tenant, owner=charlie.user, venue="simulated-cfd", label=f"{MARKER} cfd account"
    )
    bravo_pool = AccountPool.objects.create(
        tenant=charlie.tenant,
        name=f"{MARKER} pool",
        perp_account=bravo_account,
        cfd_account=bravo_cfd_account,
        perp_allocation=1,
        cfd_allocation=1,
    )
    from alerts.models import Alert, AlertRule, Channel, Delivery
    from quantarb import clock

    bravo_rule = AlertRule.objects.create(tenant=charlie.tenant, rule_type="feed_stale", params={"max_age_s": "30"})
    bravo_alert = Alert.objects.create(
        tenant=charlie.tenant,
        category="system",
        severity="critical",
        title=f"{MARKER} alert",
        dedup_key=f"{MARKER}-key",
        rule=bravo_rule,
        first_seen=clock.now(),
        last_seen=clock.now(),
    )
    bravo_channel = Channel.objects.create(
        tenant=charlie.tenant, name=f"{MARKER} channel", kind="email", target="bravo-secret@example.test"
    )
    bravo_delivery = Delivery.objects.create(
        tenant=charlie.tenant, alert=bravo_alert, channel=bravo_channel, status="failed", created_at=clock.now()
    )
    audit_record(tenant=alice.tenant, actor=alice.user, action=AuditAction.SETTINGS_CHANGED, summary={"m": "alpha"})
    trading = _bravo_trading(charlie, bravo_pool)
    bravo_invitation = _bravo_invitation(charlie)
    return {
        "bravo_invitation": bravo_invitation,
        **trading,
        "bravo_alert": bravo_alert,
        "bravo_channel": bravo_channel,
        "bravo_rule": bravo_rule,
        "bravo_delivery": bravo_delivery,
        "alice": alice,
        "tom": tom,
        "ana": ana,
        "bob": bob,
        "cora": cora,
        "charlie": charlie,
        "bravo_pair": bravo_pair,
        "bravo_membership": Membership.objects.get(user=charlie.user),
        "bravo_account": bravo_account,
        "bravo_terminal": bravo_terminal,
        "bravo_pool": bravo_pool,
    }


def _bravo_invitation(charlie: Any) -> Any:
    """Bravo's standing invitation to a user of no alpha persona."""
    from accounts.models import User
    from accounts.services import invitation_send

    User.objects.create_user("bravo-invitee", password="x")
    return invitation_send(tenant=charlie.tenant, username="bravo-invitee", role="viewer", actor=charlie.user)


def _bravo_trading(charlie: Any, pool: Any) -> dict[str, Any]:
    """Bravo's strategy (with a version), hedge, order, fill, kill switch, reconciliation report and manual
    command, each carrying the marker where it has text."""
    from decimal import Decimal

    from quantarb import clock
    from risk.models import ComplianceRule, KillSwitch, Transfer
    from strategies.models import Strategy, StrategyVersion
    from trading.models import Fill, Hedge, ManualCommand, Order, ReconciliationReport

    now = clock.now()
    strategy = Strategy.objects.create(tenant=charlie.tenant, name=f"{MARKER} strategy", pool=pool, mode="paper")
    version = StrategyVersion.objects.create(
        strategy=strategy, tenant=charlie.tenant, number=1, params={}, note=MARKER, created_by=charlie.user
    )
    Strategy.objects.filter(pk=strategy.pk).update(current_version=version)
    hedge = Hedge.objects.create(
        tenant=charlie.tenant,
        pool=pool,
        strategy=strategy,
        strategy_version=version,
        direction="sell_perp",
        status="open",
        size_oz=Decimal(1),
        planned_at=now,
        status_reason=MARKER,
    )
    order = Order.objects.create(
        tenant=charlie.tenant,
        hedge=hedge,
        account=pool.perp_account,
        strategy=strategy,
        leg="perp",
        intent="open",
        client_order_id="bravo-secret-order",
        side="sell",
        kind="limit_ioc",
        quantity=Decimal(1),
        status="filled",
        filled=Decimal(1),
        error=MARKER,
        created_at=now,
    )
    Fill.objects.create(
        tenant=charlie.tenant,
        order=order,
        account_id=order.account_id,
        fill_id=MARKER,
        quantity=Decimal(1),
        price=Decimal(1),
        source="paper",
        at=now,
    )
    switch = KillSwitch.objects.create(
        scope="tenant", tenant=charlie.tenant, trigger="manual", reason=MARKER, tripped_at=now
    )
    report = ReconciliationReport.objects.create(
        tenant=charlie.tenant, pool=pool, trigger="manual", status="mismatch", error=MARKER, started_at=now
    )
    command = ManualCommand.objects.create(
        tenant=charlie.tenant,
        pool=pool,
        kind="cancel_orders",
        result=MARKER,
        requested_by=charlie.user,
        requested_at=now,
    )
    from accounts.models import ApiTokenGrant, PortalSession

    bravo_session = PortalSession.objects.create(user=charlie.user, started_at=now, last_activity_at=now)
    from quantarb.models import LongJob

    bravo_job = LongJob.objects.create(kind="audit_export", tenant=charlie.tenant, message=MARKER, created_at=now)
    bravo_grant = ApiTokenGrant.objects.create(user=charlie.user, tenant=charlie.tenant, issued_at=now, expires_at=now)
    from trading.models import CashFlow

    bravo_cash_flow = CashFlow.objects.create(
        tenant=charlie.tenant, account=pool.perp_account, kind="deposit", status="requested", amount=Decimal(50000),
        currency="USDT", usd_per_usdt=Decimal(1), amount_usd=Decimal(50000), at=now, note=MARKER, created_at=now,
    )  # fmt: skip
    bravo_transfer = Transfer.objects.create(
        tenant=charlie.tenant, from_account=pool.perp_account, to_account=pool.cfd_account, amount=Decimal(100),
        currency="USDT", note=MARKER, requested_by=charlie.user, requested_at=now,
    )  # fmt: skip
    ComplianceRule.objects.create(tenant=charlie.tenant, name=MARKER, kind="restricted", instrument=MARKER)
    from risk.models import Breach, RiskLimit

    bravo_limit = RiskLimit.objects.create(
        tenant=charlie.tenant, name=MARKER, scope_kind="pool", pool=pool, metric="unhedged_oz",
        breach_level=Decimal(2), action="pause", confirm=True,
    )  # fmt: skip
    bravo_breach = Breach.objects.create(
        tenant=charlie.tenant, limit=bravo_limit, limit_label=MARKER, metric="unhedged_oz", scope_kind="pool",
        scope_ref=pool.pk, scope_label=MARKER, threshold=Decimal(2), started_at=now, start_value=Decimal(3),
        peak_value=Decimal(3), peak_at=now, action="pause", action_status="pending", action_note=MARKER,
    )  # fmt: skip
    return {
        "bravo_transfer": bravo_transfer,
        "bravo_limit": bravo_limit,
        "bravo_breach": bravo_breach,
        "bravo_cash_flow": bravo_cash_flow,
        "bravo_session": bravo_session,
        "bravo_grant": bravo_grant,
        "bravo_job": bravo_job,
        "bravo_strategy": strategy,
        "bravo_hedge": hedge,
        "bravo_switch": switch,
        "bravo_report": report,
        "bravo_command": command,
    }


def foreign_value(param: str, desks: dict[str, Any]) -> int | str:
    """Bravo's object for a route parameter; a parameter nobody taught the sweep fails the sweep."""
    samples: dict[str, Callable[[], int | str]] = {
        "membership_id": lambda: int(desks["bravo_membership"].pk),
        "account_id": lambda: int(desks["bravo_account"].pk),
        "terminal_id": lambda: int(desks["bravo_terminal"].pk),
        "pair_id": lambda: int(desks["bravo_pair"].pk),
        "source_id": lambda: int(desks["bravo_pair"].perp_source_id),
        "pool_id": lambda: int(desks["bravo_pool"].pk),
        "tenant_id": lambda: int(desks["charlie"].tenant.pk),
        "alert_id": lambda: int(desks["bravo_alert"].pk),
        "channel_id": lambda: int(desks["bravo_channel"].pk),
        "rule_id": lambda: int(desks["bravo_rule"].pk),
        "delivery_id": lambda: int(desks["bravo_delivery"].pk),
        "strategy_id": lambda: int(desks["bravo_strategy"].pk),
        "hedge_id": lambda: int(desks["bravo_hedge"].pk),
        "switch_id": lambda: int(desks["bravo_switch"].pk),
        "report_id": lambda: int(desks["bravo_report"].pk),
        "command_id": lambda: int(desks["bravo_command"].pk),
        # Not ids: valid names, so the route resolves and the foreign object's id is what answers 404.
        "action": lambda: "stop",
        "kind": lambda: "flatten_pool",
        "session_id": lambda: int(desks["bravo_session"].pk),
        "grant_id": lambda: int(desks["bravo_grant"].pk),
        "job_id": lambda: int(desks["bravo_job"].pk),
        "invitation_id": lambda: int(desks["bravo_invitation"].pk),
        "flow_id": lambda: int(desks["bravo_cash_flow"].pk),
        "transfer_id": lambda: int(desks["bravo_transfer"].pk),
        "limit_id": lambda: int(desks["bravo_limit"].pk),
        "breach_id": lambda: int(desks["bravo_breach"].pk),
    }
    assert param in samples, f"teach the sweep a foreign value for <{param}>"
    return samples[param]()


def query_for(route: Route, tenant: Any) -> dict[str, Any]:
    from trading.models import PairAccess

    kind = QUERY_OBJECTS.get(route.name)
    access = PairAccess.objects.filter(tenant=tenant).select_related("pair__perp_source").first()
    if kind is None:
        return {}
    if kind == "pool":
        from accounts.models import AccountPool

        return {"scope": "pool", "id": AccountPool.objects.filter(tenant=tenant).values_list("pk", flat=True)[0]}
    assert access is not None
    return {"pair": access.pair_id} if kind == "pair" else {"source": access.pair.perp_source.key}


def bravo_state() -> dict[str, Any]:
    return {
        "memberships": sorted(Membership.objects.filter(tenant__slug="bravo").values_list("pk", "role", "user_id")),
        "tenant": list(Tenant.objects.filter(slug="bravo").values_list("name", "slug")),
        "invitations": sorted(Invitation.objects.filter(tenant__slug="bravo").values_list("pk", "status")),
        "audit": AuditEvent.objects.filter(tenant__slug="bravo").count(),
        "alerts": _bravo_alerts(),
        "trading": _bravo_trading_state(),
        "mt5": _bravo_mt5_state(),
    }


def _bravo_mt5_state() -> list[Any]:
    from mt5ops.models import TerminalEvent, TerminalStatus

    return [
        sorted(TerminalStatus.objects.filter(terminal__tenant__slug="bravo").values_list("pk", "state")),
        sorted(TerminalEvent.objects.filter(terminal__tenant__slug="bravo").values_list("pk", "kind", "action")),
    ]


def _bravo_trading_state() -> list[Any]:
    from risk.models import Breach, ComplianceRule, KillSwitch, RiskLimit, Transfer
    from strategies.models import Strategy
    from trading.models import CashFlow, Hedge, ManualCommand, Order, ReconciliationReport

    return [
        sorted(RiskLimit.objects.filter(tenant__slug="bravo").values_list("pk", "enabled", "breach_level")),
        sorted(Breach.objects.filter(tenant__slug="bravo").values_list("pk", "action_status", "confirmed_by")),
        sorted(CashFlow.objects.filter(tenant__slug="bravo").values_list("pk", "status")),
        sorted(Transfer.objects.filter(tenant__slug="bravo").values_list("pk", "status", "approved_by_id")),
        sorted(ComplianceRule.objects.filter(tenant__slug="bravo").values_list("pk", "name", "enabled")),
        sorted(Strategy.objects.filter(tenant__slug="bravo").values_list("pk", "state", "current_version_id")),
        sorted(Hedge.objects.filter(tenant__slug="bravo").values_list("pk", "status")),
        sorted(Order.objects.filter(tenant__slug="bravo").values_list("pk", "status")),
        sorted(KillSwitch.objects.filter(tenant__slug="bravo").values_list("pk", "reset_at")),
        sorted(ReconciliationReport.objects.filter(tenant__slug="bravo").values_list("pk", "status")),
        sorted(ManualCommand.objects.filter(tenant__slug="bravo").values_list("pk", "status")),
    ]


def _bravo_alerts() -> list[Any]:
    from alerts.models import Alert, Channel, Delivery

    return [
        sorted(Alert.objects.filter(tenant__slug="bravo").values_list("pk", "status", "count")),
        sorted(Channel.objects.filter(tenant__slug="bravo").values_list("pk", "name", "target", "enabled")),
        sorted(Delivery.objects.filter(tenant__slug="bravo").values_list("pk", "status", "attempts")),
    ]


def assert_clean(response: Any, where: str) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", "replace")
    assert MARKER not in text and "charlie" not in text, f"{where} shows tenant bravo's data"


def allowed(persona: Any, permission: Perm | None | str) -> bool:
    if permission in ("public", None):
        return True
    return role_has(persona.role, permission)


# --- pages and API -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ALPHA)
def test_every_route_follows_the_matrix_and_shows_only_the_tenant(desks: dict[str, Any], who: str) -> None:
    persona = desks[who]
    session = tenant_client(persona)
    token = obtain(persona)["access"]
    before = bravo_state()
    for route in ROUTES:
        if route.params:
            continue  # below, with bravo's ids
        if route.name in ("logout", "auth-logout"):
            continue  # would end the session the sweep uses; covered by the auth tests
        clients: list[tuple[str, Client, dict[str, str]]] = [("session", session, {})]
        if route.is_api:
            clients.append(("jwt", Client(), {"HTTP_AUTHORIZATION": f"Bearer {token}"}))
        own = query_for(route, persona.tenant)
        for how, client, extra in clients:
            response = client.get(route.path, own, **extra)
            where = f"{who} GET {route.path} ({how})"
            if route.permission in ("public", None):
                assert response.status_code != 500, where  # readyz may say 503: nothing runs the engine here
            elif allowed(persona, route.permission):
                assert response.status_code in (200, 405), f"{where}: {response.status_code}"
            else:
                assert response.status_code == 403, f"{where}: {response.status_code}"
            assert_clean(response, where)
            if own and allowed(persona, route.permission):
                foreign = client.get(route.path, query_for(route, desks["charlie"].tenant), **extra)
                assert foreign.status_code == 404, f"{where} with bravo's {QUERY_OBJECTS[route.name]}"
                assert_clean(foreign, where)
    # switch_tenant to bravo's id: not theirs, a 404, and the session stays on alpha.
    assert session.post(reverse("switch_tenant"), {"tenant": desks["charlie"].tenant.pk}).status_code == 404
    assert session.session[TENANT_SESSION_KEY] == persona.tenant.pk
    assert bravo_state() == before


@pytest.mark.parametrize("who", ALPHA)
def test_routes_with_ids_answer_404_for_bravo_s_objects_and_change_nothing(desks: dict[str, Any], who: str) -> None:
    persona = desks[who]
    client = tenant_client(persona)
    before = bravo_state()
    with_ids = [route for route in ROUTES if route.params]
    assert with_ids, "the sweep expects member routes with ids"
    for route in with_ids:
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(foreign_value(m.group(1), desks)), route.path)
        # The API's member routes are also asked to change and to delete bravo's object (PATCH, DELETE).
        for method in ("get", "post", *(("patch", "delete") if route.is_api else ())):
            if method in ("patch", "delete"):
                body = json.dumps({"role": "admin", "amount": "1", "note": MARKER})
                response = getattr(client, method)(path, body, content_type="application/json")
            else:
                response = getattr(client, method)(path, {"role": "admin"})
            where = f"{who} {method.upper()} {path}"
            if response.status_code == 405:
                continue
            expected = {404} if allowed(persona, route.permission_for(method)) else {403, 404}
            assert response.status_code in expected, f"{where}: {response.status_code}"
            assert_clean(response, where)
    assert bravo_state() == before


# --- the admin ---------------------------------------------------------------------------------------------------
def admin_models() -> list[tuple[Any, Any]]:
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def foreign_object(model: Any, model_admin: Any, desks: dict[str, Any]) -> Any:
    if not isinstance(model_admin, TenantScopedAdmin):
        return None
    lookup = {model_admin.tenant_path: desks["charlie"].tenant.pk}
    return model._default_manager.filter(**lookup).first()


def admin_may_view(persona: Any, model_admin: Any) -> bool:
    if not role_has(persona.role, Perm.ADMIN_SITE) or not isinstance(model_admin, TenantScopedAdmin):
        return False
    wanted = (model_admin.view_permission_required, model_admin.change_permission_required)
    return any(permission is not None and role_has(persona.role, permission) for permission in wanted)


@pytest.mark.parametrize("who", ALPHA)
def test_every_admin_page_follows_the_role_and_shows_only_the_tenant(desks: dict[str, Any], who: str) -> None:
    persona = desks[who]
    client = tenant_client(persona)
    enters = role_has(persona.role, Perm.ADMIN_SITE)
    before = bravo_state()
    index = client.get(reverse("admin:index"))
    assert index.status_code == (200 if enters else 302)
    checked_foreign = 0
    for model, model_admin in admin_models():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(changelist)
        where = f"{who} {changelist}"
        may_view = admin_may_view(persona, model_admin)
        if not enters:
            assert response.status_code == 302, where  # to the admin's sign-in, which explains
        elif may_view:
            assert response.status_code == 200, where
            assert_clean(response, where)
        else:
            assert response.status_code == 403, f"{where}: {response.status_code}"
        foreign = foreign_object(model, model_admin, desks)
        if foreign is not None:
            checked_foreign += 1
            for view in ("change", "history", "delete"):
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[foreign.pk])
                for method in ("get", "post"):
                    answer = getattr(client, method)(url, {"post": "yes", "role": "admin", "name": "x"})
                    where = f"{who} {method.upper()} {url}"
                    if enters and may_view:
                        # The admin's "doesn't exist" redirect, or 403 where the role may not delete at all.
                        assert answer.status_code in (302, 403), f"{where}: {answer.status_code}"
                        if answer.status_code == 302:
                            assert answer["Location"] == reverse("admin:index"), where
                    else:
                        assert answer.status_code in (302, 403), f"{where}: {answer.status_code}"
                    assert_clean(answer, where)
    assert checked_foreign >= 4  # tenant, membership, audit event, change log at least
    assert bravo_state() == before


@pytest.mark.parametrize("who", ("alice", "cora"))
def test_admin_exports_hold_the_tenant_only(desks: dict[str, Any], who: str) -> None:
    client = tenant_client(desks[who])
    for model, model_admin in admin_models():
        if not isinstance(model_admin, TenantScopedAdmin) or not model_admin.csv_fields:
            continue
        opts = model._meta
        if not model_admin.has_view_permission(_request_for(client, desks[who])):
            continue
        everything = [str(pk) for pk in model._default_manager.values_list("pk", flat=True)]
        response = client.post(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            {"action": "export_csv", "_selected_action": everything},
        )
        assert response.status_code == 200, opts.label
        assert_clean(response, f"{who} export {opts.label}")


def _request_for(client: Client, persona: Any) -> Any:
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = persona.user
    request.membership = Membership.objects.get(user=persona.user, tenant=persona.tenant)  # type: ignore[attr-defined]
    request.tenant = persona.tenant  # type: ignore[attr-defined]
    return request


# --- WebSockets --------------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_every_socket_route_follows_the_matrix_and_the_tenant(desks: dict[str, Any]) -> None:
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from quantarb.asgi import application
    from tests.sockets import headers_for
    from trading.models import PairAccess

    routes = ["/" + str(pattern.pattern) for pattern in websocket_urlpatterns]
    assert routes == ["/ws/spreads/", "/ws/strategies/<int:strategy_id>/"], "a new socket route: teach the sweep"
    route = routes[0]
    anonymous = WebsocketCommunicator(application, route, headers=[(b"origin", b"http://127.0.0.1")])
    connected, _ = await anonymous.connect(timeout=3)
    assert not connected, f"anonymous {route}"
    for who in (*ALPHA, "charlie"):
        persona = desks[who]
        headers = await sync_to_async(headers_for)(persona.user)
        socket = WebsocketCommunicator(application, route, headers=headers)
        connected, _ = await socket.connect(timeout=3)
        assert connected == role_has(persona.role, Perm.DASHBOARD_VIEW), f"{who} {route}"
        hello = await socket.receive_json_from(timeout=3)
        own = await sync_to_async(
            lambda p=persona: set(PairAccess.objects.filter(tenant=p.tenant).values_list("pair_id", flat=True))
        )()
        assert hello["type"] == "hello" and set(hello["pairs"]) == own, f"{who} {route}: {hello}"
        assert json.dumps(hello).find(MARKER) == -1
        await socket.disconnect()
    # A strategy's socket: members who read trading data, of the strategy's own tenant only.
    alpha_strategy = await sync_to_async(_alpha_strategy)(desks)
    for strategy_id, tenant_of in ((alpha_strategy.pk, "alpha"), (desks["bravo_strategy"].pk, "bravo")):
        path = f"/ws/strategies/{strategy_id}/"
        anonymous = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1")])
        assert not (await anonymous.connect(timeout=3))[0], f"anonymous {path}"
        for who in (*ALPHA, "charlie"):
            persona = desks[who]
            headers = await sync_to_async(headers_for)(persona.user)
            socket = WebsocketCommunicator(application, path, headers=headers)
            connected, _ = await socket.connect(timeout=3)
            expected = persona.tenant.slug == tenant_of and role_has(persona.role, Perm.TRADING_READ)
            assert connected == expected, f"{who} {path}"
            if connected:
                hello = await socket.receive_json_from(timeout=3)
                assert hello == {"type": "hello", "strategy_id": strategy_id}
                await socket.disconnect()


def _alpha_strategy(desks: dict[str, Any]) -> Any:
    from accounts.models import AccountPool
    from strategies.models import Strategy

    pool = AccountPool.objects.filter(tenant=desks["alice"].tenant).first()
    assert pool is not None
    return Strategy.objects.create(tenant=desks["alice"].tenant, name="Alpha strategy", pool=pool, mode="live")


def test_the_change_log_and_audit_of_bravo_exist_so_the_sweep_means_something(desks: dict[str, Any]) -> None:
    assert AuditEvent.objects.filter(tenant=desks["charlie"].tenant).exists()
    assert ChangeLogEntry.objects.filter(tenant=desks["charlie"].tenant).exists()
