"""The Live screen keeps up with 200 requests a second without stalling the app."""

from __future__ import annotations

import time
from dataclasses import replace

from proxy.events import Phase
from tests.console.conftest import SIZE
from tests.console.records import record

RATE = 200
TICKS_PER_SECOND = 4


async def test_two_hundred_requests_a_second_stay_fluid(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        per_tick = RATE // TICKS_PER_SECOND
        spent = []
        n = 0
        for _ in range(8 * TICKS_PER_SECOND):
            for _ in range(per_tick):
                n += 1
                started = record(n, in_flight=True, stream=True, status=0)
                app.host.feed(Phase.STARTED, started)
                app.host.feed(Phase.STREAMING, started)
                app.host.feed(Phase.FINISHED, replace(started, in_flight=False))
            begin = time.perf_counter()
            app.drain()
            await pilot.pause()
            spent.append(time.perf_counter() - begin)
        assert len(app.live.window) == 1000
        # A tick must leave most of its quarter second free for input and painting.
        average = sum(spent[4:]) / len(spent[4:])
        assert average < 0.15, f"a drain took {average * 1000:.0f} ms on average"
