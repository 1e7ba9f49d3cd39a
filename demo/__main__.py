"""``python -m demo``: serve the demo shop with uvicorn (default 127.0.0.1:8050)."""

from __future__ import annotations

import argparse

import uvicorn

from demo.app import create_app
from demo.settings import ShopSettings


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    args = parser.parse_args(argv)
    app = create_app(settings=ShopSettings.from_env())
    # No per-request access log: the demo output is for watching wfmon, not the shop.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False)


if __name__ == "__main__":
    main()
