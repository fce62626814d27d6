#!/usr/bin/env python3
"""lwm2md benchmark: size, memory, idle wakeups, start-up, read latency and sensors.

Run by `make bench` (which builds the daemon first):

    python3 tests/bench/bench.py --bin build/lwm2md --out tests/bench/RESULTS.md

The daemon talks to the integration tests' raw CoAP peer (tests/integration/
rawpeer.py), which plays the LwM2M server over loopback.  Figures are never
checked against limits: whatever the numbers, the bench exits 0.  If a
measurement cannot be made (no binary, strace cannot attach, the daemon does
not register, a read gets the wrong answer, ...) it says so on stderr and
exits 1 without touching --out.

Standard library only, plus rawpeer.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import rawpeer as rp  # noqa: E402  (the integration tests' raw CoAP peer)


class BenchError(Exception):
    """A measurement could not be made."""


def run(cmd, **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)
    except FileNotFoundError as e:
        raise BenchError(f"{cmd[0]} is not installed: {e}") from None
    except subprocess.CalledProcessError as e:
        raise BenchError(f"`{shlex.join(map(str, cmd))}` failed ({e.returncode}):\n{e.stderr}") from None


def pct(sorted_vals, p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def proc_status(pid: int) -> dict:
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except FileNotFoundError:
        raise BenchError(f"process {pid} is gone (no /proc/{pid}/status)") from None
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def kb(status: dict, key: str) -> int:
    v = status.get(key)
    if not v or not v.endswith(" kB"):
        raise BenchError(f"/proc/PID/status has no {key} in kB: {v!r}")
    return int(v.split()[0])


# --- the daemon ----------------------------------------------------------------

class Daemon:
    """lwm2md with an ini in its own temp dir, talking to one RawPeer."""

    def __init__(self, binary: Path, workdir: Path, peer: rp.RawPeer, endpoint: str, lifetime: int,
                 extra: str = ""):
        self.binary, self.workdir, self.peer, self.endpoint = binary, workdir, peer, endpoint
        state = workdir / "state"
        state.mkdir(parents=True, exist_ok=True)
        self.cfg = workdir / "lwm2md.ini"
        self.cfg.write_text(
            f"[server]\nuri = {peer.uri}\nendpoint = {endpoint}\nlifetime = {lifetime}\n\n"
            f"[state]\ndir = {state}\n\n[log]\nlevel = warning\n{extra}")
        self.log_path = workdir / "lwm2md.log"
        self.proc = None
        self.spawned = None          # time.time() just before the spawn

    def start(self):
        log = open(self.log_path, "ab")
        self.spawned = time.time()
        self.proc = subprocess.Popen([str(self.binary), "-c", str(self.cfg), "--foreground"],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.workdir)
        log.close()
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def assert_alive(self, what: str):
        if self.proc.poll() is not None:
            raise BenchError(f"lwm2md exited ({self.proc.returncode}) {what}; its output:\n{self.log()}")

    def wait_register(self, timeout: float = 10.0) -> rp.Registration:
        try:
            return self.peer.wait_register(timeout=timeout)
        except AssertionError as e:
            self.assert_alive("before registering")
            raise BenchError(f"lwm2md did not register: {e}\nits output:\n{self.log()}") from None

    def stop(self, timeout: float = 15.0):
        """SIGTERM and wait; returns the exit code (the daemon de-registers first)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise BenchError(f"lwm2md did not exit within {timeout} s of SIGTERM") from None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- synchronous requests from the peer's socket -------------------------------

