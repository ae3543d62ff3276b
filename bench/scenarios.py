"""The benchmark's scenarios, and running one against a server while watching it."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import procs
from procs import Watched, pinned
from targets import BENCH, Target, count_records

# The server gets CPU 0 to itself; mock and load share CPU 1 (none on one core).
TWO_CPUS = len(os.sched_getaffinity(0)) >= 2
LOAD_CPU = "1" if TWO_CPUS else None
SERVER_CPU = "0" if TWO_CPUS else None
# Where load generators leave their figures; run.py points it at its work folder.
WORK = Path("/tmp")


@dataclass(frozen=True)
class Scenario:
    """One kind of load: its shape, its size and how long it runs."""

    name: str
    stream: bool = False
    chunks: int = 20
    delay_ms: int = 0
    conns: int = 1
    procs: int = 1
    warmup: float = 0.5
    duration: float = 3.0
    per_conn: int = 0  # >0: a fixed number of requests per connection, no window
    repeat: int = 3
    log_rate: bool = False  # sample the request log's row count during the window


FULL = (
    Scenario("c1", conns=1, duration=3.0),
    Scenario("stream1", stream=True, delay_ms=1, conns=1, duration=3.0),
    Scenario("c64", conns=64, procs=4, warmup=1.0, duration=4.0),
    Scenario("stream200", stream=True, delay_ms=1, conns=200, procs=4, duration=4.0),
    Scenario("logging", conns=64, procs=4, duration=5.0, repeat=1, log_rate=True),
    Scenario(
        "slow1000",
        stream=True,
        delay_ms=250,
        conns=1000,
        procs=4,
        per_conn=1,
        repeat=1,
    ),
)
QUICK = (
    Scenario("c1", conns=1, warmup=0.1, duration=0.5, repeat=1),
    Scenario("c64", conns=16, procs=2, warmup=0.2, duration=1.0, repeat=1),
    Scenario(
        "stream200",
        stream=True,
        delay_ms=1,
        conns=20,
        procs=2,
        warmup=0.2,
        duration=1.0,
        repeat=1,
    ),
    Scenario(
        "slow1000",
        stream=True,
        delay_ms=20,
        conns=50,
        procs=2,
        per_conn=1,
        repeat=1,
    ),
)
# The baselines that "added" figures are measured over: the mock, asked directly.
DIRECT = ("c1", "stream1", "stream200")


# Before each run, wait this long at most for other processes to go quiet.
QUIET_WAIT = 0.0


def run(
    scenario: Scenario, target: Target, port: int, server: Watched | None, mock: Watched
) -> dict:
    """Run a scenario `repeat` times; the median of each figure, errors summed."""
    runs = []
    for _ in range(scenario.repeat):
        if QUIET_WAIT:
            ours = [*(server.pids if server else []), *mock.pids]
            procs.wait_for_quiet(ours, QUIET_WAIT)
        runs.append(_once(scenario, target, port, server, mock))
    return _median_of(runs)


def _median_of(runs: list[dict]) -> dict:
    merged: dict = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r.get(key) is not None]
        if key in ("sent", "errors", "mismatched", "ok"):
            merged[key] = sum(values)
        elif key == "first_error":
            merged[key] = next((v for v in values if v), "")
        elif values and all(isinstance(v, int | float) for v in values):
            merged[key] = statistics.median(values)
        else:
            merged[key] = values[0] if values else None
    return merged


def _plans(scenario: Scenario, target: Target, port: int, work: Path) -> list[dict]:
    start_at = time.time() + 1.0 + scenario.conns / 500
    per = [scenario.conns // scenario.procs] * scenario.procs
    for i in range(scenario.conns % scenario.procs):
        per[i] += 1
    return [
        {
            "index": i,
            "port": port,
            "model": target.model,
            "stream": scenario.stream,
            "chunks": scenario.chunks,
            "delay_ms": scenario.delay_ms,
            "conns": n,
            "start_at": start_at,
            "warmup": scenario.warmup,
            "duration": scenario.duration,
            "per_conn": scenario.per_conn,
            "check": target.check,
            "nonce_base": int(time.time() * 1000) % 1_000_000 * 1000,
            "out": str(work / f"tally-{i}.json"),
        }
        for i, n in enumerate(per)
    ]


def _spawn(plans: list[dict]) -> list[subprocess.Popen]:
    script = str(BENCH / "loadgen.py")
    return [
        subprocess.Popen(
            pinned([sys.executable, script, json.dumps(plan)], LOAD_CPU),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for plan in plans
    ]


def _collect(
    loaders: list[subprocess.Popen], plans: list[dict], timeout: float
) -> list[dict]:
    tallies = []
    deadline = time.monotonic() + timeout
    for proc, plan in zip(loaders, plans, strict=True):
        try:
            _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        out = Path(plan["out"])
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"load generator failed: {err.strip()[-500:]}")
        tallies.append(json.loads(out.read_text()))
        out.unlink()
    return tallies


class Sampler:
    """Reads CPU, memory and the request log at the window's edges."""

    def __init__(self, server: Watched | None, mock: Watched, target: Target) -> None:
        self.server = server
        self.mock = mock
        self.target = target
        self.peak_rss = 0
        self.loaders: list[int] = []

    def snapshot(self) -> dict:
        """CPU seconds of server, mock, load and each CPU; the log's row count."""
        server = self.server
        rows = None
        if self.target.database is not None:
            rows = count_records(self.target.database)
        return {
            "cpu": server.cpu() if server else 0.0,
            "mock_cpu": self.mock.cpu(),
            "ours": procs.own_cpu([*self.mock.pids, *self.loaders]),
            "busy": procs.cpu_busy(),
            "rows": rows,
            "at": time.monotonic(),
        }

    def watch_until(self, deadline: float) -> None:
        """Sleep until the deadline, noting the server's peak memory meanwhile."""
        while True:
            if self.server is not None:
                self.peak_rss = max(self.peak_rss, self.server.rss())
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.05, left))


