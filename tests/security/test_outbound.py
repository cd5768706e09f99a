"""One outbound-address policy for every destination a tenant chooses.

The matrix: every kind of destination (alert webhook, apprise URL, Binance endpoint override, MT5 bridge host)
against loopback, 10/8, cloud metadata, IPv6 loopback, IPv4-mapped and other spellings of loopback, a host name
that resolves to loopback, and a name that resolves to a public address when checked and to loopback when the
server connects (DNS rebinding, simulated with the resolver). Refused on saving and on connecting; allowed only
when a platform operator allows private addresses (never the metadata address), and MT5 bridges only from the
operators' list.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

import pytest

from quantarb import outbound

PUBLIC = "93.184.215.14"

# (spelling in a URL's host, what the resolver answers for it)
INTERNAL_HOSTS = {
    "loopback": "127.0.0.1",
    "ten-slash-eight": "10.1.2.3",
    "metadata": "169.254.169.254",
    "ipv6-loopback": "[::1]",
    "ipv4-mapped": "[::ffff:127.0.0.1]",
    "ipv4-mapped-hex": "[::ffff:7f00:1]",
    "ipv4-compatible": "[::127.0.0.1]",
    "6to4-loopback": "[2002:7f00:1::]",
    "decimal": "2130706433",
    "octal": "0177.0.0.1",
    "hex": "0x7f.1",
    "short": "127.1",
    "zero": "0.0.0.0",
    "name-to-loopback": "localhost",
}


def _real_getaddrinfo() -> Callable[..., Any]:
    return socket.getaddrinfo


@pytest.fixture
def strict(settings: Any) -> Any:
    """Production's policy: no private destinations; MT5 bridges only from a list that holds none of these."""
    settings.QUANTARB_OUTBOUND_ALLOW_PRIVATE = False
    settings.QUANTARB_MT5_BRIDGE_HOSTS = ["bridge.desk.example", "203.0.113.0/24"]
    return settings


class Rebinding:
    """A resolver whose answer for `rebind.example` is public the first time and loopback afterwards."""

    def __init__(self, monkeypatch: Any, first: str = PUBLIC, then: str = "127.0.0.1") -> None:
        self.calls = 0
        self.first, self.then = first, then
        real = _real_getaddrinfo()

        def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host in ("rebind.example", "bridge.desk.example"):
                self.calls += 1
                address = self.first if self.calls == 1 else self.then
                return real(address, port, *args, **kwargs)
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", fake)


# --- the policy itself -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", INTERNAL_HOSTS)
def test_every_spelling_of_an_internal_address_is_refused(strict: Any, name: str) -> None:
    with pytest.raises(outbound.DestinationRefused):
        outbound.check_url(f"https://{INTERNAL_HOSTS[name]}:8443/hook")


def test_a_public_address_is_allowed(strict: Any) -> None:
    outbound.check_url(f"https://{PUBLIC}/hook")


