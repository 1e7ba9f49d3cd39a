"""Independent reads, made at once where that saves time.

On PostgreSQL every read is a round trip (or several) to a server with cores of its own,
so reads that do not depend on each other each take a pooled connection and run together
on a small thread pool: a request waits for its slowest read, not for all of them in turn.
Each read sees its own snapshot, as it would in autocommit anyway (``session_for``).

On SQLite there is no round trip to overlap and one snapshot is worth keeping: the reads
run one after another, in one session, when they are submitted.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from store.sessions import session_for

__all__ = ["Reads"]

T = TypeVar("T")

# Shared by every request: a request submits a few reads, and each holds a connection
# from the engine's pool (5, plus 10 overflow, by default) only while it runs.
_READERS = ThreadPoolExecutor(max_workers=6, thread_name_prefix="wfmon-read")


class Reads:
    """``with Reads(engine) as reads: future = reads.submit(read)``; ``read(session)``.

    ``reads.run(read)`` runs one in the calling thread, while the submitted ones run.

    Leaving the block waits for every submitted read, so none outlives the request.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._parallel = engine.dialect.name == "postgresql"
        self._stack = ExitStack()
        self._session: Session | None = None
        self._submitted: list[Future[Any]] = []

    def __enter__(self) -> Self:
        if not self._parallel:
            self._session = self._stack.enter_context(session_for(self._engine, read_only=True))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        wait(self._submitted)
        self._stack.__exit__(kind, error, traceback)

    def submit(self, read: Callable[[Session], T]) -> Future[T]:
        """Start ``read``; its result, or its ``StoreError``, comes from the future."""
        if self._session is not None:
            # A failure raises here, inside the session: it surfaces as a ``StoreError``.
            done: Future[T] = Future()
            done.set_result(read(self._session))
            return done
        future = _READERS.submit(self._on_own_connection, read)
        self._submitted.append(future)
        return future

    def run(self, read: Callable[[Session], T]) -> T:
        """``read`` here and now (on its own connection on PostgreSQL), beside those submitted.

        A request's last read runs in its own thread: one hand-off to the pool fewer.
        """
        if self._session is not None:
            return read(self._session)
        return self._on_own_connection(read)

    def _on_own_connection(self, read: Callable[[Session], T]) -> T:
        with session_for(self._engine, read_only=True) as session:
            return read(session)