def _once(
    scenario: Scenario, target: Target, port: int, server: Watched | None, mock: Watched
) -> dict:
    plans = _plans(scenario, target, port, WORK)
    sampler = Sampler(server, mock, target)
    rss_before = server.rss() if server else 0
    initial = sampler.snapshot()
    loaders = _spawn(plans)
    sampler.loaders = [p.pid for p in loaders]
    begin = plans[0]["start_at"] - time.time() + time.monotonic()
    if scenario.per_conn:
        before = sampler.snapshot()
        while any(p.poll() is None for p in loaders):
            sampler.watch_until(time.monotonic() + 0.2)
        after = sampler.snapshot()
        window = after["at"] - begin
    else:
        sampler.watch_until(begin + scenario.warmup)
        before = sampler.snapshot()
        sampler.watch_until(begin + scenario.warmup + scenario.duration)
        after = sampler.snapshot()
        window = scenario.duration
    tallies = _collect(
        loaders, plans, timeout=scenario.duration + scenario.warmup + 120
    )
    time.sleep(0.3)
    final = sampler.snapshot()
    edges = (initial, before, after, final)
    merged = _merge(tallies)
    return _figures(scenario, merged, edges, window, sampler, rss_before)


def _select(scenario: Scenario, merged: dict) -> tuple[list[int], float, bool]:
    """The requests to take figures from, the rate's time span, and whether the
    server was too slow for the window (then every request ending after warm-up)."""
    samples = list(range(len(merged["ends"])))
    if scenario.per_conn:
        span = max(merged["ends"], default=0) - min(merged["starts"], default=0)
        return samples, span, False
    lo, hi = scenario.warmup, scenario.warmup + scenario.duration
    ended = [i for i in samples if lo <= merged["ends"][i] <= hi]
    if len(ended) >= scenario.conns:
        started = [i for i in samples if lo <= merged["starts"][i] <= hi]
        return started, scenario.duration, False
    late = [i for i in samples if merged["ends"][i] >= lo]
    return late, max(merged["ends"], default=lo) - lo, True