def test_an_operator_may_allow_private_addresses_but_never_the_metadata_service(settings: Any) -> None:
    settings.QUANTARB_OUTBOUND_ALLOW_PRIVATE = True
    outbound.check_url("http://127.0.0.1:9/hook")
    outbound.check_url("http://10.1.2.3/hook")
    with pytest.raises(outbound.DestinationRefused):
        outbound.check_url("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(outbound.DestinationRefused):
        outbound.check_url("http://[::ffff:169.254.169.254]/latest/meta-data/")


def test_only_http_schemes_are_taken(strict: Any) -> None:
    for url in ("file:///etc/passwd", "gopher://x.example/", "ftp://x.example/"):
        with pytest.raises(outbound.DestinationRefused):
            outbound.check_url(url)


# --- alert webhooks ----------------------------------------------------------------------------------------
def _webhook_form(alice: Any, url: str) -> Any:
    from alerts.forms import ChannelForm

    data = {"name": "hook", "kind": "webhook", "target": url, "signing_key": "k" * 20, "min_severity": "warning"}
    data.update({"repeat_after_s": "60", "max_per_hour": "10", "enabled": "on"})
    return ChannelForm(data=data, tenant=alice.tenant)


@pytest.mark.django_db
@pytest.mark.parametrize("name", INTERNAL_HOSTS)
def test_webhook_channels_refuse_internal_destinations(strict: Any, alice: Any, name: str) -> None:
    form = _webhook_form(alice, f"http://{INTERNAL_HOSTS[name]}:8080/hook")
    assert not form.is_valid()
    assert "target" in form.errors


@pytest.mark.django_db
def test_a_webhook_that_rebinds_to_loopback_is_refused_on_connecting(strict: Any, alice: Any, monkeypatch: Any) -> None:
    from alerts.senders import SendError, _send_webhook

    resolver = Rebinding(monkeypatch)
    assert _webhook_form(alice, "http://rebind.example:8080/hook").is_valid()  # public when saved
    with pytest.raises(SendError, match="loopback"):
        _send_webhook("http://rebind.example:8080/hook", "k" * 20, {"event": "test"})
    assert resolver.calls == 2  # resolved once for the check, once for the connection (vetted, never re-resolved)


# --- apprise ---------------------------------------------------------------------------------------------
def _apprise_form(alice: Any, url: str) -> Any:
    from alerts.forms import ChannelForm

    data = {"name": "apprise", "kind": "apprise", "target": "", "apprise_url": url, "min_severity": "warning"}
    data.update({"repeat_after_s": "60", "max_per_hour": "10", "enabled": "on"})
    return ChannelForm(data=data, tenant=alice.tenant)


@pytest.mark.django_db
@pytest.mark.parametrize("name", INTERNAL_HOSTS)
def test_apprise_channels_refuse_internal_destinations(strict: Any, alice: Any, name: str) -> None:
    form = _apprise_form(alice, f"json://{INTERNAL_HOSTS[name]}:8080/hook")
    assert not form.is_valid()
    assert "apprise_url" in form.errors


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["mailto://user:pass@127.0.0.1", "mqtt://127.0.0.1", "syslog://127.0.0.1"])
def test_apprise_schemes_outside_the_allow_list_are_refused(settings: Any, alice: Any, url: str) -> None:
    settings.QUANTARB_OUTBOUND_ALLOW_PRIVATE = True  # refused by scheme, whatever the address policy
    form = _apprise_form(alice, url)
    assert not form.is_valid()
    assert "apprise_url" in form.errors


@pytest.mark.django_db
def test_an_apprise_url_that_rebinds_to_loopback_is_refused_on_connecting(strict: Any, monkeypatch: Any) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from alerts.senders import SendError, _send_apprise

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        Rebinding(monkeypatch)
        with pytest.raises(SendError):
            _send_apprise(f"json://rebind.example:{server.server_port}/hook", {"title": "t", "body": "b"})
    finally:
        server.shutdown()
    assert hits == []  # the loopback receiver was never reached


# --- Binance endpoint overrides --------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("name", INTERNAL_HOSTS)
def test_endpoint_overrides_refuse_internal_destinations(strict: Any, alice: Any, name: str) -> None:
    from accounts.venue_forms import VenueAccountForm

    host = INTERNAL_HOSTS[name]
    data = {
        "label": "b",
        "venue": "binance-usdm",
        "mode": "paper",
        "owner": alice.user.pk,
        "rest_endpoint": f"https://{host}:8443",
        "ws_endpoint": f"wss://{host}:8443",
        "api_key": "A" * 64,
        "api_secret": "B" * 64,
    }
    form = VenueAccountForm(data=data, tenant=alice.tenant)
    assert not form.is_valid()
    assert "rest_endpoint" in form.errors or "ws_endpoint" in form.errors


@pytest.mark.django_db
@pytest.mark.parametrize("name", INTERNAL_HOSTS)
def test_quote_source_endpoints_refuse_internal_destinations(strict: Any, alice: Any, name: str) -> None:
    # A desk admin's Binance quote source takes an endpoint override by the same rule as an account's.
    from trading.marketdata.forms import QuoteSourceForm

    host = INTERNAL_HOSTS[name]
    data = {
        "label": "proxy feed",
        "venue": "binance-usdm",
        "rest_endpoint": f"https://{host}:8443",
        "ws_endpoint": f"wss://{host}:8443",
        "stale_after_s": 10,
    }
    form = QuoteSourceForm(data=data, tenant=alice.tenant)
    assert not form.is_valid()
    assert "rest_endpoint" in form.errors or "ws_endpoint" in form.errors


def test_the_binance_session_resolver_refuses_a_name_that_rebinds_to_loopback(strict: Any, monkeypatch: Any) -> None:
    resolver = Rebinding(monkeypatch)
    outbound.check_url("https://rebind.example:8443")  # public when the override was saved

    async def connect() -> Any:
        guarded = outbound.guarded_resolver()
        try:
            return await guarded.resolve("rebind.example", 8443, socket.AF_UNSPEC)
        finally:
            await guarded.close()

    with pytest.raises(OSError, match="loopback"):
        asyncio.run(connect())
    assert resolver.calls == 2


