"""The one policy for every connection the server opens to a destination a tenant chose (SSRF).

Destinations a tenant types — alert webhooks and apprise URLs, a Binance endpoint override, a quote source's
endpoint, an MT5 bridge host — must not make the server reach what only it can reach: loopback, private networks,
link-local (cloud metadata at 169.254.169.254 among them), shared, reserved and multicast addresses, in any spelling
(`::1`, `::ffff:127.0.0.1`, `2130706433`, `0177.0.0.1`, a name that resolves to one of them).

- Checked after DNS resolution, on every address a name resolves to (one refused address refuses the name).
- Checked again on each connection, on the address actually connected to: the name is resolved once per
  connection and the socket connects to the address that was vetted (`vetted_addresses`), so a name that answers
  a public address to the check and loopback to the connection (DNS rebinding) gets nowhere. HTTP through
  requests/urllib3 (webhooks, apprise) is guarded inside `guarded()`; aiohttp (ccxt) through `GuardedResolver`;
  rpyc (MT5 bridges) connects to the vetted address itself.
- Platform operators may allow non-public addresses (`QUANTARB_OUTBOUND_ALLOW_PRIVATE`; the embedded demo and the
  tests do, their receivers run on this machine). Cloud metadata addresses stay refused even then.
- MT5 bridges are reached over private networks by design, so they follow an allow-list instead
  (`QUANTARB_MT5_BRIDGE_HOSTS`: names, addresses or networks): only hosts a platform operator listed.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver
from django.conf import settings
from django.utils.translation import gettext as _
from urllib3.util import connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services: never reachable from here, whatever the settings.
METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)


class DestinationRefused(Exception):
    """A destination the policy refuses; the message says why, in words a tenant admin can act on."""


class Unresolvable(DestinationRefused):
    """The name does not resolve (now): refused when connecting, accepted when saving (it is vetted then)."""


def _unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, IPv4-compatible, 6to4 or Teredo IPv6 address (they reach it)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
        if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d (deprecated IPv4-compatible)
            return ipaddress.IPv4Address(int(address))
    return address


def allow_private() -> bool:
    return bool(getattr(settings, "QUANTARB_OUTBOUND_ALLOW_PRIVATE", False))


def address_problem(address: IPAddress, *, private_allowed: bool | None = None) -> str | None:
    """Why the server must not connect to `address`, or None when it may."""
    inner = _unwrap(address)
    if address in METADATA or inner in METADATA:
        return _("a cloud metadata address")
    if private_allowed if private_allowed is not None else allow_private():
        return None
    if not (inner.is_global and address.is_global) or inner.is_multicast or address.is_multicast:
        return _("a loopback, private, link-local or reserved address")
    return None


def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """getaddrinfo for TCP: (family, type, proto, canonname, sockaddr) per address. Unresolvable → refused."""
    if not host or len(host) > 253 or "\x00" in host:
        raise DestinationRefused(_("The host name is not valid."))
    try:
        return socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise Unresolvable(_("The host %(host)s cannot be resolved.") % {"host": host[:100]}) from None


def vetted_addresses(host: str, port: int, *, private_allowed: bool | None = None) -> list[tuple[Any, ...]]:
    """Resolve `host` once and vet every address; the getaddrinfo rows to connect to. DestinationRefused when any
    address is refused (the name must not be half internal)."""
    rows = resolve(host, port)
    for row in rows:
        address = ipaddress.ip_address(str(row[4][0]).split("%")[0])
        problem = address_problem(address, private_allowed=private_allowed)
        if problem:
            raise DestinationRefused(
                _("Refused: %(host)s resolves to %(what)s, which the server may not connect to.")
                % {"host": host[:100], "what": problem}
            )
    return rows


def _url_host_port(url: str, schemes: Sequence[str]) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DestinationRefused(_("The address is not a valid URL.")) from None
    if parts.scheme.lower() not in schemes:
        raise DestinationRefused(
            _("Use one of these schemes: %(schemes)s.") % {"schemes": ", ".join(f"{s}://" for s in schemes)}
        )
    host = parts.hostname or ""
    if not host:
        raise DestinationRefused(_("The address names no host."))
    default = 443 if parts.scheme.lower() in ("https", "wss") else 80
    return host, port or default


def check_url(url: str, *, schemes: Sequence[str] = ("https", "http")) -> None:
    """Validate a URL a tenant gave for the server to call: an allowed scheme, and a host whose every address the
    policy allows (resolved now; it is resolved and vetted again on each connection)."""
    host, port = _url_host_port(url, schemes)
    with contextlib.suppress(Unresolvable):  # a name that resolves later is vetted on each connection
        vetted_addresses(host, port)


# --- apprise: HTTP services only --------------------------------------------------------------------------
# apprise speaks many protocols (SMTP, MQTT, XMPP, SIP …) through as many client libraries; these schemes are its
# services that notify over HTTP(S), which every connection `guarded()` vets. The first group names a host of the
# tenant's choosing, checked on saving too; the others reach their services' own public hosts.
APPRISE_HOST_SCHEMES = ("json", "jsons", "xml", "xmls", "form", "forms", "gotify", "gotifys")
APPRISE_SERVICE_SCHEMES = ("slack", "discord", "msteams", "tgram", "pover", "ntfy", "ntfys", "opsgenie", "pagerduty")


def check_apprise_url(url: str) -> None:
    """An apprise URL the server may notify: an allowed scheme and, for a tenant-chosen host, a permitted one."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    allowed = (*APPRISE_HOST_SCHEMES, *APPRISE_SERVICE_SCHEMES)
    if scheme not in allowed:
        raise DestinationRefused(
            _("This apprise service is not allowed here. Use one of: %(schemes)s.")
            % {"schemes": ", ".join(f"{name}://" for name in allowed)}
        )
    if scheme in APPRISE_HOST_SCHEMES:
        check_url(url, schemes=APPRISE_HOST_SCHEMES)