class PausedReceiver:
    """Stops the peer's receive thread so that the bench can send a request and
    block in recv() on the same socket: with the thread in the way each round
    trip also pays a thread hand-off and a queue wake-up in Python (about 40 us
    at p50 on the reference machine, more than the daemon's own time).  The
    daemon's UDP session is connected to the peer's address, so the peer's own
    socket is the only one it answers.

    This touches CoapEndpoint internals (_closed, _thread, _run): if rawpeer
    changes, this fails loudly rather than measuring something else."""

    def __init__(self, peer: rp.RawPeer):
        for attr in ("_closed", "_thread", "_run", "sock"):
            if not hasattr(peer, attr):
                raise BenchError(f"rawpeer.CoapEndpoint has no {attr}: update PausedReceiver in bench.py")
        self.peer = peer

    def __enter__(self):
        self.peer._closed.set()
        self.peer._thread.join(timeout=5)
        if self.peer._thread.is_alive():
            raise BenchError("rawpeer's receive thread did not stop")
        self.old_timeout = self.peer.sock.gettimeout()
        self.peer.sock.settimeout(2.0)
        return self

    def __exit__(self, *exc):
        p = self.peer
        p.sock.settimeout(self.old_timeout)
        p._closed.clear()
        p._thread = threading.Thread(target=p._run, name=f"coap-{p.name}", daemon=True)
        p._thread.start()

    def get(self, path: str, accept: int):
        """One CON GET; returns (response Msg, microseconds from send to the
        response's arrival)."""
        p = self.peer
        msg = rp.Msg(type=rp.CON, code=rp.GET, mid=p.next_mid(), token=os.urandom(4))
        msg.set_path(path).add(rp.ACCEPT, accept)
        data = msg.encode()
        t0 = time.perf_counter_ns()
        p.sock.sendto(data, p.peer)
        while True:
            try:
                raw = p.sock.recv(65535)
            except TimeoutError:
                raise BenchError(f"no answer to GET {path} within 2 s (a lost datagram on loopback?)") from None
            t1 = time.perf_counter_ns()
            r = rp.decode(raw)
            if r.type == rp.CON:                      # a separate response, or a request
                p.sock.sendto(rp.Msg(type=rp.ACK, code=rp.EMPTY, mid=r.mid).encode(), p.peer)
            if r.is_response and r.token == msg.token:
                return r, (t1 - t0) / 1000
            if r.is_request:
                raise BenchError(f"unexpected request from the daemon during the read loop: {r}")
            # an empty ACK (separate response follows): keep waiting


# --- measurements ----------------------------------------------------------------

def measure_binary(binary: Path, tmp: Path) -> dict:
    stripped = tmp / "lwm2md.stripped"
    run(["strip", "-o", str(stripped), str(binary)])
    ldd = run(["ldd", str(binary)]).stdout
    libs = [ln.split()[0] for ln in ldd.splitlines()
            if ln.strip() and "linux-vdso" not in ln and "statically linked" not in ln]
    if not libs:
        raise BenchError(f"ldd listed no libraries:\n{ldd}")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run(["readelf", "-d", str(binary)]).stdout)
    producer = "unknown"
    info = subprocess.run(["readelf", "--debug-dump=info", str(binary)], capture_output=True, text=True)
    m = re.search(r"DW_AT_producer\s*:\s*(?:\(indirect string, offset: 0x[0-9a-f]+\):\s*)?(.+)", info.stdout)
    if m:
        producer = m.group(1).strip()
    return {
        "size": binary.stat().st_size,
        "stripped": stripped.stat().st_size,
        "ldd": len(libs),
        "needed": needed,
        "libs": libs,
        "producer": producer,
    }


