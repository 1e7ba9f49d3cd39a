"""The shop's HTTP surface: one controller per resource, state reached through dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ClientException, NotAuthorizedException, NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from demo.faults import EXEMPT_OPT, FaultInjector
from demo.settings import Faults
from demo.shop import CartLine, EmptyCart, Product, Session, Shop, UnknownProduct

SESSION_COOKIE = "shop_session"

Quantity = Annotated[int, msgspec.Meta(ge=1, le=99)]
LatencyMs = Annotated[int, msgspec.Meta(ge=0, le=120_000)]
FailureRate = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]

# Dependencies by name, provided by create_app (shop, faults) and SIGNED_IN (session).
ShopDep = NamedDependency[Shop]
SessionDep = NamedDependency[Session]
FaultsDep = NamedDependency[FaultInjector]


# ---- request and response bodies -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """A sign-in attempt."""

    email: str
    password: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CartItemIn:
    """A product to add to the cart."""

    product_id: str
    quantity: Quantity = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductOut:
    """A product as the API shows it (price in currency units)."""

    id: str
    name: str
    price: float

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        """The public view of ``product``."""
        return cls(id=product.id, name=product.name, price=product.price_cents / 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class CartLineOut:
    """One line of the cart."""

    product_id: str
    name: str
    price: float
    quantity: int
    subtotal: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CartOut:
    """The cart with its total."""

    items: tuple[CartLineOut, ...]
    total: float

    @classmethod
    def of(cls, lines: tuple[CartLine, ...]) -> CartOut:
        """The public view of a cart."""
        items = tuple(
            CartLineOut(
                product_id=line.product.id,
                name=line.product.name,
                price=line.product.price_cents / 100,
                quantity=line.quantity,
                subtotal=line.subtotal_cents / 100,
            )
            for line in lines
        )
        return cls(items=items, total=sum(line.subtotal_cents for line in lines) / 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultsPatch:
    """Faults to change; an omitted field keeps its current value."""

    latency_ms: LatencyMs | None = None
    failure_rate: FailureRate | None = None

    def apply(self, current: Faults) -> Faults:
        """``current`` with the given fields replaced."""
        return Faults(
            latency_ms=current.latency_ms if self.latency_ms is None else self.latency_ms,
            failure_rate=current.failure_rate if self.failure_rate is None else self.failure_rate,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultsIn(FaultsPatch):
    """A live change of the shop's faults; ``paths`` replaces every per-path override."""

    paths: dict[str, FaultsPatch] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultsOut:
    """The faults in force."""

    latency_ms: int
    failure_rate: float
    paths: dict[str, Faults]

    @classmethod
    def of(cls, injector: FaultInjector) -> FaultsOut:
        """What ``injector`` applies now."""
        return cls(
            latency_ms=injector.faults.latency_ms,
            failure_rate=injector.faults.failure_rate,
            paths=dict(injector.path_faults),
        )


# ---- dependencies ----------------------------------------------------------------------------


def find_session(request: Request[Any, Any, Any], shop: ShopDep) -> Session | None:
    """The session named by a ``Bearer`` token or, failing that, the session cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        # A wrong token is not rescued by a valid cookie: the caller asked for that token.
        return shop.session_by_token(token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    return shop.session_by_id(cookie) if cookie else None


def require_session(request: Request[Any, Any, Any], shop: ShopDep) -> Session:
    """The caller's session; 401 when there is none."""
    session = find_session(request, shop)
    if session is None:
        raise NotAuthorizedException("sign in first")
    return session


# A dependency rather than a guard: handlers need the session itself, not only a yes/no.
SIGNED_IN = {"session": Provide(require_session, sync_to_thread=False)}


# ---- controllers -----------------------------------------------------------------------------


class HealthController(Controller):
    """Liveness, for load balancers and for wfmon's ``shop-health`` workflow."""

    path = "/health"

    @get()
    async def health(self) -> dict[str, str]:
        """Always ok while the process serves requests (unless a fault is injected)."""
        return {"status": "ok"}


