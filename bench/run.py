"""Benchmark kilo-tui's gateway against LiteLLM's proxy on this machine.

Starts a fast mock provider, then each server in turn pinned to one CPU (mock and
load generators on the other), runs every scenario, and prints one table. The full
run writes bench/RESULTS.md; --quick is a smoke test of correctness only.

    python bench/run.py                 # full run: kilo-tui, its console, LiteLLM
    python bench/run.py --quick         # seconds: every request answered and logged
    python bench/run.py --target mine='{python} my_gateway.py --port {port}'
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import procs  # noqa: E402
import report  # noqa: E402
import scenarios  # noqa: E402
import targets  # noqa: E402

SERVER_CPU = scenarios.SERVER_CPU
CHOICES = ("kilo", "console", "litellm", "floor")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="correctness smoke test")
    parser.add_argument(
        "--servers",
        default=None,
        help=f"comma-separated, from {','.join(CHOICES)} "
        "(default kilo,console,litellm; quick: kilo)",
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="also measure a command; {port} {mock_port} {home} {python} filled in",
    )
    parser.add_argument("--scenarios", help="comma-separated subset to run")
    parser.add_argument("--repeat", type=int, help="runs per scenario (median kept)")
    parser.add_argument("--out", type=Path, help="results file (default RESULTS.md)")
    parser.add_argument(
        "--hold", type=float, default=0, help="seconds to pause before the load"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        help="before each run, wait up to this many seconds for other processes "
        "to go quiet (default 20; quick: 0)",
    )
    return parser.parse_args(argv)


def chosen_scenarios(args) -> tuple:
    """The scenarios of this run, trimmed and repeated as asked."""
    chosen = scenarios.QUICK if args.quick else scenarios.FULL
    if args.scenarios:
        wanted = set(args.scenarios.split(","))
        chosen = tuple(s for s in chosen if s.name in wanted)
    if args.repeat:
        chosen = tuple(
            dataclasses.replace(s, repeat=args.repeat) if s.repeat > 1 else s
            for s in chosen
        )
    return chosen


def make_targets(args, work: Path, mock_port: int) -> list[targets.Target]:
    """The servers to measure, each on a free port with its own home."""
    default = "kilo" if args.quick else "kilo,console,litellm"
    names = (args.servers or default).split(",") if args.servers != "" else []
    made = []
    for name in names:
        port, home = procs.free_port(), work / name
        if name == "kilo":
            made.append(targets.kilo(home, port, mock_port))
        elif name == "console":
            made.append(targets.console(home, port, mock_port))
        elif name == "litellm":
            made.append(targets.litellm(home, port, mock_port))
        elif name == "floor":
            made.append(targets.floor(port, mock_port))
        else:
            raise SystemExit(f"unknown server {name!r}; choose from {CHOICES}")
    for spec in args.target:
        name, _, command = spec.partition("=")
        port, home = procs.free_port(), work / f"custom-{len(made)}"
        made.append(targets.custom(name, command, home, port, mock_port))
    return made


def start_mock(work: Path) -> tuple[procs.Watched, int]:
    """The mock provider, on the load generators' CPU."""
    port = procs.free_port()
    cmd = [sys.executable, str(targets.BENCH / "mock.py"), "--port", str(port)]
    proc = procs.start(cmd, scenarios.LOAD_CPU, work / "mock.log")
    procs.wait_http(port, proc, 15)
    return procs.Watched("mock", proc, port), port


def measure_direct(chosen, mock: procs.Watched) -> dict:
    """The baselines: each latency scenario sent straight to the mock."""
    direct = targets.direct(mock.port)
    results = {}
    for scenario in chosen:
        if scenario.name in scenarios.DIRECT:
            print(f"  direct {scenario.name} …", flush=True)
            results[scenario.name] = scenarios.run(
                scenario, direct, mock.port, None, mock
            )
    return results


def measure(target, chosen, mock: procs.Watched, work: Path, hold: float) -> dict:
    """Start one server, run every scenario against it, stop it; its figures."""
    log = work / f"{target.name.replace(' ', '-')}.log"
    env = {**os.environ, **target.env}
    proc = procs.start(target.command, SERVER_CPU, log, env=env, cwd=targets.ROOT)
    try:
        procs.wait_http(target.port, proc, target.startup, target.health)
    except RuntimeError as exc:
        procs.stop(proc)
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{target.name} did not start: {exc}\n{tail}") from None
    time.sleep(1.0)
    server = procs.Watched(target.name, proc, target.port)
    results = {"memory": {"idle_mb": server.rss() / report.MB}}
    if hold:
        print(f"  {target.name} pid {proc.pid}: holding {hold:.0f} s", flush=True)
        time.sleep(hold)
    try:
        for scenario in chosen:
            print(f"  {target.name} {scenario.name} …", flush=True)
            server.refresh()
            results[scenario.name] = scenarios.run(
                scenario, target, target.port, server, mock
            )
        time.sleep(2.0)
        results["memory"]["after_mb"] = server.rss() / report.MB
    finally:
        code = procs.stop(proc)
    results["log"] = _log_check(target, results, code)
    return results


def _log_check(target, results: dict, code: int | None) -> dict:
    sent = sum(v.get("sent", 0) for v in results.values() if isinstance(v, dict))
    rows = targets.count_records(target.database) if target.database else None
    check = {"sent": sent, "rows": rows, "exit_code": code}
    if rows is not None:
        check["lost"] = sent - rows
    return check


