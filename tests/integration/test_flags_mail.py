"""Notification mail through a real SMTP server on loopback, kept in the outbox while it is down."""
from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from brand_hub.compliance import jobs, outbox
from brand_hub.models.compliance import OutboxMessage, OutboxState

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)


class Inbox:
    """An aiosmtpd handler that keeps every message it accepted."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def mail_settings(settings, smtp_port):
    return settings.replace(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_timeout_seconds=2.0,
                            mail_from="flags@brand.cn")


def start_smtp(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


def queue(session, n: int) -> None:
    for i in range(n):
        outbox.enqueue(session=session, dedupe_key=f"test:{i}", recipients=[f"p{i}@partner.cn"],
                       subject=f"合规事项 {i}", body=f"二氧化碳超标 flag {i}", flag_id=None, now=NOW,
                       domain="brand.cn")
    session.commit()


def test_the_outbox_holds_mail_while_the_server_is_down_and_sends_each_once_when_it_is_back(
        session, engine, mail_settings, smtp_port):
    queue(session, 3)
    down = jobs.send_outbox(settings=mail_settings, now=NOW, engine=engine)
    assert (down.sent, down.failed) == (0, 3)
    states = session.exec(select(OutboxMessage.state, OutboxMessage.attempts)).all()
    assert states == [(OutboxState.queued, 1)] * 3
    controller, inbox = start_smtp(smtp_port)
    try:
        too_early = jobs.send_outbox(settings=mail_settings, now=NOW + timedelta(seconds=10), engine=engine)
        back = jobs.send_outbox(settings=mail_settings, now=NOW + timedelta(minutes=1), engine=engine)
        again = jobs.send_outbox(settings=mail_settings, now=NOW + timedelta(hours=2), engine=engine)
    finally:
        controller.stop()
    assert too_early.sent == 0 and back.sent == 3 and again.sent == 0
    assert sorted(rcpt[0] for rcpt, _ in inbox.messages) == ["p0@partner.cn", "p1@partner.cn", "p2@partner.cn"]
    subjects = sorted(m["Subject"] for _, m in inbox.messages)
    assert subjects == ["合规事项 0", "合规事项 1", "合规事项 2"]
    assert all(m["From"] == "flags@brand.cn" and m["Message-ID"].endswith("@brand.cn>") for _, m in inbox.messages)


def test_enqueueing_the_same_message_twice_keeps_one(session):
    queue(session, 1)
    queue(session, 1)
    assert len(session.exec(select(OutboxMessage)).all()) == 1


def test_a_message_left_sending_by_a_crashed_sender_is_retried_with_the_same_message_id(
        session, engine, mail_settings, smtp_port):
    queue(session, 1)
    claimed = outbox.claim(session=session, now=NOW, claimant="crashed", limit=10, stale_after=timedelta(minutes=10))
    session.commit()
    assert len(claimed) == 1
    message_id = session.exec(select(OutboxMessage.message_id)).one()
    controller, inbox = start_smtp(smtp_port)
    try:
        fresh = jobs.send_outbox(settings=mail_settings, now=NOW + timedelta(minutes=9), engine=engine)
        stale = jobs.send_outbox(settings=mail_settings, now=NOW + timedelta(minutes=10), engine=engine)
    finally:
        controller.stop()
    assert fresh.sent == 0 and stale.sent == 1
    assert [m["Message-ID"] for _, m in inbox.messages] == [message_id]


def test_two_senders_never_claim_the_same_message(session, engine):
    queue(session, 4)
    first = outbox.claim(session=session, now=NOW, claimant="a", limit=10, stale_after=timedelta(minutes=10))
    session.commit()
    second = outbox.claim(session=session, now=NOW, claimant="b", limit=10, stale_after=timedelta(minutes=10))
    session.commit()
    assert len(first) == 4 and second == []


class Refusing(Inbox):
    """Accepts mail, except for one mailbox that does not exist."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == "p1@partner.cn":
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_message_refused_for_good_is_kept_as_failed_with_the_reason_and_the_others_go(
        session, engine, mail_settings, smtp_port):
    queue(session, 3)
    inbox = Refusing()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        report = jobs.send_outbox(settings=mail_settings, now=NOW, engine=engine)
        later = jobs.send_outbox(settings=mail_settings, now=NOW + timedelta(hours=3), engine=engine)
    finally:
        controller.stop()
    assert (report.sent, report.failed, later.sent, later.failed) == (2, 1, 0, 0)
    failed = session.exec(select(OutboxMessage).where(OutboxMessage.state == OutboxState.failed)).one()
    assert failed.recipients == ["p1@partner.cn"] and "p1@partner.cn" in failed.last_error


