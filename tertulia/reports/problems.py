"""Why a report could not be built, rendered or e-mailed, in words a CM understands and with what
fixes it. The exception's own text (an SMTP server's reply, a traceback) goes to the server log,
not to the page: it is in English, technical, and may name internal hosts."""

from __future__ import annotations

import errno
import smtplib
import socket
import ssl

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tertulia.core.notes import Note, note

UNREACHABLE = _("Tertulia could not reach the mail server (%(server)s). An administrator must check EMAIL_HOST and "
                "EMAIL_PORT and that the server is running; Tertulia tries again.")
AUTHENTICATION = _("The mail server refused Tertulia's user name or password. An administrator must check "
                   "EMAIL_HOST_USER and EMAIL_HOST_PASSWORD.")
RECIPIENTS = _("The mail server refused these recipients: %(recipients)s. Check the addresses in the schedule.")
SENDER = _("The mail server refused the sender address %(sender)s. An administrator must check DEFAULT_FROM_EMAIL.")
TLS = _("The secure connection to the mail server failed. An administrator must check EMAIL_USE_TLS, EMAIL_USE_SSL "
        "and the server's certificate.")
REFUSED = _("The mail server did not accept the message (its answer: %(code)s). It may be too large for the server "
            "or look like spam to it; Tertulia tries again.")
DISK_FULL = _("The server's disk is full. An administrator must free some space; Tertulia tries again.")
UNEXPECTED = _("Something unexpected went wrong (%(kind)s); the details are in the server log.")


def explain(exc: BaseException) -> Note:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return note(AUTHENTICATION)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return note(RECIPIENTS, recipients=", ".join(sorted(exc.recipients))[:300])
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return note(SENDER, sender=str(exc.sender)[:200])
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError,
                        socket.gaierror)):
        return note(UNREACHABLE, server=f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}")
    if isinstance(exc, ssl.SSLError):
        return note(TLS)
    if isinstance(exc, smtplib.SMTPResponseException):
        return note(REFUSED, code=exc.smtp_code)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return note(DISK_FULL)
    return note(UNEXPECTED, kind=type(exc).__name__)
