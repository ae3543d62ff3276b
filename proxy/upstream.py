"""The hot-path HTTP client that talks to providers, kept behind one module.

aiohttp's client was measured at several times the throughput of httpx under
concurrency on one core, so it carries the forwarded traffic; httpx serves the
off-path calls (key checks, model lists).
"""

from __future__ import annotations

import aiohttp

from proxy.config import Settings

UpstreamError = aiohttp.ClientError
ConnectError = aiohttp.ClientConnectorError
PayloadError = aiohttp.ClientPayloadError
ReadTimeout = aiohttp.ServerTimeoutError


def open_session(settings: Settings) -> aiohttp.ClientSession:
    """One pooled session for the gateway's life: connections are reused per host."""
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=settings.connect_timeout,
        sock_connect=settings.connect_timeout,
        # Applies to every read: no answer, or a stream silent this long, ends it.
        sock_read=settings.idle_timeout,
    )
    connector = aiohttp.TCPConnector(
        limit=0,
        limit_per_host=0,
        ttl_dns_cache=300,
        keepalive_timeout=60,
        enable_cleanup_closed=True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
        trust_env=False,
        # Cookies a provider (or its CDN) sets must not follow one client's request
        # into another client's.
        cookie_jar=aiohttp.DummyCookieJar(),
        raise_for_status=False,
    )