def _figures(scenario, merged, edges, window, sampler, rss_before) -> dict:
    """Every figure of one run: counts, rate, timings, CPU, memory, the log."""
    initial, before, after, final = edges
    chosen, span, slow = _select(scenario, merged)
    counted = len(chosen) if slow or scenario.per_conn else _ended_in(scenario, merged)
    # A server too slow for the window is charged for everything after warm-up.
    cpu_end = final if slow else after
    figures = {
        "sent": merged["sent"],
        "ok": merged["ok"],
        "errors": sum(merged["errors"].values()),
        "mismatched": merged["mismatched"],
        "first_error": merged["first_error"],
        "too_slow_for_window": slow,
        "rate": counted / span if span > 0 else 0.0,
        **_timings(merged, chosen),
        "cpu_ms": _per(cpu_end["cpu"] - before["cpu"], counted),
        "mock_cpu_ms": _per(cpu_end["mock_cpu"] - before["mock_cpu"], counted),
        "rss_before": rss_before,
        "rss_peak": sampler.peak_rss,
        **_foreign(before, cpu_end, server_cpu=SERVER_CPU),
    }
    if scenario.log_rate and before["rows"] is not None:
        figures["records_rate"] = ((after["rows"] or 0) - before["rows"]) / window
        written = (final["rows"] or 0) - (initial["rows"] or 0)
        figures["records_missing"] = merged["sent"] - written
    return figures


def _ended_in(scenario: Scenario, merged: dict) -> int:
    """How many requests completed inside the measuring window."""
    lo, hi = scenario.warmup, scenario.warmup + scenario.duration
    return sum(1 for end in merged["ends"] if lo <= end <= hi)


def _timings(merged: dict, chosen: list[int]) -> dict:
    """Latency, time to first byte and chunk spacing percentiles, in ms."""
    starts, ends = merged["starts"], merged["ends"]
    latency = [(ends[i] - starts[i]) * 1000.0 for i in chosen]
    ttfb = [merged["ttfb"][i] for i in chosen]
    spread = [merged["spread"][i] for i in chosen if merged["spread"][i] >= 0]
    return {
        "p50": _pct(latency, 50),
        "p99": _pct(latency, 99),
        "ttfb_p50": _pct(ttfb, 50),
        "ttfb_p99": _pct(ttfb, 99),
        "chunk_gap": _pct(spread, 50),
        "chunk_gap_p99": _pct(merged["gaps"], 99),
    }


def _foreign(before: dict, after: dict, server_cpu: str | None) -> dict:
    """CPU taken by other processes over the window, as a share of one CPU, on the
    server's CPU and on the load's."""
    seconds = after["at"] - before["at"]
    if server_cpu is None or seconds <= 0:
        return {}
    busy = {k: after["busy"][k] - before["busy"].get(k, 0.0) for k in after["busy"]}
    server_cpu_name = f"cpu{server_cpu}"
    server = busy.pop(server_cpu_name, 0.0) - (after["cpu"] - before["cpu"])
    load = sum(busy.values()) - (after["ours"] - before["ours"])
    return {
        "foreign_on_server_cpu": max(0.0, server) / seconds,
        "foreign_on_load_cpu": max(0.0, load) / seconds,
    }


_LISTS = ("starts", "ends", "ttfb", "spread", "gaps")


def _merge(tallies: list[dict]) -> dict:
    merged: dict = {key: [] for key in _LISTS}
    merged.update(sent=0, ok=0, mismatched=0, errors={}, first_error="")
    for tally in tallies:
        for key in _LISTS:
            merged[key].extend(tally[key])
        for key in ("sent", "ok", "mismatched"):
            merged[key] += tally[key]
        for kind, n in tally["errors"].items():
            merged["errors"][kind] = merged["errors"].get(kind, 0) + n
        merged["first_error"] = merged["first_error"] or tally["first_error"]
    return merged


def _pct(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _per(cpu_seconds: float, requests: int) -> float | None:
    return cpu_seconds * 1000.0 / requests if requests else None


def describe(scenario: Scenario) -> dict:
    """A scenario's settings, for the results file."""
    return asdict(scenario)
