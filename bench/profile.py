"""Profile a server under one benchmark scenario with py-spy, and summarise where
its time goes (self and inclusive share per function).

    python bench/profile.py --scenario c64            # kilo-tui serve
    python bench/profile.py --scenario stream200 --server console
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import procs  # noqa: E402
import run  # noqa: E402
import scenarios  # noqa: E402
import targets  # noqa: E402


def summarise(raw: Path, top: int) -> str:
    """Self and inclusive shares of the busiest functions in py-spy's raw output."""
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames, n = stack.split(";"), int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} samples", "self:"]
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in own.most_common(top)]
    lines.append("inclusive:")
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(lines)


def record(pid: int, seconds: float, out: Path, rate: int) -> threading.Thread:
    """py-spy sampling the server for a while, on the load generators' CPU."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    cmd = [
        spy,
        "record",
        # Only the thread holding the GIL: idle threads (the log writer waiting on
        # its queue) would otherwise count as busy. Non-blocking keeps the server's
        # timing close to an unprofiled run.
        "--gil",
        "--nonblocking",
        "-p",
        str(pid),
        "-d",
        str(int(seconds)),
        "-r",
        str(rate),
        "-f",
        "raw",
        "-o",
        str(out),
    ]
    cmd = procs.pinned(cmd, scenarios.LOAD_CPU)
    thread = threading.Thread(
        target=subprocess.run, args=(cmd,), kwargs={"capture_output": True}
    )
    thread.start()
    return thread


def main() -> int:
    """Start mock and server, profile one scenario, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="c64")
    parser.add_argument("--server", default="kilo")
    parser.add_argument("--target", action="append", default=[])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    if scenarios.LOAD_CPU is not None:
        os.sched_setaffinity(0, {int(scenarios.LOAD_CPU)})
    base = targets.BENCH / "out"
    base.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="profile-", dir=base))
    scenarios.WORK = work
    chosen = next(s for s in scenarios.FULL if s.name == args.scenario)
    chosen = dataclasses.replace(chosen, repeat=1, duration=args.duration)
    mock, mock_port = run.start_mock(work)
    try:
        ns = argparse.Namespace(quick=False, servers=args.server, target=args.target)
        target = run.make_targets(ns, work, mock_port)[0]
        raw = work / "profile.txt"
        _profiled(target, chosen, mock, work, (raw, args.rate))
    finally:
        procs.stop(mock.proc)
    print(summarise(raw, args.top))
    print(f"raw stacks: {raw}")
    return 0


def _profiled(target, chosen, mock, work: Path, spy_to: tuple[Path, int]) -> None:
    env = {**os.environ, **target.env}
    log = work / "server.log"
    proc = procs.start(target.command, run.SERVER_CPU, log, env=env, cwd=targets.ROOT)
    try:
        procs.wait_http(target.port, proc, target.startup, target.health)
        server = procs.Watched(target.name, proc, target.port)
        load = procs.wait_for_quiet([*server.pids, *mock.pids], 120)
        print(f"other processes' load before the run: {load:.2f} CPU")
        delay = 1.0 + chosen.conns / 500 + chosen.warmup
        spy = threading.Timer(
            delay, lambda: record(proc.pid, chosen.duration - 0.5, *spy_to).join()
        )
        spy.start()
        threads_before = procs.thread_cpu(proc.pid)
        figures = scenarios.run(chosen, target, target.port, server, mock)
        threads = _thread_share(threads_before, procs.thread_cpu(proc.pid))
        spy.join()
        print(
            f"{target.name} {chosen.name}: {figures['rate']:.0f}/s, "
            f"cpu {figures['cpu_ms']:.3f} ms per request (sampling adds some); "
            f"CPU by thread: {threads}"
        )
        time.sleep(0.2)
    finally:
        procs.stop(proc)


def _thread_share(before: dict, after: dict) -> str:
    """Each busy thread's share of the process's CPU time over the run."""
    used = {k: v - before.get(k, 0.0) for k, v in after.items()}
    total = sum(used.values()) or 1.0
    busy = sorted(used.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in busy if v > 0.01)


if __name__ == "__main__":
    raise SystemExit(main())
