"""The mail outbox: queue messages with the change that caused them, send them later, never twice.

Sending is claim → send → mark. A claim moves a row from ``queued`` to ``sending``
(an UPDATE that only one sender can win) and is committed before the SMTP
conversation; the row is marked ``sent`` and committed right after the server
accepted it. The one window in which a message can go out twice is a crash after
the server accepted the message and before that commit: the row stays ``sending``
and is tried again once its claim is ``outbox_claim_minutes`` old. The retry
carries the same Message-ID, so mail clients show it once.
"""
from __future__ import annotations

import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from brand_hub.models.compliance import OutboxMessage, OutboxState
from brand_hub.settings import Settings

BACKOFF_CAP = timedelta(hours=1)


class MailError(Exception):
    """The mail server could not take a message. ``permanent``: it refused this message for good (5xx)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def enqueue(*, session: Session, dedupe_key: str, recipients: list[str], subject: str, body: str,
            flag_id: int | None, now: datetime, domain: str = "brandhub") -> OutboxMessage | None:
    """Queue one message unless one with ``dedupe_key`` is already queued or sent (then ``None``)."""
    recipients = sorted({r.strip() for r in recipients if r and "@" in r})
    if not recipients:
        return None
    if session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first() is not None:
        return None
    message = OutboxMessage(dedupe_key=dedupe_key, message_id=make_msgid(domain=domain), recipients=recipients,
                            subject=subject[:300], body=body, flag_id=flag_id, next_attempt_at=now, created_at=now)
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # another evaluator queued the same message a moment ago
        return None
    return message


def insert_many(*, session: Session, mails: list[dict], now: datetime) -> int:
    """``enqueue`` for each of ``mails`` (its keyword arguments but ``now``), in order: one look-up of the keys
    already queued and one Core INSERT for the rest, no ``OutboxMessage`` objects (a first evaluation queues
    thousands); the number queued. If another evaluator queued one of them meanwhile, each is queued on its own."""
    if not mails:
        return 0
    keys = [m["dedupe_key"] for m in mails]
    taken: set[str] = set()
    for start in range(0, len(keys), 1000):
        taken |= set(session.exec(select(OutboxMessage.dedupe_key)
                                  .where(OutboxMessage.dedupe_key.in_(keys[start:start + 1000]))).all())
    rows = []
    for mail in mails:
        recipients = sorted({r.strip() for r in mail["recipients"] if r and "@" in r})
        if not recipients or mail["dedupe_key"] in taken:
            continue
        taken.add(mail["dedupe_key"])
        rows.append(dict(dedupe_key=mail["dedupe_key"], message_id=make_msgid(domain=mail.get("domain", "brandhub")),
                         recipients=recipients, subject=mail["subject"][:300], body=mail["body"],
                         flag_id=mail["flag_id"], state=OutboxState.queued, attempts=0, next_attempt_at=now,
                         claimed_at=None, claimed_by="", sent_at=None, last_error="", created_at=now))
    if not rows:
        return 0
    try:
        with session.begin_nested():
            session.execute(insert(OutboxMessage.__table__), rows)
    except IntegrityError:  # a key queued by another evaluator a moment ago: one at a time, as ``enqueue``
        return sum(enqueue(session=session, now=now, **mail) is not None for mail in mails)
    return len(rows)


def claim(*, session: Session, now: datetime, claimant: str, limit: int, stale_after: timedelta) -> list[int]:
    """Claim up to ``limit`` due messages (queued, or sending with a stale claim); return their ids."""
    due = or_((OutboxMessage.state == OutboxState.queued) & (OutboxMessage.next_attempt_at <= now),
              (OutboxMessage.state == OutboxState.sending) & (OutboxMessage.claimed_at <= now - stale_after))
    candidates = session.exec(select(OutboxMessage.id, OutboxMessage.state, OutboxMessage.claimed_at)
                              .where(due).order_by(OutboxMessage.id).limit(limit)).all()
    won = []
    for message_id, state, claimed_at in candidates:
        # the WHERE repeats what we read: a concurrent sender that claimed first makes this match nothing
        stmt = (update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.state == state)
                .values(state=OutboxState.sending, claimed_at=now, claimed_by=claimant))
        if claimed_at is None:
            stmt = stmt.where(OutboxMessage.claimed_at.is_(None))
        else:
            stmt = stmt.where(OutboxMessage.claimed_at == claimed_at)
        if session.execute(stmt).rowcount == 1:
            won.append(message_id)
    return won


def to_email(message: OutboxMessage, settings: Settings) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = ", ".join(message.recipients)
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at)
    email.set_content(message.body, charset="utf-8")
    return email


def smtp_send(email: EmailMessage, settings: Settings) -> None:
    """Hand one message to the configured SMTP server (SSL, STARTTLS, login as set)."""
    try:
        if settings.smtp_ssl:
            server: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                                    timeout=settings.smtp_timeout_seconds,
                                                    context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
        with server:
            if settings.smtp_starttls and not settings.smtp_ssl:
                server.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                server.login(settings.smtp_username, settings.smtp_password)
            server.send_message(email)
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"recipients refused: {exc.recipients}", permanent=True) from exc
    except smtplib.SMTPResponseException as exc:
        permanent = exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
        raise MailError(f"{settings.smtp_host}:{settings.smtp_port}: {exc.smtp_code} {exc.smtp_error!r}",
                        permanent=permanent) from exc
    except (OSError, smtplib.SMTPException) as exc:  # down, unreachable, TLS: try again later
        raise MailError(f"{settings.smtp_host}:{settings.smtp_port}: {type(exc).__name__}: {exc}") from exc


def mark_sent(*, session: Session, message_id: int, now: datetime) -> None:
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                    .values(state=OutboxState.sent, sent_at=now, last_error=""))


def mark_failed(*, session: Session, message_id: int, now: datetime, error: str, permanent: bool = False) -> None:
    """Put the message back in the queue with a growing wait (at most an hour), never dropping it.

    Only a message the server refused for good (a 5xx answer) stops, as ``failed``, kept with the reason.
    """
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return
    message.attempts += 1
    message.last_error = error[:500]
    message.claimed_at = None
    if permanent:
        message.state = OutboxState.failed
        return
    message.state = OutboxState.queued
    message.next_attempt_at = now + min(BACKOFF_CAP, timedelta(seconds=30 * 2 ** (message.attempts - 1)))
