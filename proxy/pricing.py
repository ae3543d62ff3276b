"""What a request cost: the provider's own figure, price overrides or bundled prices.

Bundled prices come from the snapshot packaged with genai-prices (never fetched).
Only its rates are read: every cost goes through one formula here, so long-context
tiers and one-hour cache writes work alike whichever table the price came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from typing import Any

from genai_prices import data_snapshot
from genai_prices import types as gp

from proxy.records import COST_COMPUTED, COST_REPORTED, COST_UNPRICED, Usage, utc_now

# Rates a price override may set, USD per million tokens.
RATE_FIELDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_BUNDLED_KEYS = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
}
_ZERO = Decimal(0)
# Far more digits than any rate times any count needs, so nothing is ever rounded.
_EXACT = Context(prec=120)
# Snapshot suffixes: -20250929, -2024-08-06, @20250929, -05-20, -0709 / -2411.
_DATED = re.compile(r"(?:[-@]20\d\d-?\d\d-?\d\d|-\d\d-\d\d|-\d{4})$")


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens of each kind; None where the price does not say."""

    input: Decimal | None = None
    output: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    # USD per request, for the few bundled models that also charge per call.
    request: Decimal | None = None

    def overlaid(self, tier: Rates) -> Rates:
        """These rates with each one the tier sets replaced by the tier's."""
        return Rates(*(_first(getattr(tier, n), getattr(self, n)) for n in _ALL_RATES))

    def filled(self) -> Rates:
        """Every rate set: cache reads and writes default to input, 1h to writes."""
        given = _first(self.input, _ZERO)
        write = _first(self.cache_write, given)
        return Rates(
            input=given,
            output=_first(self.output, _ZERO),
            cache_read=_first(self.cache_read, given),
            cache_write=write,
            cache_write_1h=_first(self.cache_write_1h, write),
            request=_first(self.request, _ZERO),
        )


_ALL_RATES = (*RATE_FIELDS, "request")


@dataclass(frozen=True, slots=True)
class Tier:
    """Rates that replace the base ones once the whole prompt is above a threshold.

    A rate the tier leaves out keeps the base price's rate for that kind of token.
    """

    above_input_tokens: int
    rates: Rates


@dataclass(frozen=True, slots=True)
class Price:
    """One model's price: base rates and long-context tiers."""

    base: Rates
    tiers: tuple[Tier, ...] = ()
    # Complete rates per tier, highest threshold first, worked out once.
    _levels: tuple[tuple[int, Rates], ...] = field(
        init=False, repr=False, compare=False
    )
    _filled: Rates = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tiers = tuple(sorted(self.tiers, key=lambda t: t.above_input_tokens))
        levels = tuple(
            (t.above_input_tokens, self.base.overlaid(t.rates).filled())
            for t in reversed(tiers)
        )
        object.__setattr__(self, "tiers", tiers)
        object.__setattr__(self, "_levels", levels)
        object.__setattr__(self, "_filled", self.base.filled())

    def rates_for(self, input_tokens: int) -> Rates:
        """Complete rates for a whole prompt of this size; a tier is a cliff."""
        for threshold, rates in self._levels:
            if input_tokens > threshold:
                return rates
        return self._filled

    def cost(self, usage: Usage) -> Decimal:
        """The exact USD cost of this usage at these rates."""
        prompt = max(usage.input_tokens, 0)
        read = min(max(usage.cache_read_tokens, 0), prompt)
        write = min(max(usage.cache_write_tokens, 0), prompt - read)
        hour = min(max(usage.cache_write_1h_tokens, 0), write)
        output = max(usage.output_tokens, 0)
        r = self.rates_for(prompt)
        with localcontext(_EXACT):
            per_million = (
                (prompt - read - write) * r.input
                + read * r.cache_read
                + (write - hour) * r.cache_write
                + hour * r.cache_write_1h
                + output * r.output
            )
            return per_million.scaleb(-6) + r.request


