"""The Live screen's filter language: `provider:anthropic status:5xx cost>0.01 text`.

Terms are separated by spaces and all must hold. A term is `field:value` (a
case-insensitive substring, or a status class for `status`), `field<op>number` with
`> >= < <= =` for numbers (cost in dollars, tokens, ttfb and duration in
milliseconds), or free text looked for in every text column. A leading `-` negates a
term; quotes keep spaces inside one term.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from kilo_tui.format import is_error, status_label
from proxy.records import RequestRecord

Predicate = Callable[[RequestRecord], bool]

TEXT_FIELDS = {
    "provider": lambda r: r.provider,
    "model": lambda r: r.model,
    "project": lambda r: r.project,
    "surface": lambda r: r.surface,
    "tool": lambda r: r.surface,
    "key": lambda r: r.gateway_key_id or "",
    "path": lambda r: r.path,
    "id": lambda r: r.id,
}

NUMBER_FIELDS = {
    "cost": lambda r: r.cost_usd,
    "input": lambda r: r.usage.input_tokens,
    "cached": lambda r: r.usage.cache_read_tokens,
    "output": lambda r: r.usage.output_tokens,
    "tokens": lambda r: r.usage.input_tokens + r.usage.output_tokens,
    "ttfb": lambda r: r.ttfb_ms,
    "duration": lambda r: r.latency_ms,
    "latency": lambda r: r.latency_ms,
}

_COMPARE = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
}
_NUMBER_TERM = re.compile(r"^([a-z]+)(>=|<=|>|<|=)(.+)$")


class FilterError(ValueError):
    """A filter that cannot be understood, with a message for the user."""


@dataclass(slots=True)
class Filter:
    """A parsed filter; an empty one matches everything."""

    text: str = ""
    predicates: list[Predicate] = field(default_factory=list)

    def matches(self, record: RequestRecord) -> bool:
        """Whether a record passes every term."""
        return all(predicate(record) for predicate in self.predicates)

    @property
    def active(self) -> bool:
        """Whether the filter hides anything at all."""
        return bool(self.predicates)


def parse(text: str) -> Filter:
    """Parse a filter line; raises FilterError naming the term it cannot read."""
    try:
        terms = shlex.split(text)
    except ValueError as exc:
        raise FilterError(f"unbalanced quotes in filter: {exc}") from None
    return Filter(text, [_term(term) for term in terms])


def _term(term: str) -> Predicate:
    if term.startswith("-") and len(term) > 1:
        inner = _term(term[1:])
        return lambda r: not inner(r)
    number = _NUMBER_TERM.match(term.lower())
    if number and number.group(1) in NUMBER_FIELDS:
        return _number_term(*number.groups())
    name, sep, value = term.partition(":")
    if sep and name.lower() == "status":
        return _status_term(value.lower())
    if sep and name.lower() == "cost" and value.lower() == "unpriced":
        return lambda r: r.cost_usd is None and not r.in_flight
    if sep and name.lower() in TEXT_FIELDS:
        getter = TEXT_FIELDS[name.lower()]
        needle = value.lower()
        return lambda r: needle in getter(r).lower()
    if sep and name.isalpha():
        known = ", ".join(sorted({*TEXT_FIELDS, "status", "cost"}))
        raise FilterError(f"unknown filter field {name!r}; try one of {known}")
    return _free_text(term.lower())


def _number_term(name: str, op: str, raw: str) -> Predicate:
    try:
        limit = Decimal(raw.lstrip("$"))
    except InvalidOperation:
        raise FilterError(f"{name}{op}{raw}: {raw!r} is not a number") from None
    getter, compare = NUMBER_FIELDS[name], _COMPARE[op]

    def predicate(record: RequestRecord) -> bool:
        # A running request's figures are not final, so it matches no comparison.
        value = None if record.in_flight else getter(record)
        return value is not None and compare(Decimal(str(value)), limit)

    return predicate


def _status_term(value: str) -> Predicate:
    if re.fullmatch(r"[1-5]xx", value):
        low = int(value[0]) * 100
        return lambda r: isinstance(r.status, int) and low <= r.status < low + 100
    if value.isdigit():
        return lambda r: r.status == int(value)
    if value in ("error", "errors", "failed"):
        return is_error
    if value == "ok":
        return lambda r: not r.in_flight and not is_error(r) and r.status != 0
    return lambda r: value in status_label(r) or value in str(r.status).lower()


def _free_text(needle: str) -> Predicate:
    def predicate(record: RequestRecord) -> bool:
        haystack = (
            record.provider,
            record.model,
            record.project,
            record.surface,
            record.path,
            record.id,
            status_label(record),
            record.error or "",
        )
        return any(needle in part.lower() for part in haystack)

    return predicate
