"""The demo shop over a real socket: journeys, fault injection, and its wfmon.yaml."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from demo import Faults, ShopSettings
from tests.fixtures.servers import URLFactory

USER = {"email": "demo@example.com", "password": "demo-password"}
REPO_ROOT = Path(__file__).resolve().parents[2]


def client_for(base_url: str) -> httpx.AsyncClient:
    """A client for one shop; ignores proxy variables so 127.0.0.1 is reached directly."""
    return httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=10)


@pytest.fixture
async def client(shop_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client (with its own cookie jar) for a fresh default shop."""
    async with client_for(shop_url) as client:
        yield client


async def sign_in(client: httpx.AsyncClient) -> str:
    """Log the demo user in on ``client`` (which keeps the cookie); returns the token."""
    response = await client.post("/api/auth/login", json=USER)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    assert isinstance(token, str) and token
    return token


# ---- journeys --------------------------------------------------------------------------------


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_login_sets_session_cookie(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json=USER)
    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    assert "shop_session" in response.cookies
    assert "httponly" in response.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("wrong password", {"email": USER["email"], "password": "nope"}, 401),
        ("wrong email", {"email": "eve@example.com", "password": USER["password"]}, 401),
        ("missing password", {"email": USER["email"]}, 400),
        ("not an object", ["demo"], 400),
    ],
)
async def test_login_rejected(
    client: httpx.AsyncClient, name: str, body: Any, expected: int
) -> None:
    response = await client.post("/api/auth/login", json=body)
    assert response.status_code == expected, name
    assert "shop_session" not in response.cookies


async def test_me_with_bearer_token_alone(shop_url: str) -> None:
    async with client_for(shop_url) as login_client:
        token = await sign_in(login_client)
    # A second client has no cookie: only the token identifies the user.
    async with client_for(shop_url) as api_client:
        response = await api_client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()) == (200, {"email": USER["email"]})


async def test_me_with_session_cookie_alone(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    response = await client.get("/api/me")
    assert (response.status_code, response.json()) == (200, {"email": USER["email"]})


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("no credentials", {}),
        ("unknown token", {"Authorization": "Bearer not-a-token"}),
        ("not bearer", {"Authorization": "Basic ZGVtbzpkZW1v"}),
    ],
)
async def test_me_requires_credentials(
    client: httpx.AsyncClient, name: str, headers: dict[str, str]
) -> None:
    response = await client.get("/api/me", headers=headers)
    assert response.status_code == 401, name


async def test_products(client: httpx.AsyncClient) -> None:
    listing = await client.get("/api/products")
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert items and all(set(item) == {"id", "name", "price"} for item in items)

    first = await client.get(f"/api/products/{items[0]['id']}")
    assert (first.status_code, first.json()) == (200, items[0])
    assert (await client.get("/api/products/no-such-thing")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/cart", None),
        ("POST", "/api/cart/items", {"product_id": "ceramic-mug", "quantity": 1}),
        ("POST", "/api/checkout", None),
    ],
)
async def test_cart_requires_session(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == 401


async def test_cart_to_checkout(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    assert (await client.get("/api/cart")).json() == {"items": [], "total": 0}

    for product_id, quantity in [("ceramic-mug", 2), ("espresso-beans", 1), ("ceramic-mug", 1)]:
        added = await client.post(
            "/api/cart/items", json={"product_id": product_id, "quantity": quantity}
        )
        assert added.status_code == 201, added.text

    cart = (await client.get("/api/cart")).json()
    assert [(line["product_id"], line["quantity"]) for line in cart["items"]] == [
        ("ceramic-mug", 3),
        ("espresso-beans", 1),
    ]
    assert cart["total"] == pytest.approx(3 * 12.00 + 24.50)

    order = await client.post("/api/checkout")
    assert order.status_code == 201
    assert order.json()["order_id"]
    assert order.json()["total"] == pytest.approx(cart["total"])

    assert (await client.get("/api/cart")).json()["items"] == []
    assert (await client.post("/api/checkout")).status_code == 400  # nothing left to buy


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("unknown product", {"product_id": "no-such-thing", "quantity": 1}, 404),
        ("zero quantity", {"product_id": "ceramic-mug", "quantity": 0}, 400),
        ("numeric id", {"product_id": 1, "quantity": 1}, 400),
        ("missing product", {"quantity": 1}, 400),
    ],
)
async def test_add_to_cart_rejected(
    client: httpx.AsyncClient, name: str, body: Any, expected: int
) -> None:
    await sign_in(client)
    response = await client.post("/api/cart/items", json=body)
    assert response.status_code == expected, name