def quick_verdict(results: dict[str, dict]) -> list[str]:
    """What a smoke test found wrong: unanswered, altered or unlogged requests."""
    problems = []
    for name, res in results.items():
        for scenario, figures in res.items():
            if scenario in ("memory", "log"):
                continue
            if figures["errors"] or figures["mismatched"]:
                problems.append(
                    f"{name} {scenario}: {figures['errors']} failed, "
                    f"{figures['mismatched']} altered of {figures['sent']} "
                    f"({figures['first_error'][:200]})"
                )
            if figures["ok"] != figures["sent"]:
                problems.append(
                    f"{name} {scenario}: answered {figures['ok']} of {figures['sent']}"
                )
        log = res["log"]
        if log.get("rows") is None:
            problems.append(f"{name}: no request log found")
        elif log["lost"] != 0:
            problems.append(f"{name}: {log['sent']} requests, {log['rows']} records")
        if log.get("exit_code") not in (0, None):
            problems.append(f"{name}: exited with {log['exit_code']}")
    return problems


def versions(made: list[targets.Target]) -> list[str]:
    """Each server's version line."""
    lines = [f"- {t.name}: {t.version}" for t in made]
    lines.append(f"- kilo-tui tree: {report.git_revision(targets.ROOT)}")
    return lines


def results_markdown(args, made, results, direct, chosen, started) -> str:
    """RESULTS.md: what ran, where, and the table."""
    reference = "LiteLLM" if "LiteLLM" in results else None
    lines = [
        "# kilo-tui gateway benchmark",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC with `python bench/run.py"
        + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
        + "`.",
        "",
        f"Machine: {report.machine()}. Each server pinned to CPU {SERVER_CPU} "
        f"(taskset); the mock provider and {max(s.procs for s in chosen)} load "
        f"generator processes on CPU {scenarios.LOAD_CPU}. Figures are medians of "
        f"{max(s.repeat for s in chosen)} runs (memory and logging: one run).",
        "",
        *versions(made),
        "",
        report.table(results, direct, reference),
        "",
        "Which targets are missed, by how much, and where the time goes (profiles): "
        "[NOTES.md](NOTES.md).",
        "",
        _scenario_notes(chosen),
    ]
    return "\n".join(lines) + "\n"


def _scenario_notes(chosen) -> str:
    parts = ["Scenarios (OpenAI chat completions, `gpt-4o-mini`, usage included):", ""]
    for s in chosen:
        shape = (
            f"streams of {s.chunks} chunks {s.delay_ms} ms apart"
            if s.stream
            else "JSON answers"
        )
        size = (
            f"{s.per_conn} request per connection"
            if s.per_conn
            else f"{s.duration:g} s after {s.warmup:g} s warm-up"
        )
        conns = f"{s.conns} connection" + ("s" if s.conns > 1 else "")
        parts.append(f"- `{s.name}`: {conns}, {shape}, {size}.")
    parts += [
        "",
        "Added figures are the server's minus the same scenario sent straight to the "
        "mock. CPU is user+system time of the server's process tree from /proc over "
        "the measuring window, divided by the requests completed in it. Memory is "
        "RSS from /proc; per open stream = (peak during 1,000 open streams - RSS "
        "before) / streams. kilo-tui answers are checked byte for byte against what "
        "the mock sent; LiteLLM re-encodes streams, so only their content is checked.",
        "",
        '"Other processes" is CPU time /proc/stat shows on each CPU beyond what the '
        "benchmark's own processes used: above ~10% the machine was busy with other "
        "work and latency and rate figures are pessimistic; CPU per request is the "
        "least affected figure. Each run first waits (up to --quiet-wait seconds) "
        "for the machine to go quiet.",
    ]
    return "\n".join(parts)


def _interrupted(signum, frame) -> None:
    """SIGTERM ends the run like ^C, so every server started is stopped."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when --quick finds a request unanswered or unlogged."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)
    if scenarios.LOAD_CPU is not None:
        os.sched_setaffinity(0, {int(scenarios.LOAD_CPU)})
    started = datetime.now(UTC)
    chosen = chosen_scenarios(args)
    default_wait = 0.0 if args.quick else 20.0
    scenarios.QUIET_WAIT = default_wait if args.quiet_wait is None else args.quiet_wait
    base = targets.BENCH / "out"
    base.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    scenarios.WORK = work
    mock, mock_port = start_mock(work)
    try:
        made = make_targets(args, work, mock_port)
        print(f"direct baselines (mock on port {mock_port}) …", flush=True)
        direct = measure_direct(chosen, mock)
        results = {}
        for target in made:
            print(f"{target.name} …", flush=True)
            results[target.name] = measure(target, chosen, mock, work, args.hold)
    finally:
        procs.stop(mock.proc)
    (work / "results.json").write_text(
        json.dumps({"direct": direct, "servers": results}, indent=1, default=str)
    )
    reference = "LiteLLM" if "LiteLLM" in results else None
    print(report.table(results, direct, reference))
    print(f"raw figures: {work / 'results.json'}")
    if args.quick:
        problems = quick_verdict(results)
        for problem in problems:
            print("FAIL:", problem)
        print(
            "quick check:",
            "FAILED" if problems else "every request answered, byte-exact and logged",
        )
        if not problems:
            shutil.rmtree(work, ignore_errors=True)
        return 1 if problems else 0
    out = args.out or targets.BENCH / "RESULTS.md"
    out.write_text(results_markdown(args, made, results, direct, chosen, started))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
