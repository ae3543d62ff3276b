"""The gateway as one object: server, client, log and keys, started together."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import signal
import threading
import time
from collections.abc import Coroutine
from ipaddress import ip_address

from aiohttp import web

from proxy import upstream
from proxy.capture import CaptureBuffer
from proxy.config import (
    ConfigError,
    Paths,
    Settings,
    client_url,
    is_loopback,
    is_wildcard,
)
from proxy.errors import GatewayError, error_response
from proxy.events import EventBus
from proxy.forward import Forwarder, client_credential
from proxy.gateway_keys import GatewayKeyIndex
from proxy.keystore import KeyStore, KeyStoreError
from proxy.models import ModelLister
from proxy.pricing import PriceBook
from proxy.routing import ANTHROPIC_ROUTES, OPENAI_ROUTES
from proxy.server import BindError, HttpServer, json_response
from proxy.store import RequestStore

log = logging.getLogger(__name__)

GatewayBindError = BindError
# How long a "no key stored" answer is trusted before the key store is asked again,
# so a key added from another process is picked up without a restart.
_MISSING_KEY_TTL = 2.0
_GATEWAY_KEY_REFRESH = 1.0


class Gateway:
    """Everything the gateway runs, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        *,
        demo: bool = False,
        keystore: KeyStore | None = None,
        capture: bool = False,
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.demo = demo
        self.bus = EventBus()
        self.store = RequestStore(paths.database(demo))
        self.keys = keystore or KeyStore(paths, database=paths.database(demo))
        self.gateway_keys = GatewayKeyIndex(paths.database(demo))
        self.host = settings.host
        self.port = settings.port
        self._server: HttpServer | None = None
        self._session = None
        self._secrets: dict[str, tuple[str | None, float]] = {}
        self._tasks: list[asyncio.Task] = []
        self._models: ModelLister | None = None
        self._forwarder: Forwarder | None = None
        self._loopback = True
        self._hurry = asyncio.Event()
        self._stopped = False
        # Recent headers and bodies in memory, for a console that shows them.
        self.captures = CaptureBuffer() if capture else None

    @property
    def base_url(self) -> str:
        """The address tools are pointed at."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        """Open the log and start serving; raises BindError, StoreError, or
        KeyStoreError when the fallback secrets file is readable by others."""
        self.host = host or self.settings.host
        self.port = self.settings.port if port is None else port
        self._loopback = is_loopback(self.host)
        prices = _price_book(self.settings)
        # Refuse at once rather than fail each request that needs a stored key.
        await asyncio.to_thread(self.keys.file.read)
        await self.store.open()
        await self.gateway_keys.refresh()
        self._session = upstream.open_session(self.settings)
        self._forwarder = Forwarder(
            self.settings,
            self._session,
            prices,
            self.bus,
            self.store.submit,
            self.secret_for,
            self.gateway_keys,
        )
        self._forwarder.captures = self.captures
        self._models = ModelLister(self.settings, self.secret_for)
        self._server = HttpServer(self._dispatch)
        try:
            await self._server.start(self.host, self.port)
        except BindError:
            self._stopped = True
            await self._close_parts()
            raise
        self.port = self._server.port
        self._tasks.append(asyncio.create_task(self._refresh_gateway_keys()))
        log.info("gateway listening on %s", self.base_url)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop serving, give requests under way a moment, then flush every record."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self._forwarder is not None:
            self._forwarder.stopping = True
        if self._server is not None:
            self._server.stop_accepting()
            await self._let_requests_finish(grace)
            # Whatever still runs is cancelled now and recorded as cut by the stop.
            await self._server.stop(grace=0.1)
            self._server = None
        await self._close_parts()
        log.info("gateway stopped; request log flushed")

    @property
    def in_flight(self) -> int:
        """Requests under way right now."""
        return 0 if self._forwarder is None else self._forwarder.in_flight

    def abort_waiting(self) -> None:
        """Stop waiting for requests under way; they are cut at once."""
        self._hurry.set()

    async def _let_requests_finish(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        while self.in_flight and time.monotonic() < deadline:
            if self._hurry.is_set():
                return
            await asyncio.sleep(0.05)

    async def _close_parts(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.store.close()

    async def secret_for(self, provider_id: str) -> str | None:
        """The stored key for a provider, cached in memory off the request path."""
        cached = self._secrets.get(provider_id)
        now = time.monotonic()
        if cached is not None and (cached[0] is not None or cached[1] > now):
            return cached[0]
        try:
            secret = await asyncio.to_thread(self.keys.secret, provider_id)
        except KeyStoreError as exc:
            log.error("cannot read the stored %s key: %s", provider_id, exc)
            raise GatewayError(
                500,
                f"The gateway cannot read its stored {provider_id} key; its log "
                "says why and how to fix it.",
                "key_store_error",
            ) from None
        self._secrets[provider_id] = (secret, now + _MISSING_KEY_TTL)
        return secret

    def forget_secrets(self) -> None:
        """Drop cached keys after one was added or removed."""
        self._secrets.clear()

    async def _refresh_gateway_keys(self) -> None:
        while True:
            await asyncio.sleep(_GATEWAY_KEY_REFRESH)
            try:
                await self.gateway_keys.refresh()
            except Exception:
                log.exception("could not reload gateway keys")

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        if self._loopback and not _from_this_machine(request):
            return _refuse_remote()
        path = request.path
        if path in OPENAI_ROUTES or path in ANTHROPIC_ROUTES:
            if request.method != "POST":
                return _method_not_allowed(path)
            return await self._forwarder.handle(request)
        raw = self._is_raw_route(path)
        # Forwarded requests are checked (and recorded) by the forwarder.
        if self.settings.require_gateway_key and not raw:
            if not await self._holds_gateway_key(request):
                return _gateway_key_required()
        if path == "/v1/models" and request.method == "GET":
            try:
                return json_response(await self._models.list())
            except GatewayError as exc:
                return error_response("openai", exc)
        if path in ("/", "/health"):
            return json_response(
                {"name": "kilo-tui", "status": "ok", "demo": self.demo}
            )
        if raw:
            return await self._forwarder.handle(request)
        return _not_found(path, self.settings)

    def _is_raw_route(self, path: str) -> bool:
        """Whether a path is /{provider}/{path}, the provider's own API."""
        first = path.lstrip("/").split("/", 1)[0]
        return first in self.settings.providers and path.count("/") >= 2

    async def _holds_gateway_key(self, request: web.BaseRequest) -> bool:
        token = client_credential(request.headers, request)
        return bool(token) and (
            await self.gateway_keys.lookup_or_refresh(token) is not None
        )