def measure_starts(binary: Path, tmp: Path, n: int) -> dict:
    spawn_reg, reg_ack, spawn_ready, exits = [], [], [], []
    for i in range(n):
        peer = rp.RawPeer(name=f"start{i}")
        d = Daemon(binary, tmp / f"start{i}", peer, f"bench-start-{i}-{os.getpid()}", lifetime=3600)
        try:
            d.start()
            d.wait_register()
            # the peer's log holds the Register's arrival and the 2.01's departure
            rx = next(t for t, way, _, m in peer.log if way == "rx" and isinstance(m, rp.Msg) and rp.is_register(m))
            tx = next(t for t, way, _, m in peer.log
                      if way == "tx" and isinstance(m, rp.Msg) and m.code == rp.CREATED and t >= rx)
            # first read right after the 2.01: answered once the daemon has
            # taken the 2.01 in and serves requests
            r = peer.get("/3/0/0", accept=rp.CF_TEXT, timeout=5)
            ready = time.time()
            if r.code != rp.CONTENT:
                raise BenchError(f"first GET /3/0/0 after registering got {rp.code_str(r.code)}")
            spawn_reg.append((rx - d.spawned) * 1000)
            reg_ack.append((tx - rx) * 1000)
            spawn_ready.append((ready - d.spawned) * 1000)
            exits.append(d.stop())
        finally:
            d.kill()
            peer.close()
    return {"spawn_reg": spawn_reg, "reg_ack": reg_ack, "spawn_ready": spawn_ready, "exits": exits}


def measure_reads(rx: PausedReceiver, path: str, accept: int, n: int) -> list:
    lat = []
    for _ in range(n):
        r, us = rx.get(path, accept)
        if r.code != rp.CONTENT:
            raise BenchError(f"GET {path} got {rp.code_str(r.code)}: {r}")
        cf = r.content_format if r.content_format is not None else rp.CF_TEXT
        if cf != accept or not r.payload:
            raise BenchError(f"GET {path} (Accept {accept}) answered with content format {cf}: {r}")
        lat.append(us)
    lat.sort()
    return lat


def strace_window(pid: int, seconds: float, tmp: Path) -> dict:
    """strace -c -f -p PID for `seconds`; returns {syscall: calls}, the total,
    and the daemon's voluntary context switches over the same window."""
    if not shutil.which("strace"):
        raise BenchError("strace is not installed (sh tests/setup-deps.sh, or apt-get install strace)")
    out = tmp / "strace.txt"
    err = tmp / "strace.err"
    with open(err, "wb") as ef:
        st = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", str(out)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=ef)
    try:
        deadline = time.monotonic() + 10
        while "attached" not in err.read_text(errors="replace"):
            if st.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"strace did not attach to {pid}:\n{err.read_text(errors='replace')}")
            time.sleep(0.05)
        time.sleep(0.2)                    # let the attach's own restarts settle
        v0 = int(proc_status(pid)["voluntary_ctxt_switches"])
        t0 = time.monotonic()
        time.sleep(seconds)
        v1 = int(proc_status(pid)["voluntary_ctxt_switches"])
        elapsed = time.monotonic() - t0
    finally:
        if st.poll() is None:
            st.send_signal(signal.SIGINT)
        try:
            st.wait(timeout=10)
        except subprocess.TimeoutExpired:
            st.kill()
            st.wait()
    text = out.read_text(errors="replace") if out.exists() else ""
    calls, total = {}, None
    for line in text.splitlines():
        f = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(f) >= 5 and re.fullmatch(r"[\d.]+", f[0]) and f[3].isdigit():
            if f[-1] == "total":
                total = int(f[3])
            else:
                calls[f[-1]] = int(f[3])
    if total is None:
        if calls or "total" in text:
            raise BenchError(f"cannot read strace's summary:\n{text}")
        total = 0                          # strace prints no table when it saw nothing
    if "detached" not in err.read_text(errors="replace") and st.returncode not in (0, -signal.SIGINT, 130):
        raise BenchError(f"strace ended with {st.returncode}:\n{err.read_text(errors='replace')}")
    return {"calls": calls, "total": total, "vcs": v1 - v0, "elapsed": elapsed, "table": text.strip()}


def ctxt_window(pid: int, seconds: float) -> dict:
    s0 = proc_status(pid)
    t0 = time.monotonic()
    time.sleep(seconds)
    s1 = proc_status(pid)
    elapsed = time.monotonic() - t0
    return {"vcs": int(s1["voluntary_ctxt_switches"]) - int(s0["voluntary_ctxt_switches"]),
            "nvcs": int(s1["nonvoluntary_ctxt_switches"]) - int(s0["nonvoluntary_ctxt_switches"]),
            "elapsed": elapsed}


