"""Forwarding one request: credentials, the upstream call, streaming, and its record."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from urllib.parse import urlencode

from aiohttp import web
from multidict import CIMultiDict

from proxy import upstream
from proxy.attribution import clean_label, surface_of
from proxy.capture import CaptureBuffer
from proxy.config import Settings
from proxy.errors import GatewayError, error_response
from proxy.events import EventBus, Phase
from proxy.gateway_keys import GatewayKeyIndex, is_gateway_key
from proxy.pricing import PriceBook
from proxy.records import (
    COST_COMPUTED,
    COST_ESTIMATED,
    STATUS_CLIENT_DISCONNECTED,
    STATUS_GATEWAY_STOPPED,
    STATUS_TIMEOUT,
    STATUS_UPSTREAM_ERROR,
    RequestRecord,
    Usage,
    utc_now,
)
from proxy.registry import AUTH_BEARER, AUTH_GOOG, AUTH_X_API_KEY
from proxy.requestbody import read_body, rewrite_body, upstream_data
from proxy.routing import (
    ANTHROPIC_ROUTES,
    OPENAI_ROUTES,
    Route,
    anthropic_route,
    is_stream_path,
    openai_route,
    raw_route,
)
from proxy.sse import SSEParser
from proxy.streams import EventSplitter, is_usage_only_chunk
from proxy.usage import UsageMeter

log = logging.getLogger(__name__)

# Never forwarded either way: they describe one hop, not the message.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# The server hands over request bodies decompressed, so the client's encoding no
# longer describes the bytes sent on.
REQUEST_DROP = HOP_BY_HOP | {"content-encoding"}
# A client that must send some key but wants the stored one sends this.
NO_CREDENTIAL = "kilo"
AUTH_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")
# The body is decompressed on the way through, so these no longer describe it.
RESPONSE_DROP = HOP_BY_HOP | {"content-encoding"}

# Model names come from clients; they are stored cleaned and bounded.
MODEL_LABEL_LIMIT = 200

# How often a running stream's record is re-announced with its usage so far.
PROGRESS_INTERVAL = 0.5

SecretLookup = Callable[[str], Awaitable[str | None]]


class Forwarder:
    """Turns one client request into one upstream call and one record."""

    def __init__(
        self,
        settings: Settings,
        session,
        prices: PriceBook,
        bus: EventBus,
        submit: Callable[[RequestRecord], None],
        secret_for: SecretLookup,
        gateway_keys: GatewayKeyIndex,
    ) -> None:
        self.settings = settings
        self.session = session
        self.prices = prices
        self.bus = bus
        self.submit = submit
        self.secret_for = secret_for
        self.gateway_keys = gateway_keys
        # Set while the gateway shuts down, so cut requests are recorded as such.
        self.stopping = False
        self.in_flight = 0
        # Set by whoever wants to inspect recent requests (the console); None is off.
        self.captures: CaptureBuffer | None = None

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Answer one request on a gateway route; always leaves exactly one record."""
        flight = Flight(request)
        self.in_flight += 1
        try:
            return await self._forward(request, flight)
        except GatewayError as exc:
            flight.record.status = exc.status
            flight.record.error = exc.message
            return error_response(flight.dialect, exc)
        except asyncio.CancelledError:
            # Handlers are cancelled when their client leaves, or when the gateway
            # stops with requests still under way.
            flight.record.status = (
                STATUS_GATEWAY_STOPPED if self.stopping else STATUS_CLIENT_DISCONNECTED
            )
            raise
        except ConnectionResetError:
            flight.record.status = STATUS_CLIENT_DISCONNECTED
            return flight.response or web.Response(status=499)
        except Exception:
            log.exception("unexpected failure forwarding %s", request.path)
            flight.record.status = STATUS_UPSTREAM_ERROR
            flight.record.error = "internal gateway error"
            error = GatewayError(500, "The gateway failed unexpectedly; see its log.")
            return error_response(flight.dialect, error)
        finally:
            self.in_flight -= 1
            flight.record.latency_ms = flight.elapsed_ms()
            # A JSON answer is written after this returns: pricing and logging it
            # run just after, off the client's wait.
            asyncio.get_running_loop().call_soon(self._finish, flight)

    async def _forward(
        self, request: web.BaseRequest, flight: Flight
    ) -> web.StreamResponse:
        body = await read_body(request, self.settings.max_body_bytes)
        flight.body_size = len(body)
        route, payload = self._route(request, body, flight)
        record = flight.record
        record.provider = route.provider.id
        record.model = clean_label(route.model, MODEL_LABEL_LIMIT)
        flight.route = route
        headers = await self._upstream_headers(request, route, record)
        if self.captures is not None:
            self.captures.begin(record.id, request.headers, body)
        body, flight.strip_usage = rewrite_body(body, payload, route)
        self.bus.emit(Phase.STARTED, record)
        return await self._call(request, flight, headers, body)

    def _route(
        self, request: web.BaseRequest, body: bytes, flight: Flight
    ) -> tuple[Route, dict | None]:
        path = request.path
        if path in OPENAI_ROUTES or path in ANTHROPIC_ROUTES:
            payload = _json_object(body)
            requested = payload.get("model")
            if not isinstance(requested, str) or not requested:
                raise GatewayError(
                    400,
                    "The request body needs a 'model' field naming the model, such as "
                    "'openai/gpt-4o' or 'claude-sonnet-4-5'.",
                    "invalid_model",
                )
            flight.record.stream = payload.get("stream") is True
            if path in ANTHROPIC_ROUTES:
                return anthropic_route(path, requested, self.settings), payload
            return openai_route(path, requested, self.settings), payload
        pid, _, rest = path.lstrip("/").partition("/")
        _refuse_dot_segments(rest)
        payload = _json_or_none(body)
        model = payload.get("model") if payload else None
        route = raw_route(
            pid, rest, model if isinstance(model, str) else None, self.settings
        )
        query = _forwarded_query(request)
        if query:
            route.url += "?" + query
        flight.dialect = route.dialect
        flight.record.stream = is_stream_path(rest) or bool(
            payload and payload.get("stream") is True
        )
        return route, payload

    async def _upstream_headers(
        self, request: web.BaseRequest, route: Route, record: RequestRecord
    ) -> CIMultiDict:
        incoming = request.headers
        headers = _forwarded_headers(incoming)
        token = client_credential(incoming, request)
        project = incoming.get("x-kilo-project")
        record.surface = surface_of(incoming)
        if token and is_gateway_key(token):
            key = await self.gateway_keys.lookup_or_refresh(token)
            if key is None:
                raise GatewayError(
                    401,
                    "This gateway key is unknown or revoked. Create a new one with "
                    "'kilo-tui gateway-key create --project NAME'.",
                    "invalid_gateway_key",
                )
            record.gateway_key_id = key.id
            project = key.project
            token = None
        elif self.settings.require_gateway_key and (
            not token or not self.settings.allow_client_credentials
        ):
            raise GatewayError(
                401,
                "This gateway requires a gateway key (Bearer sk-kilo-…). "
                "Create one with 'kilo-tui gateway-key create --project NAME'.",
                "gateway_key_required",
            )
        record.project = clean_label(project) if project else "default"
        if token:
            # The client's own credential goes through unchanged; a gateway key it
            # sent beside it is ours and must never reach a provider.
            _drop_gateway_keys(headers)
            return headers
        await self._apply_stored_key(headers, route)
        return headers

    async def _apply_stored_key(self, headers: CIMultiDict, route: Route) -> None:
        provider = route.provider
        for name in AUTH_HEADERS:
            headers.popall(name, None)
        for name, value in provider.extra_headers.items():
            headers.setdefault(name, value)
        secret = await self.secret_for(provider.id)
        if secret is None:
            if provider.key_optional:
                return
            raise GatewayError(
                401,
                f"No {provider.name} key is stored. Add one with "
                f"'kilo-tui keys add {provider.id}' (it reads the key from standard "
                "input), or send your own key with the request.",
                "no_provider_key",
            )
        if provider.auth == AUTH_X_API_KEY:
            headers["x-api-key"] = secret
        elif provider.auth == AUTH_GOOG:
            headers["x-goog-api-key"] = secret
        elif provider.auth == AUTH_BEARER:
            headers["Authorization"] = f"Bearer {secret}"

    async def _call(
        self,
        request: web.BaseRequest,
        flight: Flight,
        headers: CIMultiDict,
        body: bytes,
    ) -> web.StreamResponse:
        route = flight.route
        record = flight.record
        try:
            async with self.session.request(
                request.method,
                route.url,
                data=upstream_data(body),
                headers=headers,
                allow_redirects=False,
            ) as answer:
                record.status = answer.status
                record.ttfb_ms = flight.elapsed_ms()
                if self.captures is not None:
                    self.captures.answer(record.id, answer.headers)
                if _is_event_stream(answer):
                    return await self._relay_stream(request, flight, answer)
                return await self._relay_body(flight, answer)
        except (TimeoutError, upstream.ReadTimeout) as exc:
            if flight.response is not None:
                return await _ended(flight, STATUS_TIMEOUT, exc)
            message = f"{route.provider.name} did not answer in time"
            return self._upstream_failed(flight, 504, STATUS_TIMEOUT, message)
        except upstream.ConnectError as exc:
            message = (
                f"{route.provider.name} is unreachable at {_origin(route.url)} "
                f"({type(exc).__name__}). Check the network or its base_url."
            )
            return self._upstream_failed(flight, 502, STATUS_UPSTREAM_ERROR, message)
        except upstream.UpstreamError as exc:
            if flight.response is not None:
                return await _ended(flight, STATUS_UPSTREAM_ERROR, exc)
            message = f"{route.provider.name} failed to answer ({type(exc).__name__})."
            return self._upstream_failed(flight, 502, STATUS_UPSTREAM_ERROR, message)

    def _upstream_failed(
        self, flight: Flight, status: int, record_status: str, message: str
    ) -> web.Response:
        log.warning(
            "upstream %s failed for model %s: %s",
            flight.record.provider,
            flight.record.model,
            message,
        )
        flight.record.status = record_status
        flight.record.error = message
        error = GatewayError(status, message, record_status)
        return error_response(flight.dialect, error)

    async def _relay_body(self, flight: Flight, answer) -> web.Response:
        body = await answer.read()
        if answer.status < 400 and flight.route.metered:
            flight.answer = body  # metered in _finish, after the client has it
        if self.captures is not None:
            self.captures.body(flight.record.id, body)
        return web.Response(
            status=answer.status, body=body, headers=_response_headers(answer)
        )

    async def _relay_stream(
        self, request: web.BaseRequest, flight: Flight, answer
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=answer.status, headers=_response_headers(answer)
        )
        flight.response = response
        await response.prepare(request)
        self.bus.emit(Phase.STREAMING, flight.record)
        parser = SSEParser()
        meter = flight.meter
        splitter = EventSplitter() if flight.strip_usage else None
        captures = self.captures
        next_update = time.perf_counter() + PROGRESS_INTERVAL
        async for chunk in answer.content.iter_any():
            if splitter is None:
                await response.write(chunk)
            else:
                await _write_without_usage_chunk(response, splitter, chunk)
            for event in parser.feed(chunk):
                flight.events += 1
                meter.feed_event(event)
            if captures is not None:
                captures.body(flight.record.id, chunk)
            if time.perf_counter() >= next_update:
                next_update = time.perf_counter() + PROGRESS_INTERVAL
                self._progress(flight)
        if splitter is not None and splitter.pending:
            await response.write(splitter.pending)
        await response.write_eof()
        return response

    def _progress(self, flight: Flight) -> None:
        """Tell listeners how far a running stream has got, a few times a second."""
        flight.record.usage = flight.meter.usage
        self.bus.emit(Phase.STREAMING, flight.record)

    def _finish(self, flight: Flight) -> None:
        record = flight.record
        if flight.route is None:
            record.cost_usd = Decimal(0)
            record.cost_source = COST_COMPUTED
        else:
            self._account(flight)
        record.in_flight = False
        self.submit(record)
        self.bus.emit(Phase.FINISHED, record)

    def _account(self, flight: Flight) -> None:
        record = flight.record
        meter = flight.meter
        if flight.answer is not None:
            meter.feed_body(flight.answer)
        usage = meter.usage
        record.usage = usage
        if meter.stream_error and not record.error:
            record.error = meter.stream_error
        failed = not isinstance(record.status, int) or record.status >= 400
        produced = _has_tokens(usage) or (record.stream and flight.events > 0)
        if not flight.route.metered or (failed and not produced):
            # A request that produced nothing billable costs nothing.
            record.cost_usd = Decimal(0)
            record.cost_source = COST_COMPUTED
            return
        estimated = record.stream and not usage.complete
        if estimated:
            _estimate(usage, flight)
        models = [m for m in (usage.response_model, flight.route.model) if m]
        cost, source = self.prices.price(
            record.provider, flight.route.provider.price_id, models, usage
        )
        record.cost_usd = cost
        record.cost_source = (
            COST_ESTIMATED if estimated and cost is not None else source
        )


