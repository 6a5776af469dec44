"""The API's request bodies for answers that a page's WTForms form checks: the JSON schema is made
from the form's fields (names, labels as descriptions, the fixed choices as enums), and the JSON is
handed to the same form as form data. So a rule exists once — in the form — and the API's messages
are the pages' German messages, each with a JSON pointer to its answer.

Transport only: a JSON number becomes its digits, `true` a ticked box, an ISO date (JJJJ-MM-TT)
the TT.MM.JJJJ the date fields take."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, IntegerField, SelectMultipleField
from wtforms.fields.core import UnboundField

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
# the answers that are dates (JJJJ-MM-TT in the API, TT.MM.JJJJ in the form), of every answer model
DATE_FIELDS: set[str] = set()
DATE_PLACEHOLDER = "TT.MM.JJJJ"


def _unbound(form_class: type) -> list[tuple[str, UnboundField]]:
    found = []
    for name in dir(form_class):
        value = getattr(form_class, name, None)
        if isinstance(value, UnboundField):
            found.append((name, value))
    return sorted(found, key=lambda pair: pair[1].creation_counter)


def _is_date(unbound: UnboundField) -> bool:
    return (unbound.kwargs.get("render_kw") or {}).get("placeholder") == DATE_PLACEHOLDER


def _choices(unbound: UnboundField) -> list[str] | None:
    choices = unbound.kwargs.get("choices")
    if not isinstance(choices, list) or not choices:
        return None
    values = [str(c[0] if isinstance(c, tuple) else getattr(c, "value", c)) for c in choices]
    return [v for v in values if v != ""] or None


def _label(unbound: UnboundField) -> str:
    label = unbound.args[0] if unbound.args else unbound.kwargs.get("label", "")
    return str(label)


def answer_model(name: str, form_class: type, skip: frozenset[str] = frozenset()) -> type[BaseModel]:
    """A pydantic model (no other keys allowed) of the form's fields, every one optional: what is
    required, and when, is the form's rule."""
    fields: dict[str, Any] = {}
    for field_name, unbound in _unbound(form_class):
        if field_name in skip or field_name == "csrf_token":
            continue
        label = _label(unbound)
        kind = unbound.field_class
        choices = _choices(unbound)
        annotation: Any
        if issubclass(kind, SelectMultipleField):
            annotation = list[Literal[tuple(choices)]] if choices else list[str]  # type: ignore[misc]
        elif issubclass(kind, BooleanField):
            annotation = bool
        elif issubclass(kind, IntegerField):
            annotation = int
        elif _is_date(unbound):
            # a string, not pydantic's date: a number is no date (pydantic would take it as seconds
            # since 1970), and a day the calendar lacks gets the form's German message
            DATE_FIELDS.add(field_name)
            fields[field_name] = (
                str | None,
                Field(
                    default=None,
                    description=f"{label} (JJJJ-MM-TT)",
                    pattern=ISO_DATE,
                    json_schema_extra={"format": "date"},
                ),
            )
            continue
        elif choices:
            annotation = Literal[tuple(choices)]
        else:
            annotation = str
        fields[field_name] = (annotation | None, Field(default=None, description=label))
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def formdata(values: dict[str, Any]) -> MultiDict[str, str]:
    """The JSON answers as the form's form data."""
    data: MultiDict[str, str] = MultiDict()
    for key, value in values.items():
        if value is None or value is False:
            continue
        if value is True:
            data.add(key, "y")
        elif isinstance(value, list):
            for item in value:
                data.add(key, str(item))
        elif key in DATE_FIELDS and isinstance(value, str) and re.match(ISO_DATE, value):
            year, month, day = value.split("-")
            data.add(key, f"{day}.{month}.{year}")
        else:
            data.add(key, str(value))
    return data


class Answers(BaseModel):
    model_config = ConfigDict(extra="forbid")