def measure_running(binary: Path, tmp: Path, reads: int, idle: float, ctxt_idle: float) -> dict:
    res = {}
    peer = rp.RawPeer(name="bench")
    d = Daemon(binary, tmp / "main", peer, f"bench-{os.getpid()}", lifetime=3600)
    try:
        d.start()
        d.wait_register()
        time.sleep(0.5)
        d.assert_alive("after registering")
        s = proc_status(d.pid)
        res["rss_reg"], res["hwm_reg"] = kb(s, "VmRSS"), kb(s, "VmHWM")

        with PausedReceiver(peer) as rx:
            res["lat_text"] = measure_reads(rx, "/3/0/0", rp.CF_TEXT, reads)
            res["lat_tlv"] = measure_reads(rx, "/3/0", rp.CF_TLV, reads)
        d.assert_alive("after the reads")
        s = proc_status(d.pid)
        res["rss_reads"], res["hwm_reads"] = kb(s, "VmRSS"), kb(s, "VmHWM")
        res["threads"] = int(s["Threads"])

        n_before = len(peer.requests)
        time.sleep(1.0)                                   # settle
        res["ctxt"] = ctxt_window(d.pid, ctxt_idle)       # no tracer attached
        res["strace"] = strace_window(d.pid, idle, tmp)
        d.assert_alive("after the idle window")
        res["idle_requests"] = [str(m) for _, m, _ in peer.requests[n_before:]]
        res["exit"] = d.stop()
        res["log"] = d.log().strip()
    finally:
        d.kill()
        peer.close()
    return res