# --- MT5 bridges: an operator's allow-list ------------------------------------------------------------------
def _bridge_entries() -> list[tuple[str, int, int]]:
    """`QUANTARB_MT5_BRIDGE_HOSTS` as (host or network, lowest port, highest port); entries are `host`,
    `host:port`, `host:low-high`, `[v6]:port` or a network such as `10.8.0.0/24`."""
    entries = []
    for raw in getattr(settings, "QUANTARB_MT5_BRIDGE_HOSTS", []):
        entry = str(raw).strip().lower()
        if not entry:
            continue
        host, low, high = entry, 1, 65535
        if entry.startswith("["):
            host, _bracket, rest = entry[1:].partition("]")
            ports = rest.removeprefix(":")
        elif entry.count(":") == 1:
            host, _colon, ports = entry.partition(":")
        else:
            ports = ""
        if ports:
            first, _dash, last = ports.partition("-")
            low, high = int(first), int(last or first)
        entries.append((host, low, high))
    return entries


def bridge_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """The vetted addresses of an MT5 bridge at host:port: listed on `QUANTARB_MT5_BRIDGE_HOSTS` (by name, or every
    address it resolves to is a listed address or inside a listed network) with the port in the entry's range.
    Metadata addresses never pass."""
    refused = DestinationRefused(
        _(
            "%(host)s:%(port)s is not on this platform's list of MT5 bridges: ask a platform operator to add it "
            "(QUANTARB_MT5_BRIDGE_HOSTS)."
        )
        % {"host": host[:100], "port": port}
    )
    entries = [(name, low, high) for name, low, high in _bridge_entries() if low <= port <= high]
    if not entries:
        raise refused
    rows = vetted_addresses(host, port, private_allowed=True)
    if host.strip("[]").lower() in {name for name, _low, _high in entries}:
        return rows
    networks = []
    for name, _low, _high in entries:
        with contextlib.suppress(ValueError):
            networks.append(ipaddress.ip_network(name, strict=False))
    for row in rows:
        address = ipaddress.ip_address(str(row[4][0]).split("%")[0])
        candidates = {address, _unwrap(address)}
        listed = any(
            candidate in network
            for candidate in candidates
            for network in networks
            if candidate.version == network.version
        )
        if not listed:
            raise refused
    return rows


def check_bridge_host(host: str, port: int = 18812) -> None:
    bridge_addresses(host, port)


# --- connection-time guards ----------------------------------------------------------------------------------
_GUARD: contextvars.ContextVar[bool] = contextvars.ContextVar("quantarb_outbound_guard", default=False)


def connect_vetted(rows: list[tuple[Any, ...]], timeout: float | None) -> socket.socket:
    """Connect to the first of the vetted getaddrinfo `rows` that answers (no resolution here)."""
    last_error: OSError | None = None
    for family, kind, proto, _canonical, sockaddr in rows:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as error:
            last_error = error
            sock.close()
    raise last_error or OSError("no address to connect to")


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Within the block, every HTTP connection urllib3 opens in this thread (requests, apprise) resolves its host
    once, vets every address and connects to a vetted one; a refused host raises DestinationRefused."""
    token = _GUARD.set(True)
    try:
        yield
    finally:
        _GUARD.reset(token)


def install() -> None:
    """Wrap urllib3's `create_connection` (once, at start-up): unchanged outside `guarded()`."""
    if getattr(connection.create_connection, "quantarb_guarded", False):
        return
    original = connection.create_connection

    def create_connection(address: tuple[str, int], timeout: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not _GUARD.get():
            return original(address, timeout, *args, **kwargs)
        host, port = address
        rows = vetted_addresses(host, int(port))
        sock = connect_vetted(rows, None if timeout is None or not isinstance(timeout, int | float) else timeout)
        for option in kwargs.get("socket_options") or ():
            sock.setsockopt(*option)
        return sock

    create_connection.quantarb_guarded = True  # type: ignore[attr-defined]
    connection.create_connection = create_connection


def guarded_resolver() -> Any:
    """An aiohttp resolver that vets every address it returns: aiohttp connects only to what its resolver
    returned, so the address connected to is the one vetted (ccxt's sessions for endpoint overrides)."""

    class GuardedResolver(AbstractResolver):
        def __init__(self) -> None:
            self._inner = ThreadedResolver()

        async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> Any:
            answers = await self._inner.resolve(host, port, family)
            for answer in answers:
                problem = address_problem(ipaddress.ip_address(str(answer["host"]).split("%")[0]))
                if problem:
                    raise OSError(
                        _("Refused: %(host)s resolves to %(what)s, which the server may not connect to.")
                        % {"host": host[:100], "what": problem}
                    )
            return answers

        async def close(self) -> None:
            await self._inner.close()

    return GuardedResolver()