async def test_carts_belong_to_sessions(shop_url: str) -> None:
    async with client_for(shop_url) as alice, client_for(shop_url) as bob:
        await sign_in(alice)
        await sign_in(bob)
        await alice.post("/api/cart/items", json={"product_id": "ceramic-mug"})
        assert len((await alice.get("/api/cart")).json()["items"]) == 1
        assert (await bob.get("/api/cart")).json()["items"] == []


async def test_logout_invalidates_token_and_cookie(shop_url: str) -> None:
    async with client_for(shop_url) as client:
        token = await sign_in(client)
        cookie = client.cookies["shop_session"]

        response = await client.post("/api/auth/logout")
        assert response.status_code == 200

        bearer = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/me", headers=bearer)).status_code == 401
    # Replaying the old cookie explicitly, in case the client dropped it.
    async with client_for(shop_url) as replay:
        replay.cookies.set("shop_session", cookie)
        assert (await replay.get("/api/me")).status_code == 401


async def test_logout_without_session_succeeds(client: httpx.AsyncClient) -> None:
    # wfmon's always_run sign-out steps run even when sign-in failed.
    assert (await client.post("/api/auth/logout")).status_code == 200


async def test_apps_do_not_share_state(shop_url_factory: URLFactory) -> None:
    first, second = shop_url_factory(), shop_url_factory()
    async with client_for(first) as client:
        token = await sign_in(client)
    async with client_for(second) as client:
        response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


# ---- fault injection -------------------------------------------------------------------------


async def test_failure_rate_one_always_fails(shop_url_factory: URLFactory) -> None:
    async with client_for(shop_url_factory(ShopSettings(failure_rate=1.0))) as client:
        for path in ["/health", "/api/products", "/api/products/ceramic-mug"]:
            response = await client.get(path)
            assert response.status_code == 503, path
            assert response.headers["x-fault-injected"] == "true"
        # The control endpoints stay reachable so the faults can be switched off.
        assert (await client.get("/_control/faults")).status_code == 200


async def test_failure_rate_zero_never_fails(client: httpx.AsyncClient) -> None:
    statuses = {(await client.get("/health")).status_code for _ in range(50)}
    assert statuses == {200}


async def test_failures_are_reproducible_per_seed(shop_url_factory: URLFactory) -> None:
    async def statuses(seed: int) -> list[int]:
        url = shop_url_factory(ShopSettings(failure_rate=0.5, seed=seed))
        async with client_for(url) as client:
            return [(await client.get("/health")).status_code for _ in range(40)]

    first = await statuses(7)
    assert first == await statuses(7)
    assert set(first) == {200, 503}  # 40 coin flips: both sides show up for this seed


async def test_latency_is_added(shop_url_factory: URLFactory) -> None:
    latency_ms = 150
    async with client_for(shop_url_factory(ShopSettings(latency_ms=latency_ms))) as client:
        started = time.perf_counter()
        response = await client.get("/health")
        elapsed_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 200
    # No upper bound: a loaded CI machine may be arbitrarily slower.
    assert elapsed_ms >= latency_ms


async def test_path_faults_break_one_journey(shop_url_factory: URLFactory) -> None:
    settings = ShopSettings(path_faults={"/api/products": Faults(failure_rate=1.0)})
    async with client_for(shop_url_factory(settings)) as client:
        assert (await client.get("/api/products")).status_code == 503
        assert (await client.get("/api/products/ceramic-mug")).status_code == 503
        assert (await client.get("/health")).status_code == 200


