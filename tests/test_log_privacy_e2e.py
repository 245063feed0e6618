"""No personal data in any log: secrets planted in every field a request can reach, through
the BFF to both upstreams and into the ingest endpoints, appear in no event of the log group."""

from __future__ import annotations

import json
import random
import time
import urllib.parse
import uuid
from typing import Any

import httpx

from .procs import Service
from .test_logging_e2e import logs_client


def luhn_card(prefix: str = "4") -> str:
    """A random 16-digit number passing the Luhn check."""
    body = prefix + "".join(random.choice("0123456789") for _ in range(14 - len(prefix) + 1))
    for check in "0123456789":
        digits = body + check
        total = 0
        for index, char in enumerate(reversed(digits)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


TOKEN = uuid.uuid4().hex[:10]
EMAIL = f"pii.{TOKEN}@example.com"
CARD = luhn_card()
CARD_SPACED = " ".join(CARD[i : i + 4] for i in range(0, 16, 4))
STOCK_CARD = "4111111111111111"
JWT = f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{TOKEN}In0.c2ln{TOKEN}"
BEARER = f"bt{TOKEN}secret"
SESSION = f"sess{TOKEN}"
PWD = f"pwd{TOKEN}"

#: What must appear nowhere (also in the encodings a URL gives them).
NEEDLES = (
    EMAIL, EMAIL.replace("@", "%40"), CARD, CARD_SPACED, CARD_SPACED.replace(" ", "+"),
    CARD_SPACED.replace(" ", "%20"), STOCK_CARD, "4111 1111 1111 1111", JWT, BEARER,
    SESSION, PWD,
)  # fmt: skip

EVERYTHING = f"{EMAIL} {CARD_SPACED} {STOCK_CARD} {JWT} Bearer {BEARER} session={SESSION} pwd={PWD}"
QUERY = urllib.parse.urlencode(
    {
        "page": "1",
        "email": EMAIL,
        "q": EMAIL,
        "session": SESSION,
        "pwd": PWD,
        "cc": CARD,
        "n": CARD_SPACED,
        "t": JWT,
        "auth": f"Bearer {BEARER}",
        "note": EVERYTHING,
    }
)


def headers(rid: str) -> dict[str, str]:
    return {
        "X-Request-ID": rid,
        "Authorization": f"Bearer {BEARER}",
        "Cookie": f"session={SESSION}; pwd={PWD}; jwt={JWT}",
        "User-Agent": f"Mozilla/5.0 ({EVERYTHING}) Chrome/126.0",
        "Referer": f"https://shop.example/checkout?{QUERY}",
    }


def all_events(moto: Service, group: str) -> list[str]:
    """The raw text of every event in the group (every stream)."""
    client = logs_client(moto)
    out: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    for _ in range(1000):
        page = client.filter_log_events(**kwargs)
        out.extend(e["message"] for e in page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return out


def wait_for_ids(moto: Service, group: str, wanted: dict[str, int]) -> list[dict[str, Any]]:
    """Events until every request id in ``wanted`` has at least that many records."""
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        found = [json.loads(text) for text in all_events(moto, group)]
        counts = {rid: 0 for rid in wanted}
        for event in found:
            if event.get("request_id") in counts:
                counts[event["request_id"]] += 1
        if all(counts[rid] >= n for rid, n in wanted.items()):
            return found
        time.sleep(0.5)
    raise AssertionError(f"records missing: wanted {wanted}, found {counts}")


def test_planted_personal_data_appears_in_no_event(
    bff: Service, moto: Service, log_group: str
) -> None:
    base = bff.url
    rid = f"pii-{TOKEN}"
    wanted: dict[str, int] = {}
    with httpx.Client(timeout=15) as client:
        # Paths and queries of both upstreams (the catalog logs django.request for a 5xx).
        for index, path in enumerate(
            [
                f"/api/catalog/items/{STOCK_CARD}",
                f"/api/catalog/items/{CARD}?{QUERY}",
                f"/api/catalog/items?{QUERY}",
                f"/api/orders/{CARD}?{QUERY}",
                f"/api/orders?{QUERY}",
                f"/api/catalog/_test/status/503?{QUERY}",
                f"/api/catalog/_test/echo/{CARD}/{EMAIL}?{QUERY}",
            ]
        ):
            req_id = f"{rid}-get{index}"
            resp = client.get(base + path, headers=headers(req_id))
            assert resp.status_code < 500 or "/status/" in path, (path, resp.status_code)
            wanted[req_id] = 2  # the BFF's access record and the upstream's
        # An order whose body carries everything.
        order = {
            "items": [{"item_id": 3, "quantity": 1}],
            "customer_email": EMAIL,
            "note": EVERYTHING,
        }
        resp = client.post(
            f"{base}/api/orders?{QUERY}", json=order, headers=headers(f"{rid}-order")
        )
        assert resp.status_code < 500, resp.text
        wanted[f"{rid}-order"] = 2
        # A client-error report.
        incident = f"PII-{TOKEN.upper()}"
        report = {
            "v": 1,
            "incident": incident,
            "kind": "error",
            "error": {
                "type": "Error",
                "message": f"failed for {EVERYTHING}",
                "stack": f"Error: {EVERYTHING}\n    at f (https://shop.example/a.js?{QUERY}:1:2)",
            },
            "url": f"https://shop.example/checkout/{CARD}?{QUERY}",
            "route": "/checkout",
            "breadcrumbs": [
                {"t": 1, "type": "fetch", "data": {"url": f"/api/x?{QUERY}", "note": EVERYTHING}}
            ],
        }
        resp = client.post(
            f"{base}/api/client-errors", json=report, headers=headers(f"{rid}-report")
        )
        assert resp.status_code == 202, resp.text
        wanted[f"{rid}-report"] = 1  # the client-error record
        # A Sentry envelope with the secrets in its message, URL and frames.
        event_id = uuid.uuid4().hex
        event = {
            "event_id": event_id,
            "message": f"login failed pw={PWD} {EVERYTHING}",
            "request": {"url": f"https://shop.example/login?{QUERY}"},
            "transaction": f"/login/{EMAIL}",
            "breadcrumbs": {"values": [{"category": "fetch", "data": {"url": f"/a?{QUERY}"}}]},
        }
        payload = json.dumps(event).encode()
        envelope = b"\n".join(
            [
                json.dumps({"event_id": event_id}).encode(),
                json.dumps({"type": "event", "length": len(payload)}).encode(),
                payload,
            ]
        )
        resp = client.post(
            f"{base}/api/client-errors/envelope",
            content=envelope,
            headers={**headers(f"{rid}-envelope"), "Content-Type": "text/plain"},
        )
        assert resp.status_code == 202, resp.text
        wanted[f"{rid}-envelope"] = 1
        # A vitals batch with an e-mail address as the metric id.
        vitals = {
            "v": 1,
            "url": f"https://shop.example/p?{QUERY}",
            "route": "/p",
            "metrics": [
                {"name": "LCP", "value": 1200, "rating": "good", "id": EMAIL},
                {"name": "CLS", "value": 0.01, "rating": "good", "id": f"card {CARD_SPACED}"},
                {"name": "INP", "value": 80, "rating": "good", "id": JWT},
            ],
        }
        resp = client.post(f"{base}/api/vitals", json=vitals, headers=headers(f"{rid}-vitals"))
        assert resp.status_code == 202, resp.text
        wanted[f"{rid}-vitals"] = 3  # one record per metric

        # request ids are logged unscrubbed (joins must keep working), so a client id carrying
        # personal data must be replaced, never used
        for kind, planted in (("card", STOCK_CARD), ("jwt", JWT)):
            resp = client.get(
                f"{base}/api/catalog/items?marker={rid}-rid-{kind}",
                headers={"X-Request-ID": planted},
            )
            assert resp.headers["X-Request-ID"] != planted
        deadline = time.monotonic() + 30
        while not all(
            any(f"{rid}-rid-{kind}" in text for text in all_events(moto, log_group))
            for kind in ("card", "jwt")
        ):
            assert time.monotonic() < deadline, "the planted request ids' records never arrived"
            time.sleep(0.5)

    found = wait_for_ids(moto, log_group, wanted)
    mine = [e for e in found if str(e.get("request_id", "")).startswith(rid)]
    loggers = {(e["service"], e["logger"]) for e in mine}
    for expected in [
        ("bff", "bff.access"),
        ("bff", "bff.client_errors"),
        ("bff", "bff.vitals"),
        ("catalog", "catalog.access"),
        ("catalog", "django.request"),
        ("orders", "orders.access"),
    ]:
        assert expected in loggers, (expected, loggers)
    card_path = next(
        e for e in mine if e["logger"] == "catalog.access" and e["request_id"] == f"{rid}-get0"
    )
    assert card_path["data"]["path"] == "/catalog/items/[card]"
    assert card_path["message"] == "GET /catalog/items/[card] 404"

    texts = all_events(moto, log_group)
    leaks = [(needle, text) for text in texts for needle in NEEDLES if needle in text]
    assert not leaks, leaks[:5]