def test_queueing_a_sites_mails_together_keeps_one_a_key_and_falls_back_one_by_one(session, monkeypatch):
    """``insert_many`` queues what ``enqueue`` would, one each: a key already queued, a key twice in the
    list and a mail without a valid recipient queue nothing; a key another evaluator queued between the
    look-up and the INSERT sends it back to one at a time, and nothing is queued twice."""
    def mail(n, recipients=("a@x.cn",)):
        return dict(dedupe_key=f"k{n}", recipients=list(recipients), subject=f"s{n}", body="b", flag_id=None)

    outbox.enqueue(session=session, now=NOW, **mail(1))
    queued = outbox.insert_many(session=session, now=NOW,
                                mails=[mail(2, ("b@x.cn", " a@x.cn", "b@x.cn")), mail(1), mail(3), mail(3),
                                       mail(4, ("not-an-address",))])
    assert queued == 2
    session.flush()
    rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.dedupe_key, m.recipients) for m in rows] == [("k1", ["a@x.cn"]), ("k2", ["a@x.cn", "b@x.cn"]),
                                                             ("k3", ["a@x.cn"])]
    # another evaluator queues k5 after the look-up: the whole INSERT fails, each is queued on its own
    real_exec = session.exec

    def racing(stmt, *args, **kwargs):
        result = real_exec(stmt, *args, **kwargs)
        if "dedupe_key IN" in str(stmt).replace("outbox_message.", "") and not racing.done:
            racing.done = True
            keys = list(result)   # the look-up read before the other evaluator's row
            session.add(OutboxMessage(dedupe_key="k5", message_id="<x@y>", recipients=["c@x.cn"], subject="s",
                                      body="b", next_attempt_at=NOW, created_at=NOW))
            session.flush()
            return SimpleNamespace(all=lambda: keys)
        return result

    racing.done = False
    monkeypatch.setattr(session, "exec", racing)
    assert outbox.insert_many(session=session, now=NOW, mails=[mail(6), mail(5)]) == 1
    assert sorted(m.dedupe_key for m in real_exec(select(OutboxMessage)).all()) == ["k1", "k2", "k3", "k5", "k6"]


def test_queueing_a_batchs_mails_as_plain_rows_writes_the_rows_enqueue_writes_one_by_one(session):
    """``insert_many`` (one Core INSERT, no ``OutboxMessage`` objects) writes the rows ``enqueue`` writes for
    each mail in turn, every column but the random Message-ID, and skips the same mails."""
    def mail(n, recipients=("a@x.cn",)):
        return dict(dedupe_key=f"k{n}", recipients=list(recipients), subject=f"s{n}" * 200, body=f"b{n}",
                    flag_id=None, domain="bench.cn")

    def stored():
        rows = session.execute(select(*OutboxMessage.__table__.c).order_by(OutboxMessage.id)).all()
        assert all(row.message_id.endswith("@bench.cn>") for row in rows)
        return [{k: v for k, v in row._asdict().items() if k not in ("id", "message_id")} for row in rows]

    mails = [mail(2, ("b@x.cn", " a@x.cn", "b@x.cn")), mail(1), mail(3), mail(3), mail(4, ("not-an-address",))]
    savepoint = session.begin_nested()
    outbox.enqueue(session=session, now=NOW, **mail(1))
    assert sum(outbox.enqueue(session=session, now=NOW, **m) is not None for m in mails) == 2
    session.flush()
    expected = stored()
    savepoint.rollback()
    outbox.enqueue(session=session, now=NOW, **mail(1))
    assert outbox.insert_many(session=session, now=NOW, mails=mails) == 2
    assert stored() == expected and len(expected) == 3