class PriceBook:
    """Prices requests: the provider's own figure, then overrides, then bundled data."""

    def __init__(
        self, overrides: Mapping[str, Any] | None = None, *, cache_size: int = 4096
    ) -> None:
        self._overrides = parse_overrides(overrides or {})
        # Load the bundled table now rather than inside the first request.
        data_snapshot.get_snapshot()
        # Walking name variants through two tables is too slow for every request;
        # the names come from clients and upstreams, so the cache is bounded.
        self._resolve = lru_cache(maxsize=cache_size)(self._resolve_uncached)

    def price(
        self,
        provider_id: str,
        price_id: str | None,
        models: Sequence[str | None],
        usage: Usage,
        *,
        at: datetime | None = None,
    ) -> tuple[Decimal | None, str]:
        """(cost, cost_source) for a request's usage; models: response name first."""
        if usage.reported_cost is not None:
            return usage.reported_cost, COST_REPORTED
        found = self.lookup(provider_id, price_id, models, at=at)
        if found is None:
            return None, COST_UNPRICED
        return found.cost(usage), COST_COMPUTED

    def lookup(
        self,
        provider_id: str,
        price_id: str | None,
        models: Sequence[str | None],
        *,
        at: datetime | None = None,
    ) -> Price | None:
        """The price in force for the first candidate name that has one, if any."""
        found = self._resolve(provider_id, price_id, tuple(models))
        if isinstance(found, _Scheduled):
            return found.price_at(at or utc_now())
        return found

    def _resolve_uncached(
        self, provider_id: str, price_id: str | None, models: tuple[str | None, ...]
    ) -> Price | _Scheduled | None:
        names = candidate_names(models)
        owner = provider_id.lower()
        for name in names:
            override = self._overrides.get((owner, name))
            if override is not None:
                return override
        if price_id is None:
            return None
        for name in names:
            found = bundled(price_id, name)
            if found is not None:
                return found
        return None


def candidate_names(models: Sequence[str | None]) -> list[str]:
    """Every name to try, in order: each model's variants, most specific first."""
    variants = (v for m in models if isinstance(m, str) for v in name_variants(m))
    return list(dict.fromkeys(variants))


def name_variants(name: str) -> list[str]:
    """A model name as given, then undated, then without each "prefix/" in turn.

    Only a snapshot date or a whole prefix is ever removed, so a name never falls
    to a shorter model that merely starts the same way (gpt-4.1-mini is not gpt-4.1).
    """
    tail = name.strip().lower()
    found: list[str] = []
    while tail:
        found.append(tail)
        undated = _DATED.sub("", tail)
        if undated and undated != tail:
            found.append(undated)
        _, slash, tail = tail.partition("/")
        if not slash:
            break
    return found


def bundled(price_id: str, name: str) -> Price | _Scheduled | None:
    """genai-prices' price for one exact name at one provider, or None."""
    snapshot = data_snapshot.get_snapshot()
    try:
        provider = snapshot.find_provider(None, price_id, None)
    except LookupError:
        return None
    info = provider.find_model(name, all_providers=snapshot.providers)
    if info is None:
        return None
    if isinstance(info.prices, gp.ModelPrice):
        return bundled_price(info.prices)
    return _Scheduled(info)


class _Scheduled:
    """A bundled model whose prices depend on the date or the time of day."""

    __slots__ = ("_info", "_converted")

    def __init__(self, info: gp.ModelInfo) -> None:
        self._info = info
        # Keyed by the identity of genai-prices' own ModelPrice objects, which
        # live as long as its snapshot.
        self._converted: dict[int, Price | None] = {}

    def price_at(self, moment: datetime) -> Price | None:
        """The price genai-prices says is in force at this moment."""
        model_price = self._info.get_prices(moment)
        key = id(model_price)
        if key not in self._converted:
            self._converted[key] = bundled_price(model_price)
        return self._converted[key]


