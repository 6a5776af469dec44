"""The outbox: every e-mail, SMS and letter, written in the transaction of the change that causes it."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from core import clock
from core.db import Base, new_public_id


class Kind(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    WEBHOOK = "webhook"  # an event POSTed to an API client's endpoint (signed as Standard Webhooks)

    @property
    def label(self) -> str:
        return {"email": "E-Mail", "sms": "SMS", "letter": "Brief", "webhook": "Webhook"}[self.value]


class State(enum.StrEnum):
    PENDING = "pending"  # waiting for (another) delivery attempt
    SENDING = "sending"  # claimed by a worker until lease_until
    SENT = "sent"  # accepted by SMTP / twilio
    READY = "ready"  # letter: PDF in the Postausgang, waiting to be printed
    POSTED = "posted"  # letter: printed and posted
    FAILED = "failed"  # permanent error or attempts used up

    @property
    def label(self) -> str:
        return {
            "pending": "wartend",
            "sending": "in Zustellung",
            "sent": "versendet",
            "ready": "im Postausgang",
            "posted": "zur Post gegeben",
            "failed": "fehlgeschlagen",
        }[self.value]


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.Index("ix_outbox_messages_due", "state", "next_attempt_at"),
        sa.Index("ix_outbox_messages_state_template", "state", "template"),
        # a contract's messages (its code letter's state in the Bestand, its history)
        sa.Index("ix_outbox_messages_related", "related_id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    # one business event, one message: e.g. "access-link:<contract>:1"
    idempotency_key: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    kind: so.Mapped[Kind]
    state: so.Mapped[State] = so.mapped_column(default=State.PENDING)
    # e-mail address, E.164 number, the letter's addressee name, or a webhook's URL
    recipient: so.Mapped[str] = so.mapped_column(sa.String(254))
    subject: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    # rendered at enqueue time: text (e-mail/SMS body), html (e-mail/letter), address lines (letter)
    body_text: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    body_html: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    address: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # letter: storage keys of PDF documents printed behind the cover letter
    attachments: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # e-mail only: file names of the attachments (same order), and a person the mail comes from
    # (the broker's name beside our address; his own address as Reply-To)
    attachment_names: so.Mapped[list[str] | None] = so.mapped_column(sa.JSON)
    sender_name: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    reply_to: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    template: so.Mapped[str] = so.mapped_column(sa.String(100))
    # holds an access link or code: the body is blanked once a real provider accepted it
    sensitive: so.Mapped[bool] = so.mapped_column(default=False)
    # the business object the message belongs to (for audit trails and the back office)
    related_type: so.Mapped[str | None] = so.mapped_column(sa.String(50))
    related_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    agency_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    lease_until: so.Mapped[datetime | None]
    claimed_by: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # twilio SID, or the Message-ID we set on the e-mail before sending
    provider_id: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    pdf: so.Mapped[bytes | None] = so.mapped_column(sa.LargeBinary, deferred=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    sent_at: so.Mapped[datetime | None]
    posted_by: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    # letters: when the back office downloaded it for printing; until when a sensitive letter's PDF
    # is kept after posting (its access code's expiry: until then it can be undone and reprinted)
    printed_at: so.Mapped[datetime | None]
    retain_until: so.Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.kind.value} {self.idempotency_key} {self.state.value}>"