async def test_control_changes_faults_live(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_control/faults")).json() == {
        "latency_ms": 0,
        "failure_rate": 0.0,
        "paths": {},
    }

    changed = await client.post("/_control/faults", json={"failure_rate": 1.0})
    assert changed.status_code == 200
    assert changed.json()["failure_rate"] == 1.0
    assert (await client.get("/health")).status_code == 503

    # Per-path overrides win over the shop-wide faults.
    await client.post(
        "/_control/faults", json={"paths": {"/health": {"failure_rate": 0, "latency_ms": 5}}}
    )
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/api/products")).status_code == 503
    assert (await client.get("/_control/faults")).json()["paths"] == {
        "/health": {"latency_ms": 5, "failure_rate": 0.0}
    }

    reset = await client.delete("/_control/faults")
    assert reset.json() == {"latency_ms": 0, "failure_rate": 0.0, "paths": {}}
    assert (await client.get("/api/products")).status_code == 200


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("rate above one", {"failure_rate": 1.5}),
        ("negative latency", {"latency_ms": -1}),
        ("rate as text", {"failure_rate": "high"}),
    ],
)
async def test_control_rejects_bad_faults(
    client: httpx.AsyncClient, name: str, body: dict[str, Any]
) -> None:
    assert (await client.post("/_control/faults", json=body)).status_code == 400, name
    assert (await client.get("/_control/faults")).json()["failure_rate"] == 0.0


# ---- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "environ", "expected"),
    [
        ("defaults", {}, ShopSettings()),
        (
            "everything",
            {
                "SHOP_USER": "a@b.c",
                "SHOP_PASSWORD": "pw",
                "SHOP_LATENCY_MS": "250",
                "SHOP_FAILURE_RATE": "0.2",
                "SHOP_SEED": "3",
            },
            ShopSettings(
                user_email="a@b.c", user_password="pw", latency_ms=250, failure_rate=0.2, seed=3
            ),
        ),
    ],
)
def test_settings_from_env(name: str, environ: dict[str, str], expected: ShopSettings) -> None:
    assert ShopSettings.from_env(environ) == expected, name


@pytest.mark.parametrize(
    ("name", "environ"),
    [
        ("rate above one", {"SHOP_FAILURE_RATE": "2"}),
        ("negative latency", {"SHOP_LATENCY_MS": "-5"}),
        ("not a number", {"SHOP_LATENCY_MS": "slow"}),
    ],
)
def test_settings_from_env_rejects(name: str, environ: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        ShopSettings.from_env(environ)


# ---- the wfmon.yaml that monitors the shop ---------------------------------------------------


def load_wfmon_yaml() -> dict[str, Any]:
    """The repository's wfmon.yaml as plain data."""
    document = yaml.safe_load((REPO_ROOT / "wfmon.yaml").read_text())
    assert isinstance(document, dict)
    return document


def test_wfmon_yaml_shape() -> None:
    document = load_wfmon_yaml()
    spec_keys = {
        "environments",
        "default_environment",
        "workflows",
        "retry_profiles",
        "alert_rules",
        "alert_engine",
        "channels",
        "maintenance",
    }
    assert {"environments", "default_environment", "workflows"} <= set(document) <= spec_keys
    assert document["default_environment"] in document["environments"]
    assert document["environments"]["local"]["base_url"] == "http://127.0.0.1:8050"
    assert {w["name"]: w["priority"] for w in document["workflows"]} == {
        "shop-health": "critical",
        "user-login": "high",
        "browse-products": "medium",
        "checkout": "critical",
    }


async def test_wfmon_yaml_paths_exist_in_the_shop(client: httpx.AsyncClient) -> None:
    # Catches the config and the shop drifting apart: every step's route must exist
    # (401 is fine here; this is not a journey, the real runs are wfmon's job).
    for workflow in load_wfmon_yaml()["workflows"]:
        for step in workflow["steps"]:
            request = step["request"]
            path = request["path"].replace("${product_id}", "ceramic-mug")
            response = await client.request(request.get("method", "GET"), path)
            assert response.status_code not in {404, 405}, (workflow["name"], step["name"])


def test_wfmon_yaml_passes_the_real_validator() -> None:
    # Integration with wfmon.config (built by another engineer): the shipped example
    # must load with no ConfigError. An empty environ proves the ${env.X:-default}
    # fallbacks suffice, so `wfmon run` works out of the box against `python -m demo`.
    from wfmon.config import load_config

    config = load_config(REPO_ROOT / "wfmon.yaml", environ={})
    assert config.default_environment == "local"
    assert [workflow.name for workflow in config.workflows] == [
        "shop-health",
        "user-login",
        "browse-products",
        "checkout",
    ]
