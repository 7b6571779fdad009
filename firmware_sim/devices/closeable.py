"""One context-manager base for the emulated devices: ``with`` closes them on the way out."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closeable:
    """Subclasses implement `close` (safe to call twice); ``with`` calls it on the way out."""

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