def _price_book(settings: Settings) -> PriceBook:
    try:
        return PriceBook(settings.prices)
    except ValueError as exc:
        raise ConfigError(f"config.toml [prices]: {exc}") from exc


def _from_this_machine(request: web.BaseRequest) -> bool:
    """Whether a request comes from a program on this machine, not a web page.

    A page in the user's browser can make it call a loopback port, cross-origin
    (the browser then sends Origin) or through DNS rebinding (the page's own name
    then comes as Host); neither may spend the user's keys.
    """
    if not _is_local(request.remote):
        return False
    origin = request.headers.get("origin")
    if origin is not None and not _is_local_name(origin.partition("://")[2]):
        return False
    host = request.headers.get("host")
    return host is None or _is_local_name(host)


@functools.lru_cache(maxsize=64)
def _is_local_name(authority: str) -> bool:
    """Whether a Host value or an origin's host:port names this machine."""
    if authority.startswith("["):
        host = authority[1:].partition("]")[0]
    elif authority.count(":") == 1:
        host = authority.partition(":")[0]
    else:
        host = authority
    return is_loopback(host) or host.endswith(".localhost")


def _is_local(remote: str | None) -> bool:
    if not remote:
        return True  # a Unix socket or a test transport
    try:
        return ip_address(remote).is_loopback
    except ValueError:
        return False


def _refuse_remote() -> web.Response:
    error = GatewayError(
        403,
        "This gateway only answers clients on this machine.",
        "not_local",
    )
    return error_response("openai", error)


def _gateway_key_required() -> web.Response:
    error = GatewayError(
        401,
        "This gateway requires a gateway key (Bearer sk-kilo-…). "
        "Create one with 'kilo-tui gateway-key create --project NAME'.",
        "gateway_key_required",
    )
    return error_response("openai", error)


def _method_not_allowed(path: str) -> web.Response:
    error = GatewayError(405, f"{path} takes POST.", "method_not_allowed")
    return error_response("openai", error)


def _not_found(path: str, settings: Settings) -> web.Response:
    message = (
        f"No gateway route for {path}. Use /v1/chat/completions, /v1/messages, "
        "/v1/models, or /{provider}/{path} with one of: "
        + ", ".join(sorted(settings.providers))
        + "."
    )
    return error_response("openai", GatewayError(404, message, "unknown_route"))


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed, else the standard loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def serve_forever(settings: Settings, paths: Paths, host: str, port: int) -> int:
    """Run the gateway alone until SIGINT or SIGTERM; flush the log before returning."""
    loop = new_event_loop()
    try:
        return loop.run_until_complete(_serve(settings, paths, host, port))
    finally:
        loop.close()


async def _serve(settings: Settings, paths: Paths, host: str, port: int) -> int:
    gateway = Gateway(settings, paths)
    await gateway.start(host, port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    url = client_url(gateway.host, gateway.port)
    print(f"kilo-tui gateway on {url}", flush=True)
    print(f"  OpenAI-compatible base URL: {url}/v1", flush=True)
    print(f"  Anthropic base URL:         {url}", flush=True)
    if is_wildcard(gateway.host):
        print(
            f"  Listening on every address ({gateway.host}); where that name does "
            f"not resolve, use http://<this machine's address>:{gateway.port}",
            flush=True,
        )
    try:
        await stopping.wait()
        if gateway.in_flight:
            print(
                f"Stopping: {_requests(gateway.in_flight)} under way get up to 5 s "
                "to finish (signal again to cut them now).",
                flush=True,
            )
        # A second signal while stopping means "now".
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, gateway.abort_waiting)
    finally:
        await gateway.stop()
    print("kilo-tui gateway stopped; every record is saved.", flush=True)
    return 0


def _requests(count: int) -> str:
    return "1 request" if count == 1 else f"{count} requests"


class GatewayThread:
    """Runs a gateway on its own event loop in a thread, for the console."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.loop = new_event_loop()
        self._thread = threading.Thread(
            target=self._run, name="kilo-gateway", daemon=True
        )

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(
        self, host: str | None = None, port: int | None = None, timeout: float = 15.0
    ) -> None:
        """Start the thread and block until the gateway listens (or raise why not)."""
        self._thread.start()
        self.run(self.gateway.start(host, port)).result(timeout)

    def run(self, coro: Coroutine) -> concurrent.futures.Future:
        """Run a coroutine on the gateway's loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, func, *args) -> None:
        """Call a plain function on the gateway's loop, soon."""
        self.loop.call_soon_threadsafe(func, *args)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the gateway, flush the log and end the thread."""
        if not self._thread.is_alive():
            return
        try:
            self.run(self.gateway.stop()).result(timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