def cpu_seconds(pid: int) -> float:
    """utime + stime of pid so far (/proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        raise BenchError(f"process {pid} is gone (no /proc/{pid}/stat)") from None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sim_sensors(n: int, period: int) -> str:
    """n [sensor.NAME] sections: 3303 instances fed by random walks."""
    return "".join(f"\n[sensor.sim{i}]\nobject = 3303\ndriver = sim\nwaveform = random\nvalue = 20\n"
                   f"amplitude = 5\nperiod = {period}\n" for i in range(n))


SENSOR_COUNTS = (0, 10, 100, 1000)


def measure_sensors(binary: Path, tmp: Path, window: float) -> dict:
    """RSS with 0, 10, 100 and 1000 sim sensors; CPU time and wakeups of the
    100-sensor daemon (all sampled every 10 s) over `window` seconds."""
    res = {"rss": {}}
    for n in SENSOR_COUNTS:
        peer = rp.RawPeer(name=f"bench-sensors-{n}")
        d = Daemon(binary, tmp / f"sensors-{n}", peer, f"bench-sensors-{n}-{os.getpid()}",
                   lifetime=3600, extra=sim_sensors(n, 10))
        try:
            d.start()
            if n <= 100:
                d.wait_register()
            else:
                # a Register listing 1000 instances goes block-wise, which the
                # raw peer does not reassemble: measure the daemon as built
                peer.wait_register(timeout=10)
            time.sleep(0.5)
            d.assert_alive(f"with {n} sensors")
            s = proc_status(d.pid)
            res["rss"][n] = (kb(s, "VmRSS"), kb(s, "VmHWM"))
            if n == 100:
                time.sleep(1.0)
                cpu0 = cpu_seconds(d.pid)
                res["ctxt100"] = ctxt_window(d.pid, window)
                res["cpu100"] = cpu_seconds(d.pid) - cpu0
            d.stop()
        finally:
            d.kill()
            peer.close()
    return res


# --- report ----------------------------------------------------------------------

def machine() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    model = v.strip()
                    break
    except OSError:
        pass
    u = platform.uname()
    try:
        coap = run(["pkg-config", "--modversion", "libcoap-3-gnutls"]).stdout.strip()
    except BenchError:
        coap = "unknown"
    git = "unknown"
    try:
        head = run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).stdout.strip()
        # what the binary was built from: HEAD plus any uncommitted sources
        dirty = run(["git", "-C", str(REPO), "status", "--porcelain", "--", "agent", "objects", "drivers",
                     "Makefile"]).stdout.splitlines()
        dirty = [ln[3:] for ln in dirty if ln[3:].endswith((".c", ".h", "Makefile"))]
        git = head + (f" + uncommitted: {', '.join(dirty)}" if dirty else "")
    except BenchError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "kernel": f"{u.system} {u.release} {u.machine}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "python": platform.python_version(),
        "libcoap": coap,
        "git": git,
    }


def fmt_ms(v: float) -> str:
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def report(cmd: str, m: dict, b: dict, st: dict, run_: dict, args, sens: dict = None) -> str:
    lt, lb = run_["lat_text"], run_["lat_tlv"]
    s = run_["strace"]
    per_min = 60.0 / s["elapsed"]
    ep = s["calls"].get("epoll_wait", 0)
    c = run_["ctxt"]
    cpm = 60.0 / c["elapsed"]
    others = ", ".join(f"{k} {v}" for k, v in sorted(s["calls"].items(), key=lambda kv: -kv[1])) or "none"

    rows = [
        ("Binary size, stripped", f"{b['stripped']:,} bytes ({b['stripped'] / 1024:.0f} KiB)",
         f"unstripped (with -g): {b['size']:,} bytes"),
        ("Shared libraries (ldd)", f"{b['ldd']}", f"{len(b['needed'])} direct (DT_NEEDED): {', '.join(b['needed'])}"),
        ("RSS after registration", f"VmRSS {run_['rss_reg']:,} kB, VmHWM {run_['hwm_reg']:,} kB", ""),
        (f"RSS after {2 * args.reads:,} reads", f"VmRSS {run_['rss_reads']:,} kB, VmHWM {run_['hwm_reads']:,} kB",
         f"{args.reads:,} GET /3/0/0 + {args.reads:,} GET /3/0; {run_['threads']} thread(s)"),
        ("Idle: epoll_wait calls / min", f"{ep * per_min:.1f}", f"strace -c -f over {s['elapsed']:.0f} s"),
        ("Idle: syscalls / min (all)", f"{s['total'] * per_min:.1f}", f"by syscall: {others}"),
        ("Idle: voluntary context switches / min", f"{c['vcs'] * cpm:.1f}",
         f"no tracer, over {c['elapsed']:.0f} s; non-voluntary {c['nvcs'] * cpm:.1f}/min; "
         f"under strace {s['vcs'] * per_min:.1f}/min"),
        (f"Spawn → Register at the peer (median of {args.starts})", f"{fmt_ms(statistics.median(st['spawn_reg']))} ms",
         "min {} / max {} ms".format(fmt_ms(min(st["spawn_reg"])), fmt_ms(max(st["spawn_reg"])))),
        ("Register → 2.01 sent (peer's own turnaround)", f"{fmt_ms(statistics.median(st['reg_ack']))} ms",
         "the Python peer's share of the exchange"),
        ("Spawn → first read answered (median)", f"{fmt_ms(statistics.median(st['spawn_ready']))} ms",
         "GET /3/0/0 sent as soon as the peer has the Register"),
        (f"GET /3/0/0 text/plain, {args.reads:,} CON", f"p50 {pct(lt, 50):.0f} / p99 {pct(lt, 99):.0f} / "
         f"max {lt[-1]:.0f} µs", f"mean {statistics.fmean(lt):.0f} µs"),
        (f"GET /3/0 TLV, {args.reads:,} CON", f"p50 {pct(lb, 50):.0f} / p99 {pct(lb, 99):.0f} / "
         f"max {lb[-1]:.0f} µs", f"mean {statistics.fmean(lb):.0f} µs"),
    ]

    if sens:
        rss = sens["rss"]
        c = sens["ctxt100"]
        cpm = 60.0 / c["elapsed"]
        rows += [
            ("RSS with N sim sensors (N = " + ", ".join(str(n) for n in SENSOR_COUNTS) + ")",
             ", ".join(f"{rss[n][0]:,}" for n in SENSOR_COUNTS) + " kB",
             f"VmRSS 0.5 s after start; per sensor: {(rss[100][0] - rss[0][0]) / 100:.1f} kB "
             f"(0 → 100), {(rss[1000][0] - rss[100][0]) / 900:.1f} kB (100 → 1000)"),
            ("100 sim sensors sampled every 10 s: CPU time / min",
             f"{sens['cpu100'] * 60 / c['elapsed'] * 1000:.1f} ms",
             f"utime + stime over {c['elapsed']:.0f} s"),
            ("100 sim sensors sampled every 10 s: wakeups / min", f"{c['vcs'] * cpm:.1f}",
             f"voluntary context switches, no tracer; non-voluntary {c['nvcs'] * cpm:.1f}/min"),
        ]

    notes = []
    if any(e != 0 for e in st["exits"] + [run_["exit"]]):
        notes.append(f"- exit codes after SIGTERM were {st['exits'] + [run_['exit']]} (expected 0)")
    if run_["idle_requests"]:
        notes.append("- the daemon sent requests during the idle windows: " + "; ".join(run_["idle_requests"]))
    if run_["log"]:
        notes.append("- the daemon logged (level warning) during the main run:\n\n```\n" + run_["log"] + "\n```")

    out = f"""# lwm2md benchmark results

