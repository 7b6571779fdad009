"""Context-manager glue for long-lived things: ``with Thing(...) as t:`` starts it and always
closes it. Classes implement `start` (optional) and `close` (safe to call twice)."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closeable:
    """``with`` closes it on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Service(Closeable):
    """``with`` starts it on the way in and closes it on the way out."""

    def start(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self