class AuthController(Controller):
    """Signing in and out."""

    path = "/api/auth"

    @post("/login", status_code=HTTP_200_OK)
    async def login(self, data: JSONBody[Credentials], shop: ShopDep) -> Response[dict[str, str]]:
        """A bearer token in the body and the same session as a cookie."""
        session = shop.sign_in(email=data.email, password=data.password)
        if session is None:
            raise NotAuthorizedException("invalid email or password")
        cookie = Cookie(key=SESSION_COOKIE, value=session.id, httponly=True, samesite="lax")
        return Response({"token": session.token}, cookies=[cookie])

    @post("/logout", status_code=HTTP_200_OK)
    async def logout(
        self, request: Request[Any, Any, Any], shop: ShopDep
    ) -> Response[dict[str, str]]:
        """End the caller's session; succeeds without one so cleanup steps never fail."""
        session = find_session(request, shop)
        if session is not None:
            shop.sign_out(session)
        response = Response({"status": "signed out"})
        response.delete_cookie(SESSION_COOKIE)
        return response


class ProfileController(Controller):
    """The signed-in user."""

    path = "/api/me"
    dependencies = SIGNED_IN

    @get()
    async def me(self, session: SessionDep) -> dict[str, str]:
        """Who the token or cookie belongs to."""
        return {"email": session.email}


class ProductController(Controller):
    """The catalog; public."""

    path = "/api/products"

    @get()
    async def list_products(self, shop: ShopDep) -> dict[str, tuple[ProductOut, ...]]:
        """Every product."""
        return {"items": tuple(ProductOut.of(product) for product in shop.catalog)}

    @get("/{product_id:str}")
    async def get_product(self, product_id: FromPath[str], shop: ShopDep) -> ProductOut:
        """One product; 404 if the id is unknown."""
        try:
            return ProductOut.of(shop.product(product_id))
        except UnknownProduct:
            raise NotFoundException(f"no product {product_id!r}") from None


class CartController(Controller):
    """The signed-in user's cart, bound to their session."""

    path = "/api/cart"
    dependencies = SIGNED_IN

    @get()
    async def get_cart(self, shop: ShopDep, session: SessionDep) -> CartOut:
        """What is in the cart."""
        return CartOut.of(shop.cart(session))

    @post("/items")
    async def add_item(
        self, data: JSONBody[CartItemIn], shop: ShopDep, session: SessionDep
    ) -> CartOut:
        """Add a product; 404 if it does not exist. Answers the whole cart."""
        try:
            shop.add_to_cart(session, product_id=data.product_id, quantity=data.quantity)
        except UnknownProduct:
            raise NotFoundException(f"no product {data.product_id!r}") from None
        return CartOut.of(shop.cart(session))


class CheckoutController(Controller):
    """Turning the cart into an order."""

    path = "/api/checkout"
    dependencies = SIGNED_IN

    @post()
    async def checkout(self, shop: ShopDep, session: SessionDep) -> dict[str, str | float]:
        """Place the order and empty the cart; 400 if the cart is empty."""
        try:
            order = shop.checkout(session)
        except EmptyCart:
            raise ClientException("the cart is empty") from None
        return {"order_id": order.id, "total": order.total_cents / 100}


class FaultController(Controller):
    """Live fault injection, so a person can break the shop and watch wfmon alert."""

    path = "/_control/faults"
    opt = {EXEMPT_OPT: True}  # control must keep working while the shop is failing

    @get()
    async def get_faults(self, faults: FaultsDep) -> FaultsOut:
        """The faults in force."""
        return FaultsOut.of(faults)

    @post(status_code=HTTP_200_OK)
    async def set_faults(self, data: JSONBody[FaultsIn], faults: FaultsDep) -> FaultsOut:
        """Change the shop-wide faults (and per-path ones when ``paths`` is given)."""
        paths = None
        if data.paths is not None:
            paths = {prefix: patch.apply(Faults()) for prefix, patch in data.paths.items()}
        faults.update(faults=data.apply(faults.faults), path_faults=paths)
        return FaultsOut.of(faults)

    @delete(status_code=HTTP_200_OK)
    async def reset_faults(self, faults: FaultsDep) -> FaultsOut:
        """Back to the faults the shop was started with."""
        faults.reset()
        return FaultsOut.of(faults)