def test_the_binance_gateway_with_an_override_connects_through_the_policy(strict: Any) -> None:
    from trading.venues.binance.gateway import BinanceUsdmGateway

    async def load() -> Any:
        gateway = BinanceUsdmGateway(rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", read_attempts=1)
        try:
            return await gateway.load_spec()
        finally:
            await gateway.close()

    from trading.venues.errors import VenueError

    with pytest.raises(VenueError) as raised:
        asyncio.run(load())
    assert "loopback" in str(raised.value) or raised.value.kind.value == "unreachable"


# --- MT5 bridges ---------------------------------------------------------------------------------------
def _terminal_form(alice: Any, host: str, port: int = 18812) -> Any:
    from mt5ops.forms import TerminalForm

    data = {"label": "t", "backend": "rpyc", "host": host, "bridge_port": port, "terminal_path": ""}
    return TerminalForm(data=data, tenant=alice.tenant)


@pytest.mark.django_db
@pytest.mark.parametrize("name", INTERNAL_HOSTS)
def test_mt5_terminals_refuse_hosts_off_the_operators_list(strict: Any, alice: Any, name: str) -> None:
    form = _terminal_form(alice, INTERNAL_HOSTS[name].strip("[]"))
    assert not form.is_valid()
    assert "host" in form.errors


@pytest.mark.django_db
def test_mt5_terminals_take_listed_hosts_and_ports(settings: Any, alice: Any, monkeypatch: Any) -> None:
    settings.QUANTARB_MT5_BRIDGE_HOSTS = ["203.0.113.0/24", "127.0.0.1:18812-18813"]
    assert _terminal_form(alice, "203.0.113.7").is_valid()
    assert _terminal_form(alice, "127.0.0.1", 18813).is_valid()
    assert not _terminal_form(alice, "127.0.0.1", 6379).is_valid()  # listed host, port outside its range
    settings.QUANTARB_MT5_BRIDGE_HOSTS = ["0.0.0.0/0"]
    assert not _terminal_form(alice, "169.254.169.254").is_valid()  # metadata, even on a list that holds it


def test_an_mt5_bridge_name_that_rebinds_off_the_list_is_refused_on_connecting(strict: Any, monkeypatch: Any) -> None:
    from trading.venues.errors import VenueError
    from trading.venues.mt5.rpyc_backend import RpycTransport

    settings_hosts = ["203.0.113.0/24"]
    strict.QUANTARB_MT5_BRIDGE_HOSTS = settings_hosts
    Rebinding(monkeypatch, first="203.0.113.7", then="127.0.0.1")
    outbound.check_bridge_host("bridge.desk.example", 18812)  # listed when the terminal was saved
    with pytest.raises(VenueError, match="not on this platform's list"):
        RpycTransport("bridge.desk.example", 18812, connect_timeout_s=0.2)._connect()


def _listener(behaviour: str) -> tuple[socket.socket, int]:
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            if behaviour == "http":
                connection.recv(1024)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                connection.close()
            elif behaviour == "silent":
                # Say nothing until the client gives up (it closes) or 2 s pass: a port that accepts and never answers.
                connection.settimeout(2)
                with contextlib.suppress(OSError):
                    connection.recv(1)
                connection.close()
            else:
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, int(server.getsockname()[1])


@pytest.mark.parametrize("behaviour", ["closed", "http", "reset", "silent"])
def test_an_mt5_test_cannot_tell_open_ports_from_closed_ones(behaviour: str) -> None:
    """Not an rpyc bridge — a closed port, an HTTP server, a port that hangs up or stays silent — is one answer
    after one wait (the connect timeout), never a 500 nor a different message."""
    import time

    from trading.venues.errors import VenueError, VenueErrorKind
    from trading.venues.mt5.rpyc_backend import RpycTransport

    if behaviour == "closed":
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
        probe.close()
        server = None
    else:
        server, port = _listener("http" if behaviour == "http" else "silent" if behaviour == "silent" else "reset")
    started = time.monotonic()
    try:
        with pytest.raises(VenueError) as raised:
            RpycTransport("127.0.0.1", port, connect_timeout_s=0.5)._connect()
    finally:
        if server is not None:
            server.close()
    elapsed = time.monotonic() - started
    assert raised.value.kind == VenueErrorKind.UNREACHABLE
    assert str(raised.value) == f"no MT5 bridge answered at 127.0.0.1:{port}"
    assert elapsed >= 0.5  # every failure waits out the connect timeout
