"""Errors of the accounts services; messages are Danish / English and say what to do."""

from __future__ import annotations


class AccountError(ValueError):
    """A request about accounts cannot be done; the message says why."""


class UnknownUser(AccountError):
    pass


class PasswordRejected(AccountError):
    """The new password breaks a rule; the message says which."""
