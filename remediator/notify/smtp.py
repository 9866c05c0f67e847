"""The email channel: SMTP with the standard library (``smtplib``), STARTTLS when the policy says so."""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage

from remediator.notify.http import ChannelError
from remediator.notify.message import Event, email_message
from remediator.policy import NotificationChannel


def send_email(ch: NotificationChannel, ev: Event) -> None:
    assert ch.smtp_host and ch.sender
    subject, body = email_message(ev)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = ch.sender
    msg["To"] = ", ".join(ch.to)
    msg.set_content(body)
    try:
        with smtplib.SMTP(ch.smtp_host, ch.smtp_port, timeout=ch.timeout_seconds) as s:
            if ch.starttls:
                s.starttls(context=ssl.create_default_context())
            if ch.username:
                s.login(ch.username, os.environ.get(ch.password_env or "", ""))
            s.send_message(msg)
    except (OSError, smtplib.SMTPException) as e:
        raise ChannelError(f"SMTP: {type(e).__name__}") from e
