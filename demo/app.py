"""The demo shop's application factory."""

from __future__ import annotations

import random

from litestar import Litestar
from litestar.di import Provide

from demo.controllers import (
    AuthController,
    CartController,
    CheckoutController,
    FaultController,
    HealthController,
    ProductController,
    ProfileController,
)
from demo.faults import FaultInjector
from demo.settings import ShopSettings
from demo.shop import Shop


def create_app(*, settings: ShopSettings) -> Litestar:
    """A fresh shop: its own data, its own faults, nothing shared with other instances."""
    shop = Shop(user_email=settings.user_email, user_password=settings.user_password)
    injector = FaultInjector(
        faults=settings.faults,
        path_faults=settings.path_faults,
        rng=random.Random(settings.seed),
    )
    return Litestar(
        route_handlers=[
            HealthController,
            AuthController,
            ProfileController,
            ProductController,
            CartController,
            CheckoutController,
            FaultController,
        ],
        dependencies={
            "shop": Provide(lambda: shop, sync_to_thread=False),
            "faults": Provide(lambda: injector, sync_to_thread=False),
        },
        before_request=injector.before_request,
    )
