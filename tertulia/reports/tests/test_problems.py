"""A report that could not be built, rendered or sent says why in words, in both languages,
and with what fixes it; the exception's own text never reaches the page."""

from __future__ import annotations

import errno
import smtplib
import socket
import ssl

import pytest
from django.utils import translation

from tertulia.core.notes import english, render
from tertulia.reports.problems import explain

CASES = [
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 secret-internal-detail"), "refused Tertulia's user name",
     "rechazó el usuario"),
    (smtplib.SMTPRecipientsRefused({"jefa@example.com": (550, b"no such user secret-internal-detail")}),
     "refused these recipients: jefa@example.com", "rechazó estos destinatarios: jefa@example.com"),
    (smtplib.SMTPSenderRefused(553, b"secret-internal-detail", "noreply@example.com"),
     "sender address noreply@example.com", "remitente noreply@example.com"),
    (ConnectionRefusedError(111, "Connection refused secret-internal-detail"), "could not reach the mail server (mail.example:2525)",
     "no pudo conectar con el servidor de correo (mail.example:2525)"),
    (socket.gaierror(-2, "Name or service not known secret-internal-detail"), "could not reach the mail server",
     "no pudo conectar"),
    (smtplib.SMTPServerDisconnected("secret-internal-detail"), "could not reach the mail server", "no pudo conectar"),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] secret-internal-detail"), "secure connection", "conexión segura"),
    (smtplib.SMTPDataError(552, b"message size exceeds secret-internal-detail"), "its answer: 552", "su respuesta: 552"),
    (OSError(errno.ENOSPC, "No space left on device secret-internal-detail"), "disk is full", "disco del servidor"),
    (ValueError("secret-internal-detail"), "Something unexpected went wrong (ValueError)", "Algo inesperado"),
]


@pytest.mark.parametrize("exc,en,es", CASES)
def test_each_failure_is_explained_in_both_languages(settings, exc, en, es):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "mail.example", 2525
    problem = explain(exc)
    assert en in english(problem)
    with translation.override("es"):
        assert es in render(problem)
    assert "secret-internal-detail" not in english(problem)