def bundled_price(model_price: gp.ModelPrice) -> Price | None:
    """Our Price from genai-prices' ModelPrice; None when it has no token rates."""
    values = {
        ours: model_price.__dict__.get(key) for ours, key in _BUNDLED_KEYS.items()
    }
    if values["input"] is None and values["output"] is None:
        return None
    # genai-prices tiers each rate on its own; every threshold any rate uses
    # becomes one of our tiers, holding the rates that have moved by then.
    thresholds = sorted(
        {
            t.start
            for v in values.values()
            if isinstance(v, gp.TieredPrices)
            for t in v.tiers
        }
    )
    base = Rates(
        **{k: _base_rate(v) for k, v in values.items()},
        request=_request_rate(model_price),
    )
    tiers = tuple(
        Tier(start, Rates(**{k: _tier_rate(v, start) for k, v in values.items()}))
        for start in thresholds
    )
    return Price(base, tiers)


def _base_rate(value: Any) -> Decimal | None:
    if isinstance(value, gp.TieredPrices):
        value = value.base
    return value if isinstance(value, Decimal) else None


def _tier_rate(value: Any, start: int) -> Decimal | None:
    """The rate a tiered price has reached at this threshold; None if untiered."""
    if not isinstance(value, gp.TieredPrices):
        return None
    reached = [t.price for t in value.tiers if t.start <= start]
    return reached[-1] if reached else None


def _request_rate(model_price: gp.ModelPrice) -> Decimal | None:
    """USD per request from a per-thousand-requests price."""
    per_thousand = _base_rate(model_price.__dict__.get("requests_kcount"))
    return None if per_thousand is None else per_thousand.scaleb(-3)


def parse_overrides(raw: Mapping[str, Any]) -> dict[tuple[str, str], Price]:
    """Overrides keyed (provider, model) in lower case; ValueError names a bad one."""
    prices: dict[tuple[str, str], Price] = {}
    for key, spec in raw.items():
        owner, slash, model = str(key).strip().lower().partition("/")
        if not (slash and owner and model):
            raise ValueError(f"price {key!r}: the key must be provider/model")
        prices[(owner, model)] = price_from_spec(spec, f"price {key!r}")
    return prices


def price_from_spec(spec: Any, where: str = "price") -> Price:
    """A Price from one override table (input and output required)."""
    _check_fields(spec, {*RATE_FIELDS, "tiers"}, where)
    base = _rates(spec, where)
    if base.input is None or base.output is None:
        raise ValueError(f"{where}: input and output rates are required")
    tiers = spec.get("tiers")
    if tiers is None:
        tiers = []
    if not isinstance(tiers, list | tuple):
        raise ValueError(f"{where}: tiers must be a list of tables")
    return Price(
        base, tuple(_tier(t, f"{where} tier {i + 1}") for i, t in enumerate(tiers))
    )


def _tier(spec: Any, where: str) -> Tier:
    _check_fields(spec, {*RATE_FIELDS, "above_input_tokens"}, where)
    threshold = spec.get("above_input_tokens")
    if type(threshold) is not int or threshold < 0:
        raise ValueError(f"{where}: above_input_tokens must be a whole number >= 0")
    return Tier(threshold, _rates(spec, where))


def _check_fields(spec: Any, allowed: set[str], where: str) -> None:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: expected a table of rates")
    unknown = sorted(str(k) for k in spec if k not in allowed)
    if unknown:
        raise ValueError(f"{where}: unknown field {', '.join(unknown)}")


def _rates(spec: Mapping[str, Any], where: str) -> Rates:
    return Rates(**{n: _rate(spec.get(n), f"{where} {n}") for n in RATE_FIELDS})


def _rate(value: Any, where: str) -> Decimal | None:
    """A rate as an exact Decimal; a float is read as the digits it was written with."""
    if value is None:
        return None
    try:
        if isinstance(value, float):
            rate = Decimal(repr(value))
        elif isinstance(value, int | str | Decimal) and not isinstance(value, bool):
            rate = Decimal(value)
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise ValueError(f"{where}: {value!r} is not a price") from None
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"{where}: {value!r} is not a price")
    return rate


def _first(value: Decimal | None, fallback: Decimal | None) -> Decimal | None:
    return fallback if value is None else value
