"""Rückfrage an Vermittler (issue #26 item 21): the underwriter asks the broker a question about a
referred application instead of deciding blind; the application waits in the Risikoprüfung, the
broker is told by e-mail and answers on the application; his answer shows there for the underwriter.
One open question per application at a time; both steps lock the application's row."""

from __future__ import annotations

import sqlalchemy.orm as so

from contracts.models import Application, ApplicationQuestion, ApplicationState
from core import audit, clock
from core.forms import has_control_characters
from core.users import User
from messaging import outbox

MAX_TEXT = 2000


class QuestionError(ValueError):
    """German message for the field."""


def _text(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise QuestionError(f"Bitte geben Sie {what} ein.")
    if len(text) > MAX_TEXT:
        raise QuestionError(f"Bitte fassen Sie sich kürzer (höchstens {MAX_TEXT} Zeichen).")
    if has_control_characters(text):
        raise QuestionError("Der Text enthält Steuerzeichen. Bitte geben Sie ihn ohne sie ein.")
    return text


def ask(session: so.Session, user: User, application: Application, question: str) -> ApplicationQuestion:
    """The underwriter's question; the broker gets it by e-mail with the link to the application."""
    text = _text(question, "Ihre Frage an den Vermittler")
    session.refresh(application, with_for_update=True)
    if application.state is not ApplicationState.REFERRED:
        raise QuestionError("Dieser Antrag ist nicht mehr in der Risikoprüfung.")
    if application.open_question is not None:
        raise QuestionError("Zu diesem Antrag ist schon eine Rückfrage offen; warten Sie die Antwort ab.")
    asked = ApplicationQuestion(application_id=application.id, question=text, asked_by_id=user.id, asked_at=clock.now())
    session.add(asked)
    session.flush()
    outbox.enqueue_email(
        session,
        key=f"application-question:{asked.public_id}",
        to=application.owner.email,
        subject=f"Rückfrage zum Antrag {application.offer.applicant_name}",
        template="application_question",
        context={"application": application, "question": text},
        related=("application", application.public_id),
        agency_id=application.agency_id,
    )
    audit.record(
        session,
        "application_question",
        actor=user,
        agency_id=application.agency_id,
        object_type="application",
        object_id=application.public_id,
    )
    return asked


def answer(session: so.Session, user: User, application: Application, text: str) -> ApplicationQuestion:
    """The broker's answer to the open question (only the application's own broker answers)."""
    reply = _text(text, "Ihre Antwort")
    session.refresh(application, with_for_update=True)
    if application.owner_id != user.id:
        raise QuestionError("Nur der Vermittler des Antrags kann die Rückfrage beantworten.")
    question = application.open_question
    if question is None:
        raise QuestionError("Zu diesem Antrag ist keine Rückfrage offen.")
    question.answer, question.answered_by_id, question.answered_at = reply, user.id, clock.now()
    audit.record(
        session,
        "application_answer",
        actor=user,
        agency_id=application.agency_id,
        object_type="application",
        object_id=application.public_id,
    )
    return question
