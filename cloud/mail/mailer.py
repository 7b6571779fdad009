"""The mail step of the jobs: after each run, one e-mail per new alert episode to each resident
who opted in for the flat.

Rules:

- an alert is mailed while it is open (new or escalated) and new: raised since the resident
  opted in, and at most `MailSettings.new_for_hours` ago;
- one mail per (resident, episode): the episode is the alert's id (building/flat/kind/raised
  at), which escalation keeps, so warn → alarm sends nothing more; a new episode after the alert
  cleared is a new mail. What was sent is recorded right after the server accepted the mail
  (`MailPrefs.record_sent`), so a crash between the two can repeat one mail, never lose one;
- a server that cannot be reached, refuses the login or hangs up: logged, nothing recorded, the
  rest of the run's mails left for the next run (the same mails are tried again); a refused
  recipient is logged and skipped this run. No exception leaves `send_alert_mails` for SMTP or
  network trouble;
- at most `MailSettings.max_per_run` mails a run, oldest episodes first.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cloud.analytics.alert_store import AlertStore
from cloud.analytics.alerts import Alert, AlertState
from cloud.mail.compose import alert_message
from cloud.mail.prefs import MailPrefs, ResidentDirectory, Subscription
from cloud.mail.settings import MailSettings, Security

log = logging.getLogger(__name__)

PRUNE_MARGIN: Final = timedelta(days=7)
_CONNECTION_ERRORS: Final = (
    OSError,  # refused, unreachable, timed out, TLS failures (ssl.SSLError)
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPResponseException,
)


@dataclass(frozen=True, slots=True)
class MailRun:
    sent: int
    failed: int
    """Mails not sent this run (retried at the next)."""
    pending: int
    """Mails due this run (sent + failed, at most `MailSettings.max_per_run`)."""


def due_mails(
    prefs: MailPrefs,
    alerts: AlertStore,
    settings: MailSettings,
    now: datetime,
    directory: ResidentDirectory | None = None,
) -> list[tuple[Subscription, Alert, str]]:
    """(subscription, alert, address) of the mails due now, oldest alerts first."""
    newest_allowed = now - timedelta(hours=settings.new_for_hours)
    due: list[tuple[Subscription, Alert, str]] = []
    open_states = (AlertState.NEW, AlertState.ESCALATED)
    by_flat: dict[tuple[str, str], list[Alert]] = {}
    for sub in prefs.subscriptions():
        key = (sub.building, sub.flat)
        if key not in by_flat:
            by_flat[key] = alerts.query(building=sub.building, flat=sub.flat, states=open_states)
        for alert in by_flat[key]:
            if alert.raised_at < max(sub.since, newest_allowed) or alert.raised_at > now:
                continue
            if prefs.was_sent(sub.subscriber, alert.id):
                continue
            if directory is not None and not directory.still_resident(
                sub.subscriber, sub.building, sub.flat, now
            ):
                log.info(
                    "%s bor ikke længere i %s/%s; ingen mail / no longer lives there; no mail",
                    sub.subscriber,
                    sub.building,
                    sub.flat,
                )
                continue
            due.append((sub, alert, sub.email))
    due.sort(key=lambda item: (item[1].raised_at, item[1].id, item[0].subscriber))
    return due


def send_alert_mails(
    prefs: MailPrefs,
    alerts: AlertStore,
    settings: MailSettings,
    now: datetime,
    directory: ResidentDirectory | None = None,
) -> MailRun:
    """Send the due mails (see the module doc); never raises for SMTP or network trouble."""
    prefs.prune_sent(now - timedelta(hours=settings.new_for_hours) - PRUNE_MARGIN)
    due = due_mails(prefs, alerts, settings, now, directory)
    if len(due) > settings.max_per_run:
        log.warning(
            "%d alarm-mails venter; sender %d nu, resten næste gang / %d alert mails due; "
            "sending %d now, the rest next run",
            len(due),
            settings.max_per_run,
            len(due),
            settings.max_per_run,
        )
        due = due[: settings.max_per_run]
    if not due:
        return MailRun(0, 0, 0)
    where = f"{settings.host}:{settings.port} ({settings.security})"
    try:
        client = _connect(settings)
    except _CONNECTION_ERRORS as exc:
        log.warning(
            "kan ikke sende %d alarm-mails: SMTP-serveren %s svarer ikke som ventet (%s); "
            "prøver igen ved næste kørsel / cannot send %d alert mails: the SMTP server %s "
            "failed (%s); will retry at the next run",
            len(due),
            where,
            exc,
            len(due),
            where,
            exc,
        )
        return MailRun(0, len(due), len(due))
    sent = failed = 0
    try:
        for index, (sub, alert, address) in enumerate(due):
            message = alert_message(
                alert,
                to_address=address,
                from_address=settings.from_address,
                base_url=settings.base_url,
                token=prefs.unsubscribe_token(sub),
                sent_at=now,
            )
            try:
                client.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                log.warning(
                    "mail om %s til %s blev afvist (%s); prøver igen næste gang / the mail "
                    "about %s to %s was refused (%s); will retry next run",
                    alert.id,
                    sub.subscriber,
                    exc,
                    alert.id,
                    sub.subscriber,
                    exc,
                )
                failed += 1
                continue
            except _CONNECTION_ERRORS as exc:
                left = len(due) - index
                log.warning(
                    "SMTP-serveren %s afbrød (%s); %d mails venter til næste kørsel / the "
                    "SMTP server %s failed (%s); %d mails wait for the next run",
                    where,
                    exc,
                    left,
                    where,
                    exc,
                    left,
                )
                failed += left
                break
            prefs.record_sent(sub.subscriber, alert.id, alert.raised_at, now)
            sent += 1
    finally:
        try:
            client.quit()
        except _CONNECTION_ERRORS:
            client.close()
    if sent:
        log.info("%d alarm-mails sendt / alert mails sent", sent)
    return MailRun(sent, failed, len(due))


def _connect(settings: MailSettings) -> smtplib.SMTP:
    """A logged-in SMTP client as the settings say; raises one of `_CONNECTION_ERRORS`."""
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    client: smtplib.SMTP
    if settings.security is Security.SSL:
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_s, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
    try:
        client.ehlo()
        if settings.security is Security.STARTTLS:
            if not client.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError(
                    "serveren tilbyder ikke STARTTLS / the server does not offer STARTTLS; "
                    "set INDEKLIMA_MAIL_SECURITY=ssl or fix the server"
                )
            client.starttls(context=context)
            client.ehlo()
        password = settings.password_value()
        if settings.username:
            client.login(settings.username, password or "")
    except BaseException:
        client.close()
        raise
    return client
