"""Liveness, readiness and the system status: every light comes from a measured age or round trip.

Ages are measured on the frozen clock against the components' heartbeats: the engine's (with the last quote
time of each source and the CFD's session), the store's and the scheduler's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django
import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from quantarb import clock
from trading.models import Heartbeat, SourcePair

pytestmark = pytest.mark.django_db

PERP, CFD = "simulated-perp-xauusdt", "simulated-cfd-xauusd-s"
STATUS = "/api/v1/system/status/"


def ms_ago(seconds: float) -> int:
    return int((clock.now() - timedelta(seconds=seconds)).timestamp() * 1000)


def beat(component: str, *, age_s: float = 0.0, detail: dict[str, Any] | None = None) -> None:
    Heartbeat.objects.update_or_create(
        component=component, defaults={"beat_at": clock.now() - timedelta(seconds=age_s), "detail": detail or {}}
    )


def engine_beat(
    pair: Any,
    *,
    perp_age_s: float = 0.5,
    cfd_age_s: float = 0.5,
    session: str = "open",
    queue: dict[str, int] | None = None,
) -> None:
    """The engine's heartbeat as `MarketPipeline._beat` writes it: last quote time per source, CFD session."""
    sources = {PERP: ms_ago(perp_age_s), CFD: ms_ago(cfd_age_s)}
    beat("engine", detail={"pairs": {str(pair.pk): {"sources": sources, "session": session}}, **(queue or {})})


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def lights(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {light["key"]: light for light in body["health"]}


# --- liveness -----------------------------------------------------------------------------------------------
def test_healthz_answers_while_the_process_lives(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response.headers["Cache-Control"]


# --- readiness ----------------------------------------------------------------------------------------------
def test_readyz_is_ready_when_every_feed_is_fresh(client: Client, sim_pair: Any, frozen_clock: Any) -> None:
    engine_beat(sim_pair)

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True
    assert body["checks"]["feeds"] == {
        PERP: {"ok": True, "state": "ok", "age_s": 0.5},
        CFD: {"ok": True, "state": "ok", "age_s": 0.5},
    }


@pytest.mark.parametrize(("cfd_age_s", "state"), [(10, "warn"), (60, "fail")])
def test_readyz_is_not_ready_when_a_feed_is_stale(
    client: Client, sim_pair: Any, frozen_clock: Any, cfd_age_s: float, state: str
) -> None:
    engine_beat(sim_pair, cfd_age_s=cfd_age_s)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["feeds"][CFD] == {"ok": False, "state": state, "age_s": cfd_age_s}
    assert body["checks"]["feeds"][PERP]["ok"] is True


def test_readyz_accepts_a_silent_cfd_while_its_market_is_closed(
    client: Client, sim_pair: Any, frozen_clock: Any
) -> None:
    engine_beat(sim_pair, cfd_age_s=36 * 3600, session="weekend")

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["feeds"][CFD]["state"] == "closed"


def test_readyz_does_not_excuse_the_perp_at_the_weekend(client: Client, sim_pair: Any, frozen_clock: Any) -> None:
    engine_beat(sim_pair, perp_age_s=60, cfd_age_s=36 * 3600, session="weekend")

    response = client.get("/readyz")

    # The perp trades 24/7: a closed CFD is no excuse for a silent perp.
    assert response.status_code == 503
    assert response.json()["checks"]["feeds"][PERP]["state"] == "fail"


def test_readyz_without_an_engine_heartbeat_is_not_ready(client: Client, sim_pair: Any, frozen_clock: Any) -> None:
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["feeds"][PERP] == {"ok": False, "state": "fail", "age_s": None}


def test_readyz_takes_a_stalled_engines_age_over_its_last_report(
    client: Client, sim_pair: Any, frozen_clock: Any
) -> None:
    # The engine last wrote 40 s ago that its quotes were fresh: they are at least 40 s old by now.
    engine_beat(sim_pair, perp_age_s=40.5, cfd_age_s=40.5)
    Heartbeat.objects.filter(component="engine").update(beat_at=clock.now() - timedelta(seconds=40))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["feeds"][PERP]["state"] == "fail"


def test_readyz_ignores_disabled_pairs(client: Client, sim_pair: Any, frozen_clock: Any) -> None:
    SourcePair.objects.filter(pk=sim_pair.pk).update(enabled=False)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["feeds"] == {}


def test_readyz_is_not_ready_without_the_channel_layer(
    client: Client, sim_pair: Any, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine_beat(sim_pair)

    async def unreachable(timeout: float = 2.0) -> None:
        return None

    monkeypatch.setattr("quantarb.views.channel_layer_roundtrip_ms", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"] == {"ok": False, "ms": None}


# --- the system status --------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_members_get_versions_run_mode_queue_and_health(
    who: str, request: Any, alpha_pair: Any, frozen_clock: Any
) -> None:
    persona = request.getfixturevalue(who)
    engine_beat(alpha_pair, queue={"pending": 12, "lost": 0, "pushes": 340, "push_failures": 1})
    beat("store", age_s=1)
    beat("scheduler", age_s=3)

    response = signed_in(persona.user).get(STATUS)

    assert response.status_code == 200
    body = response.json()
    assert body["run_mode"] == settings.QUANTARB_RUN_MODE
    if who == "alice":
        assert body["versions"]["django"] == django.get_version()
        assert set(body["versions"]) == {"quantarb", "python", "django", "platform"}
    else:  # the software underneath is for admins only
        assert set(body["versions"]) == {"quantarb"}
    assert body["database"] in ("sqlite3", "postgresql")
    assert body["time"] == frozen_clock.now().isoformat()
    assert body["queue"] == {"store_pending": 12, "store_lost": 0, "pushes": 340, "push_failures": 1}
    by_key = lights(body)
    assert set(by_key) == {f"feed-{PERP}", f"feed-{CFD}", "engine", "database", "channels", "scheduler"}
    assert {key: light["state"] for key, light in by_key.items()} == dict.fromkeys(by_key, "ok")
    assert by_key["scheduler"]["age_s"] == 3.0


def test_another_tenant_sees_no_foreign_feed_in_the_status(charlie: Any, alpha_pair: Any, frozen_clock: Any) -> None:
    engine_beat(alpha_pair)

    response = signed_in(charlie.user).get(STATUS)

    assert response.status_code == 200
    assert not [key for key in lights(response.json()) if key.startswith("feed-")]


def test_a_user_without_a_tenant_gets_403_from_the_status(db: None) -> None:
    loner = User.objects.create_user(username="dave", password="correct horse battery staple 1")

    response = signed_in(loner).get(STATUS)

    assert response.status_code == 403
    assert "tenant" in response.json()["detail"]


def test_anonymous_callers_get_403_from_the_status(client: Client) -> None:
    assert client.get(STATUS).status_code in (401, 403)


def test_without_heartbeats_every_measured_light_fails(alice: Any, alpha_pair: Any, frozen_clock: Any) -> None:
    response = signed_in(alice.user).get(STATUS)

    by_key = lights(response.json())
    # Nothing has reported: no light may claim health it did not measure.
    for key in (f"feed-{PERP}", f"feed-{CFD}", "engine", "database", "scheduler"):
        assert (by_key[key]["state"], by_key[key]["age_s"]) == ("fail", None), key
    assert by_key["channels"]["state"] == "ok"  # a real round trip through the channel layer
    assert response.json()["queue"] == dict.fromkeys(("store_pending", "store_lost", "pushes", "push_failures"))


@pytest.mark.parametrize(
    ("component", "age_s", "state"),
    [("engine", 5, "ok"), ("engine", 15, "warn"), ("engine", 25, "fail"), ("store", 20, "warn"),
     ("store", 31, "fail"), ("scheduler", 14, "ok"), ("scheduler", 59, "warn"), ("scheduler", 61, "fail")],
)  # fmt: skip
def test_lights_turn_with_the_heartbeats_age(
    alice: Any, alpha_pair: Any, frozen_clock: Any, component: str, age_s: float, state: str
) -> None:
    beat(component, age_s=age_s)

    by_key = lights(signed_in(alice.user).get(STATUS).json())

    light = by_key["database" if component == "store" else component]
    assert (light["state"], light["age_s"]) == (state, age_s)