class Flight:
    """What the gateway knows about one request while it is under way."""

    __slots__ = (
        "start",
        "record",
        "dialect",
        "route",
        "response",
        "strip_usage",
        "events",
        "body_size",
        "answer",
        "_meter",
    )

    def __init__(self, request: web.BaseRequest) -> None:
        self.start = time.perf_counter()
        path = request.path
        self.dialect = _dialect_of_path(path)
        self.record = RequestRecord(
            id=uuid.uuid4().hex,
            started_at=utc_now(),
            provider="",
            model="",
            path=path,
            in_flight=True,
        )
        self.route: Route | None = None
        self.response: web.StreamResponse | None = None
        self.strip_usage = False
        self.events = 0
        self.body_size = 0
        self.answer: bytes | None = None  # a JSON answer's body, to meter
        self._meter: UsageMeter | None = None

    @property
    def meter(self) -> UsageMeter:
        """The usage meter for this request's dialect, made on first use."""
        if self._meter is None:
            self._meter = UsageMeter(self.route.dialect, self.route.provider.id)
        return self._meter

    def elapsed_ms(self) -> float:
        """Milliseconds since the request arrived."""
        return (time.perf_counter() - self.start) * 1000.0


def _dialect_of_path(path: str) -> str:
    if path.startswith("/v1/messages") or path.startswith("/anthropic/"):
        return "anthropic"
    if path.startswith("/google/"):
        return "gemini"
    return "openai"


