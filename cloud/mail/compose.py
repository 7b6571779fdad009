"""The alert e-mail as a message: Danish first, then English; plain text with an HTML
alternative; a link to the resident's page and an unsubscribe link (also as the
``List-Unsubscribe`` header with one-click POST, RFC 2369 and RFC 8058). Pure: no I/O."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape
from typing import Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

from cloud.analytics.alerts import Alert, AlertKind, Severity

LOCAL: Final = ZoneInfo("Europe/Copenhagen")
UNSUBSCRIBE_PATH: Final = "/mail/unsubscribe"

KIND_NAMES: Final[dict[AlertKind, tuple[str, str]]] = {
    AlertKind.MOULD: ("risiko for skimmel", "mould risk"),
    AlertKind.SURFACE_RH: ("fugt ved de kolde vægge", "damp at the cold walls"),
    AlertKind.CO2: ("dårlig luft (CO2)", "stale air (CO2)"),
    AlertKind.SENSOR_SILENT: ("måleren sender ikke", "the sensor is silent"),
    AlertKind.ACTUATOR_FAULT: ("vinduesmotoren svarer ikke", "the window motor does not respond"),
}
SEVERITY_NAMES: Final[dict[Severity, tuple[str, str]]] = {
    Severity.WARN: ("Advarsel", "Warning"),
    Severity.ALARM: ("Alarm", "Alarm"),
}


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url}{UNSUBSCRIBE_PATH}?token={quote(token, safe='')}"


def alert_message(
    alert: Alert,
    *,
    to_address: str,
    from_address: str,
    base_url: str,
    token: str,
    sent_at: datetime,
) -> EmailMessage:
    """One alert episode of the resident's flat as a mail to `to_address`."""
    kind_da, kind_en = KIND_NAMES[alert.kind]
    level_da, level_en = SEVERITY_NAMES[alert.severity]
    local = alert.raised_at.astimezone(LOCAL)
    when_da = local.strftime("%d.%m.%Y kl. %H:%M")
    when_en = local.strftime("%Y-%m-%d at %H:%M")
    page = f"{base_url}/"
    stop = unsubscribe_url(base_url, token)
    flat = alert.flat

    text = "\n".join(
        [
            f"{level_da}: {kind_da} i lejlighed {flat}",
            "",
            f"Indeklimaet i din lejlighed {flat} gav en ny {level_da.lower()} {when_da}: "
            f"{kind_da}.",
            "",
            alert.advice_da,
            "",
            f"Se dit indeklima: {page}",
            f"Afmeld disse mails: {stop}",
            "",
            "-- English --",
            "",
            f"{level_en}: {kind_en} in flat {flat}",
            "",
            f"The indoor climate in your flat {flat} raised a new {level_en.lower()} on "
            f"{when_en}: {kind_en}.",
            "",
            alert.advice_en,
            "",
            f"See your indoor climate: {page}",
            f"Stop these mails: {stop}",
            "",
        ]
    )
    e = escape
    html = f"""<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>{e(level_da)}: {e(kind_da)}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; max-width: 40em">
<h1 style="font-size: 1.25em">{e(level_da)}: {e(kind_da)} i lejlighed {e(flat)}</h1>
<p>Indeklimaet i din lejlighed {e(flat)} gav en ny {e(level_da.lower())} {e(when_da)}:
{e(kind_da)}.</p>
<p><strong>{e(alert.advice_da)}</strong></p>
<p><a href="{e(page)}">Se dit indeklima</a></p>
<p style="font-size: 0.9em"><a href="{e(stop)}">Afmeld disse mails</a></p>
<hr>
<div lang="en">
<h2 style="font-size: 1.1em">{e(level_en)}: {e(kind_en)} in flat {e(flat)}</h2>
<p>The indoor climate in your flat {e(flat)} raised a new {e(level_en.lower())} on
{e(when_en)}: {e(kind_en)}.</p>
<p><strong>{e(alert.advice_en)}</strong></p>
<p><a href="{e(page)}">See your indoor climate</a></p>
<p style="font-size: 0.9em"><a href="{e(stop)}">Stop these mails</a></p>
</div>
</body></html>
"""
    message = EmailMessage()
    message["Subject"] = f"{level_da}: {kind_da} i lejlighed {flat} / {level_en}: {kind_en}"
    message["From"] = from_address
    message["To"] = to_address
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(domain=_domain(from_address))
    message["Content-Language"] = "da, en"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    message["List-Unsubscribe"] = f"<{stop}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _domain(address: str) -> str:
    from email.utils import parseaddr

    return parseaddr(address)[1].rpartition("@")[2] or "indeklima.invalid"
