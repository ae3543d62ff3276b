"""Starting, watching and stopping the benchmark's processes, and reading /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinned(cmd: list[str], cpu: str | None) -> list[str]:
    """The command run under taskset on the given CPUs, when taskset exists."""
    if cpu is None or not Path("/usr/bin/taskset").exists():
        return cmd
    return ["taskset", "-c", cpu, *cmd]


def start(
    cmd: list[str], cpu: str | None, log: Path, env: dict | None = None, cwd=None
) -> subprocess.Popen:
    """Start a server in its own session, output to a log file."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            pinned(cmd, cpu),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


def wait_http(
    port: int, proc: subprocess.Popen, timeout: float, path: str = "/health"
) -> None:
    """Block until the port answers an HTTP GET; raise if the process died first."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(request)
                if sock.recv(12).startswith(b"HTTP/1."):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"did not answer on port {port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen, grace: float = 20.0) -> int | None:
    """SIGINT the process's group, then SIGKILL it if it lingers; its exit code."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat:
            children.setdefault(int(stat[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is field 0)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes and their reaped children."""
    total = 0
    for pid in pids:
        stat = _stat(pid)
        if stat:
            total += sum(int(stat[i]) for i in (11, 12, 13, 14))
    return total / _TICK


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread of one process, keyed by "name tid"."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        stat = raw[raw.rfind(")") + 2 :].split()
        found[f"{name} {tid}"] = (int(stat[11]) + int(stat[12])) / _TICK
    return found


def cpu_busy() -> dict[str, float]:
    """Busy seconds of each CPU since boot, from /proc/stat ("cpu0", "cpu1", …)."""
    busy = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
        busy[name] = (user + nice + system + irq + softirq + steal) / _TICK
    return busy


def own_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes, including this one's reaped children."""
    me = os.times()
    mine = me.user + me.system + me.children_user + me.children_system
    return mine + cpu_seconds(pids)


def foreign_load(seconds: float, ours: list[int]) -> float:
    """How much of the machine other processes used over a short look, in CPUs."""
    busy, cpu = cpu_busy(), own_cpu(ours)
    time.sleep(seconds)
    used = sum(cpu_busy().values()) - sum(busy.values())
    return max(0.0, used - (own_cpu(ours) - cpu)) / seconds


def wait_for_quiet(ours: list[int], limit: float, most: float = 0.15) -> float:
    """Wait up to `limit` s until other processes use under `most` of a CPU; the
    load seen last."""
    deadline = time.monotonic() + limit
    while True:
        load = foreign_load(0.5, ours)
        if load < most or time.monotonic() >= deadline:
            return load
        time.sleep(1.0)


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of these processes, summed."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            continue
        total += int(fields[1]) * _PAGE
    return total


class Watched:
    """A started server whose process tree is measured."""

    def __init__(self, name: str, proc: subprocess.Popen, port: int) -> None:
        self.name = name
        self.proc = proc
        self.port = port
        self.pids = tree(proc.pid)

    def refresh(self) -> None:
        """Pick up child processes started since."""
        self.pids = tree(self.proc.pid)

    def cpu(self) -> float:
        """CPU seconds used so far."""
        return cpu_seconds(self.pids)

    def rss(self) -> int:
        """Resident bytes now."""
        return rss_bytes(self.pids)