def _json_object(body: bytes) -> dict:
    """The body as a JSON object, or a 400 that says what is wrong with it."""
    if not body:
        raise GatewayError(
            400, "The request body is empty; send a JSON object.", "invalid_json"
        )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(
            400, f"The request body is not valid JSON ({exc}).", "invalid_json"
        ) from None
    if not isinstance(payload, dict):
        raise GatewayError(
            400, "The request body must be a JSON object.", "invalid_json"
        )
    return payload


def _json_or_none(body: bytes) -> dict | None:
    if not body or body[:1] not in (b"{", b" ", b"\n", b"\t", b"\r"):
        return None
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def client_credential(headers, request: web.BaseRequest) -> str | None:
    """The credential a client sent, from whichever header its SDK uses."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else auth
    else:
        token = (
            headers.get("x-api-key")
            or headers.get("x-goog-api-key")
            or request.query.get("key")
        )
    return None if not token or token == NO_CREDENTIAL else token


def _refuse_dot_segments(rest: str) -> None:
    """Keep raw routes below the provider's base URL: no ./.. path segments."""
    if any(part in (".", "..") for part in rest.split("/")):
        raise GatewayError(
            400,
            "The path may not contain '.' or '..' segments.",
            "invalid_path",
        )


def _drop_gateway_keys(headers: CIMultiDict) -> None:
    """Remove every credential header that holds a gateway key."""
    for name in AUTH_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        scheme, _, rest = value.partition(" ")
        if is_gateway_key(rest.strip() if scheme.lower() == "bearer" else value):
            headers.popall(name)


