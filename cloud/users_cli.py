"""``indeklima users``: see `cloud.accounts_cli`."""

from cloud.accounts_cli import configure_users as configure
from cloud.accounts_cli import run_users as run

__all__ = ["configure", "run"]