Generated by `tests/bench/bench.py` (run it with `make bench`); the whole file
is rewritten on every run.  These are figures, not pass/fail limits.

What each figure means and how it is measured:

1. **Binary size**: `build/lwm2md` as `make all` builds it (the Makefile's
   default `CFLAGS`, `-O2 -g`), copied and stripped with `strip`.  **Shared
   libraries**: entries `ldd` lists (linux-vdso not counted); the direct ones
   are the binary's `DT_NEEDED` entries (`readelf -d`).
2. **RSS**: `VmRSS` (resident now) and `VmHWM` (peak resident) from
   `/proc/PID/status`, 0.5 s after the daemon registered with the raw peer
   (`tests/integration/rawpeer.py`, playing the LwM2M server), and again after
   the read loops of item 5.
3. **Idle wakeups**: the daemon registered (lifetime 3600 s, so no Update is
   due) and nothing else happening.  First a {args.ctxt_idle:.0f} s window with no tracer:
   the delta of `voluntary_ctxt_switches` in `/proc/PID/status` (each sleep of
   the process is one).  Then `strace -c -f -p PID` for {args.idle:.0f} s, counting every
   syscall: a daemon that sleeps in `epoll_wait(-1)` makes none (the call in
   progress when strace attaches or detaches is not counted, because it does
   not finish inside the window).  Both are scaled to per minute.