def _forwarded_query(request: web.BaseRequest) -> str:
    """The query string to send upstream: a gateway key given as ?key= stays here."""
    key = request.query.get("key")
    if key is None or not is_gateway_key(key):
        return request.query_string
    kept = [
        (k, v)
        for k, v in request.query.items()
        if not (k == "key" and is_gateway_key(v))
    ]
    return urlencode(kept)


def _is_event_stream(answer) -> bool:
    return answer.headers.get("content-type", "").startswith("text/event-stream")


def _forwarded_headers(incoming) -> CIMultiDict:
    """The client's headers less hop-by-hop ones and the gateway's own X-Kilo-*."""
    # A copy, then deletions: about a third of the cost of filtering into a new one.
    headers = incoming.copy()
    for name in incoming.keys():
        low = name.lower()
        if low in REQUEST_DROP or low.startswith("x-kilo-"):
            headers.popall(name, None)
    return headers


def _response_headers(answer) -> CIMultiDict:
    headers = answer.headers.copy()
    for name in answer.headers.keys():
        if name.lower() in RESPONSE_DROP:
            headers.popall(name, None)
    return headers


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


async def _ended(flight: Flight, status: str, exc: BaseException) -> web.StreamResponse:
    """A stream the provider broke off: the client sees it end, the record says why."""
    log.warning(
        "stream from %s for %s ended early: %s",
        flight.record.provider,
        flight.record.model,
        type(exc).__name__,
    )
    flight.record.status = status
    flight.record.error = f"the provider's stream ended early ({type(exc).__name__})"
    await flight.response.write_eof()
    return flight.response


async def _write_without_usage_chunk(
    response: web.StreamResponse, splitter: EventSplitter, chunk: bytes
) -> None:
    """Pass events on whole, less the usage-only chunk the client did not ask for."""
    out = [event for event in splitter.feed(chunk) if not is_usage_only_chunk(event)]
    if out:
        await response.write(b"".join(out))


def _has_tokens(usage: Usage) -> bool:
    return bool(usage.input_tokens or usage.output_tokens)


def _estimate(usage: Usage, flight: Flight) -> None:
    """Fill counts a cut stream never reported: about one token per streamed event,
    four bytes of request per prompt token."""
    if not usage.input_tokens:
        usage.input_tokens = flight.body_size // 4
    usage.output_tokens = max(usage.output_tokens, flight.events)
