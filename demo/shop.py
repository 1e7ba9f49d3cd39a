"""The shop's in-memory data: catalog, sessions, carts and orders of one app instance."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    """An item for sale; prices are whole cents so totals never drift."""

    id: str
    name: str
    price_cents: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A signed-in user: the cookie names it, the token is the same grant for API clients."""

    id: str
    token: str
    email: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CartLine:
    """A product and how many of it are in a cart."""

    product: Product
    quantity: int

    @property
    def subtotal_cents(self) -> int:
        """Price times quantity."""
        return self.product.price_cents * self.quantity


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """A checked-out cart."""

    id: str
    email: str
    lines: tuple[CartLine, ...]

    @property
    def total_cents(self) -> int:
        """The sum of the lines."""
        return sum(line.subtotal_cents for line in self.lines)


CATALOG: tuple[Product, ...] = (
    Product(id="espresso-beans", name="Espresso beans, 1 kg", price_cents=2450),
    Product(id="ceramic-mug", name="Ceramic mug", price_cents=1200),
    Product(id="pour-over-kit", name="Pour-over kit", price_cents=3999),
    Product(id="milk-frother", name="Milk frother", price_cents=2999),
)


class ShopError(Exception):
    """A request the shop refuses; controllers turn these into 4xx answers."""


class UnknownProduct(ShopError):
    """No product has that id."""


class EmptyCart(ShopError):
    """Checkout was asked for with nothing in the cart."""


class Shop:
    """All mutable state of one shop instance; two apps never share one."""

    __slots__ = (
        "_carts",
        "_order_numbers",
        "_orders",
        "_sessions",
        "catalog",
        "user_email",
        "user_password",
    )

    def __init__(
        self, *, user_email: str, user_password: str, catalog: tuple[Product, ...] = CATALOG
    ) -> None:
        self.user_email = user_email
        self.user_password = user_password
        self.catalog = catalog
        self._sessions: dict[str, Session] = {}
        self._carts: dict[str, dict[str, int]] = {}  # session id -> product id -> quantity
        self._orders: list[Order] = []
        self._order_numbers = itertools.count(1)

    def sign_in(self, *, email: str, password: str) -> Session | None:
        """A new session for the demo user, or None when the credentials are wrong."""
        # compare_digest: the demo should not teach timing leaks, even to itself.
        email_ok = secrets.compare_digest(email.encode(), self.user_email.encode())
        password_ok = secrets.compare_digest(password.encode(), self.user_password.encode())
        if not (email_ok and password_ok):
            return None
        session = Session(
            id=secrets.token_urlsafe(24), token=secrets.token_urlsafe(24), email=email
        )
        self._sessions[session.id] = session
        return session

    def sign_out(self, session: Session) -> None:
        """End the session: its cookie and token stop working, its cart is dropped."""
        self._sessions.pop(session.id, None)
        self._carts.pop(session.id, None)

    def session_by_id(self, session_id: str) -> Session | None:
        """The live session a cookie names."""
        return self._sessions.get(session_id)

    def session_by_token(self, token: str) -> Session | None:
        """The live session a bearer token belongs to."""
        # A linear scan is fine: a demo has a handful of sessions at a time.
        for session in self._sessions.values():
            if secrets.compare_digest(session.token.encode(), token.encode()):
                return session
        return None

    def product(self, product_id: str) -> Product:
        """The product with that id; UnknownProduct otherwise."""
        for product in self.catalog:
            if product.id == product_id:
                return product
        raise UnknownProduct(product_id)

    def add_to_cart(self, session: Session, *, product_id: str, quantity: int) -> None:
        """Put ``quantity`` more of a product into the session's cart."""
        product = self.product(product_id)
        cart = self._carts.setdefault(session.id, {})
        cart[product.id] = cart.get(product.id, 0) + quantity

    def cart(self, session: Session) -> tuple[CartLine, ...]:
        """The session's cart, in the order products were first added."""
        cart = self._carts.get(session.id, {})
        return tuple(CartLine(product=self.product(pid), quantity=qty) for pid, qty in cart.items())

    def checkout(self, session: Session) -> Order:
        """Turn the cart into an order and empty it; EmptyCart if there is nothing to buy."""
        lines = self.cart(session)
        if not lines:
            raise EmptyCart(session.email)
        order = Order(id=f"ORD-{next(self._order_numbers):06d}", email=session.email, lines=lines)
        self._orders.append(order)
        self._carts.pop(session.id, None)
        return order