4. **Start-up**: {args.starts} cold starts, each with a fresh state directory and a
   fresh peer.  Spawn → Register is from just before `Popen` to the peer
   receiving the Register (both on this machine's wall clock); Register → 2.01
   is the peer's own time to answer; spawn → first read answered adds the
   daemon taking in the 2.01 and answering one GET /3/0/0 sent right after it.
5. **Read latency**: {args.reads:,} sequential confirmable GET /3/0/0 with Accept
   text/plain, then {args.reads:,} GET /3/0 with Accept TLV (11542), from the raw
   peer over loopback; each is timed at the peer from `sendto` to the
   piggybacked 2.05 arriving from `recv` (the peer's receive thread is paused
   for this, so no thread hand-off is counted).  The figures still include
   the Python peer's encode/decode and syscall overhead at both ends
   (a few µs).  Percentiles are nearest-rank.
6. **Sensors**: daemons with 0, 10, 100 and 1000 `[sensor.NAME]` sections
   (3303 instances fed by the `sim` driver's random walk, period 10 s); RSS
   as in item 2.  With 100 sensors, which share one 10 s sampling timer, the
   CPU time (`utime + stime` in `/proc/PID/stat`) and voluntary context
   switches over a {args.sensor_window:.0f} s window, scaled to per minute.  The edge-to-
   notification latency of GPIO inputs is measured in the VM (tests/hwsim).

## Figures

Command: `{cmd}`

| Machine | |
|---|---|
| nproc | {m['nproc']} |
| CPU | {m['cpu']} |
| Kernel | {m['kernel']} |
| Load average (1/5/15 min) | {m['load']} |
| Date | {m['date']} |
| Source | git {m['git']} |
| Compiler | {b['producer']} |
| libcoap | {m['libcoap']} |
| Python (peer) | {m['python']} |

| Figure | Value | Detail |
|---|---|---|
""" + "\n".join(f"| {a} | {v} | {d} |" for a, v, d in rows) + "\n"
    out += "\nLibraries `ldd` lists: " + ", ".join(Path(x).name for x in b["libs"]) + ".\n"
    out += "\nstrace's summary of the idle window:\n\n```\n" + (s["table"] or "(no syscalls)") + "\n```\n"
    if notes:
        out += "\nNotes from this run:\n\n" + "\n".join(notes) + "\n"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="build/lwm2md", help="the daemon (default build/lwm2md)")
    ap.add_argument("--out", help="write the results here (Markdown), e.g. tests/bench/RESULTS.md")
    ap.add_argument("--reads", type=int, default=1000, help="reads per path (default 1000)")
    ap.add_argument("--starts", type=int, default=5, help="cold starts (default 5)")
    ap.add_argument("--idle", type=float, default=60.0, help="strace window in s (default 60)")
    ap.add_argument("--ctxt-idle", type=float, default=30.0,
                    help="untraced context-switch window in s (default 30)")
    ap.add_argument("--sensor-window", type=float, default=60.0,
                    help="window for CPU time and wakeups with 100 sensors, in s (default 60)")
    args = ap.parse_args()

    cmd = shlex.join(["python3", os.path.relpath(sys.argv[0], REPO) if Path(sys.argv[0]).is_absolute()
                      else sys.argv[0], *sys.argv[1:]])
    binary = Path(args.bin)
    if not binary.is_absolute():
        binary = Path.cwd() / binary
    if not binary.is_file() or not os.access(binary, os.X_OK):
        print(f"bench: FAILED: {binary} is not an executable (run `make` first)", file=sys.stderr)
        return 1

    t_start = time.monotonic()
    load_start = os.getloadavg()        # other work on the machine shows in the latency tails
    try:
        with tempfile.TemporaryDirectory(prefix="lwm2md-bench-") as tmpd:
            tmp = Path(tmpd)
            print(f"bench: binary {binary}", flush=True)
            b = measure_binary(binary, tmp)
            print(f"bench: {args.starts} cold starts", flush=True)
            st = measure_starts(binary, tmp, args.starts)
            print(f"bench: reads, then idle windows ({args.ctxt_idle:.0f} s untraced + {args.idle:.0f} s strace)",
                  flush=True)
            r = measure_running(binary, tmp, args.reads, args.idle, args.ctxt_idle)
            print(f"bench: sensors (RSS with {', '.join(map(str, SENSOR_COUNTS))}; "
                  f"{args.sensor_window:.0f} s with 100)", flush=True)
            sens = measure_sensors(binary, tmp, args.sensor_window)
    except BenchError as e:
        print(f"\nbench: FAILED: a measurement could not be made:\n{e}", file=sys.stderr)
        return 1

    m = machine()
    m["load"] = "{} at the start, {} at the end".format(
        " / ".join(f"{x:.2f}" for x in load_start), " / ".join(f"{x:.2f}" for x in os.getloadavg()))
    text = report(cmd, m, b, st, r, args, sens)
    print()
    print(text[text.index("## Figures"):])
    print(f"bench: done in {time.monotonic() - t_start:.0f} s")
    if args.out:
        Path(args.out).write_text(text)
        print(f"bench: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
