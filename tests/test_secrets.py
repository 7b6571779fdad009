"""Secrets come from files or the environment, never required on the command line; secret files
are written with mode 0600 from the start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloud.secrets import resolve_secret, write_secret_file

ROOT = Path(__file__).resolve().parent.parent


def test_file_first_then_environment_then_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\nignored second line\n")
    monkeypatch.setenv("T_PW", "from-env")
    assert resolve_secret(file=secret, env="T_PW", flag_value="flag") == "from-file"
    assert resolve_secret(file=None, env="T_PW", flag_value="flag") == "from-env"
    monkeypatch.delenv("T_PW")
    assert resolve_secret(file=None, env="T_PW", flag_value="flag", flag="--pw") == "flag"
    assert "visible to everyone in ps" in caplog.text
    assert resolve_secret(file=None, env="T_PW") is None


@pytest.mark.parametrize("content", ["", "\n"])
def test_empty_or_missing_file_says_so(tmp_path: Path, content: str) -> None:
    secret = tmp_path / "pw"
    secret.write_text(content)
    with pytest.raises(ValueError, match="empty"):
        resolve_secret(file=secret, env="T_PW")
    with pytest.raises(ValueError, match="cannot read"):
        resolve_secret(file=tmp_path / "missing", env="T_PW")


def test_secret_file_is_0600_from_the_start(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask
    try:
        target = tmp_path / "api.env"
        target.write_text("old")
        target.chmod(0o644)
        write_secret_file(target, "new", exclusive=False)
        assert target.stat().st_mode & 0o777 == 0o600 and target.read_text() == "new"
        with pytest.raises(FileExistsError):
            write_secret_file(target, "again")
    finally:
        os.umask(old)


def test_ingest_reads_its_passwords_from_files(tmp_path: Path) -> None:
    """The real command with an unreadable password file stops with a clear error (exit 2):
    proof that the file is what it reads; the password is never needed on argv."""
    registry = tmp_path / "registry.json"
    registry.write_text('{"buildings": [], "gateways": []}')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [
            sys.executable, "-m", "cloud.cli", "ingest", "--registry", str(registry),
            "--sqlite", str(tmp_path / "s.sqlite"),
            "--mqtt-password-file", str(tmp_path / "nope"),
            "--dead-letters", str(tmp_path / "d.sqlite"),
        ],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot read the secret" in result.stderr and "Traceback" not in result.stderr
