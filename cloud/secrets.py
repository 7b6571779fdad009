"""Secrets from a file or the environment, never required on the command line (where ``ps``
shows them to every user of the machine)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def resolve_secret(
    *, file: Path | None, env: str, flag_value: str | None = None, flag: str = ""
) -> str | None:
    """The secret from `file` (its first line), else the environment variable `env`, else a
    value given on the command line (accepted, with a warning). None when none is given."""
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(
                f"kan ikke læse hemmeligheden / cannot read the secret in {file}: "
                f"{exc.strerror or exc}"
            ) from exc
        value = text.splitlines()[0] if text else ""
        if not value:
            raise ValueError(f"filen er tom / the secret file {file} is empty")
        return value
    from_env = os.environ.get(env)
    if from_env:
        return from_env
    if flag_value:
        log.warning(
            "%s på kommandolinjen kan ses af alle med ps; brug %s-file eller %s / "
            "%s on the command line is visible to everyone in ps; use %s-file or %s",
            flag, flag, env, flag, flag, env,
        )  # fmt: skip
        return flag_value
    return None


def write_secret_file(path: Path, text: str, *, exclusive: bool = True) -> None:
    """Write `text` to a new file readable by its owner only (mode 0600 from the start:
    ``os.open`` with the mode, not a chmod after the secret is already on disk). An existing
    file is an error when `exclusive`, else it is removed first (its mode could be wider)."""
    if not exclusive:
        path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
