"""What the gateway can tell about one request beyond its record, when it kept it."""

from __future__ import annotations

import logging

from proxy.pricing import PriceBook, Rates
from proxy.records import RequestRecord

log = logging.getLogger(__name__)


def capture_for(host, record_id: str):
    """The gateway's copy of a recent request's headers and bodies, if it has one."""
    captures = getattr(getattr(host, "gateway", None), "captures", None)
    if captures is None:
        return None
    try:
        return captures.get(record_id)
    except Exception:
        log.warning("could not read the captured request %s", record_id)
        return None


def rates_for(settings, record: RequestRecord) -> Rates | None:
    """The per-million rates in force for a request, as the price book finds them."""
    provider = settings.providers.get(record.provider)
    price_id = provider.price_id if provider else None
    models = [record.usage.response_model, record.model]
    try:
        price = _book(settings).lookup(
            record.provider, price_id, models, at=record.started_at
        )
    except Exception:
        log.warning("no rates could be found for %s/%s", record.provider, record.model)
        return None
    return None if price is None else price.rates_for(record.usage.input_tokens)


_BOOKS: dict[int, PriceBook] = {}


def _book(settings) -> PriceBook:
    # One book per settings object: building it parses every price override.
    book = _BOOKS.get(id(settings))
    if book is None:
        book = _BOOKS[id(settings)] = PriceBook(settings.prices)
    return book
