"""The MT5 terminal pages (mt5ops/views.py): the tenant's terminals with their accounts, added and deleted by
admins, read by everyone who reads trading data; a foreign terminal is a 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from mt5ops.models import TerminalInstance
from tests.helpers.clients import client_for

pytestmark = pytest.mark.django_db


def test_the_list_shows_the_tenant_s_terminals_with_their_accounts(
    canary_accounts: Any, bob: Any, charlie: Any
) -> None:
    TerminalInstance.objects.create(tenant=charlie.tenant, label="Bravo's terminal")
    page = client_for(bob).get(reverse("terminals"))
    assert page.status_code == 200 and reverse("terminals") == "/venues/terminals/"
    html = page.content.decode()
    assert "Terminal A" in html and "Bravo's terminal" not in html
    assert 'data-testid="terminal-form"' not in html  # a viewer reads, never adds


def test_admins_add_a_terminal_with_htmx_errors_inline(alice: Any) -> None:
    client = client_for(alice)
    assert 'data-testid="terminal-form"' in client.get(reverse("terminals")).content.decode()
    bad = client.post(reverse("terminals"), {"label": "", "backend": "sim"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and b"<html" not in bad.content and b'data-testid="terminal-form"' in bad.content
    plain = client.post(reverse("terminals"), {"label": "", "backend": "sim"})
    assert plain.status_code == 400 and b"<html" in plain.content
    good = client.post(reverse("terminals"), {"label": "T2", "backend": "sim"}, HTTP_HX_REQUEST="true")
    assert good.status_code == 204 and good["HX-Redirect"] == reverse("terminals")
    assert TerminalInstance.objects.filter(tenant=alice.tenant, label="T2").exists()


def test_a_terminal_in_use_stays_and_a_free_one_is_deleted(canary_accounts: Any, alice: Any) -> None:
    client = client_for(alice)
    used = canary_accounts["terminal"]
    answer = client.post(reverse("terminal_delete", args=[used.pk]), follow=True)
    assert answer.status_code == 200 and "move or delete them first" in answer.content.decode()
    assert TerminalInstance.objects.filter(pk=used.pk).exists()
    free = TerminalInstance.objects.create(tenant=alice.tenant, label="Free")
    assert client.post(reverse("terminal_delete", args=[free.pk])).status_code == 302
    assert not TerminalInstance.objects.filter(pk=free.pk).exists()


def test_viewers_and_other_tenants_cannot_change_terminals(canary_accounts: Any, bob: Any, charlie: Any) -> None:
    terminal = canary_accounts["terminal"]
    assert client_for(bob).post(reverse("terminals"), {"label": "x", "backend": "sim"}).status_code == 403
    assert client_for(bob).post(reverse("terminal_delete", args=[terminal.pk])).status_code == 403
    assert client_for(charlie).post(reverse("terminal_delete", args=[terminal.pk])).status_code == 404
    assert client_for(charlie).get(reverse("terminal_delete", args=[terminal.pk])).status_code == 405
    assert TerminalInstance.objects.filter(pk=terminal.pk).exists()


def test_adding_and_deleting_a_terminal_is_audited_with_where_it_came_from(alice: Any) -> None:
    from accounts.models import AuditEvent

    client = client_for(alice)
    client.post(reverse("terminals"), {"label": "T3", "backend": "sim"}, REMOTE_ADDR="10.0.0.7", HTTP_USER_AGENT="ua/1")
    terminal = TerminalInstance.objects.get(tenant=alice.tenant, label="T3")
    client.post(reverse("terminal_delete", args=[terminal.pk]), REMOTE_ADDR="10.0.0.7", HTTP_USER_AGENT="ua/1")

    events = list(AuditEvent.objects.filter(tenant=alice.tenant, action__startswith="terminal_").order_by("seq"))
    assert [(e.action, e.summary["terminal"], e.actor_username) for e in events] == [
        ("terminal_added", "T3", "alice"),
        ("terminal_deleted", "T3", "alice"),
    ]
    assert all((e.ip, e.user_agent) == ("10.0.0.7", "ua/1") for e in events)


def test_a_terminal_in_use_records_no_deletion(canary_accounts: Any, alice: Any) -> None:
    from accounts.models import AuditEvent

    client_for(alice).post(reverse("terminal_delete", args=[canary_accounts["terminal"].pk]))

    assert not AuditEvent.objects.filter(action="terminal_deleted").exists()
