#!/usr/bin/env python3
"""lwm2md benchmark: size, memory, idle wakeups, start-up, read latency, sensors,
information reporting and firmware update.

Run by `make bench` (which builds the daemon first):

    python3 tests/bench/bench.py --bin build/lwm2md --out tests/bench/RESULTS.md

One section alone (or a few): --only reporting (sections: core, sensors,
reporting, firmware).  The daemon talks to the integration tests' raw CoAP
peer (tests/integration/rawpeer.py), which plays the LwM2M server over
loopback; the firmware section also runs the firmware tests' nginx, CoAP file
server and swupdate (tests/integration/fwfix.py).  Figures are never checked
against limits: whatever the numbers, the bench exits 0.  If a measurement
cannot be made (no binary, strace cannot attach, the daemon does not
register, a read gets the wrong answer, ...) it says so on stderr and exits 1
without touching --out.

Modules here: common.py (the daemon, /proc readers), reporting.py (issue 3),
firmware.py (issue 5).  Standard library only, plus the integration tests'
helpers.
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
import time
from pathlib import Path

import firmware  # noqa: E402
import reporting  # noqa: E402
from common import (REPO, BenchError, Daemon, PausedReceiver, cpu_seconds, ctxt_window, fmt_ms, kb,  # noqa: E402
                    pct, proc_status, rp, run, sim_sensors)


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
        # the last commit that changed the daemon's sources: still names the
        # same code after the measuring branch is rebased onto a newer main
        last = run(["git", "-C", str(REPO), "log", "-1", "--format=%h", "HEAD", "--", "agent", "objects",
                    "drivers", "Makefile"]).stdout.strip()
        git = head + f" (daemon sources as of {last})" + (f" + uncommitted: {', '.join(dirty)}" if dirty else "")
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


def core_rows(b: dict, st: dict, run_: dict, args) -> list:
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

    return rows


def sensor_rows(sens: dict) -> list:
    rss = sens["rss"]
    c = sens["ctxt100"]
    cpm = 60.0 / c["elapsed"]
    return [
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


def us(v: float) -> str:
    return f"{v:,.0f}"


def reporting_rows(rep: dict) -> tuple:
    """(rows, the bytes-per-reading table) of the reporting section."""
    rows = []
    r = rep["rate"]
    per_s = r["n"] / r["elapsed"]
    rows += [
        (f"Notifications / s, {reporting.NOTIFY_SENSORS:,} observed Sensor Values changing every "
         f"{reporting.NOTIFY_PERIOD:g} s", f"{per_s:,.0f}",
         f"{r['n']:,} {'/'.join(r['types'])} notifications received over {r['elapsed']:.1f} s on "
         f"{r['obs']} Observe-Composite observations; {r['n'] / r['ticks']:.0f} per sampling tick, "
         f"{r['per_obs_min']:,}..{r['per_obs_max']:,} per observation: each member's new value sends its "
         f"observation's notification; median {r['size_p50']:.0f} bytes and {r['values_p50']:.0f} values each"),
        ("… values carried / s (most repeated from the previous notification), bytes / s",
         f"{per_s * r['values_p50']:,.0f} values, "
         f"{r['bytes'] / r['elapsed'] / 1e6:.2f} MB",
         f"kernel UDP RcvbufErrors (whole machine) over the window: {r['rcvbuf_errors']:,}; the peer's "
         f"SO_RCVBUF {r['rcvbuf'] / 1048576:.0f} MiB"),
        ("… daemon CPU", f"{r['cpu'] / r['elapsed'] * 100:.0f} % of one core",
         f"utime + stime over the window ({r['cpu']:.2f} s)"),
    ]
    lt = rep["latency"]
    rows += [
        (f"Write → notification at the peer ({lt['n']:,} writes)",
         f"p50 {us(pct(lt['notif'], 50))} / p99 {us(pct(lt['notif'], 99))} / max {us(lt['notif'][-1])} µs",
         f"the notification arrived before the Write's 2.04 in {lt['order']['notification first']:,} of "
         f"{lt['n']:,}"),
        ("Write → 2.04 at the peer (same writes)",
         f"p50 {us(pct(lt['ack'], 50))} / p99 {us(pct(lt['ack'], 99))} / max {us(lt['ack'][-1])} µs", ""),
    ]
    q = rep["queue"]
    readings = q["records"] * q["per_record"]
    rows += [
        (f"Disk queue: Sends queued ({q['records']:,} records of {q['per_record']} readings)",
         f"{q['records'] / q['t_queue']:,.0f} records/s = {readings / q['t_queue']:,.0f} readings/s",
         f"{q['t_queue']:.2f} s; per control-socket request p50 {us(pct(q['lat'], 50))} / "
         f"p99 {us(pct(q['lat'], 99))} µs (each one file written, fsync'd and renamed)"),
        ("Disk queue: drained after the registration",
         f"{q['records'] / q['t_drain']:,.0f} records/s = {readings / q['t_drain']:,.0f} readings/s",
         f"{q['t_drain']:.2f} s from the peer's 2.01 to the last POST /dp at the peer; first after "
         f"{q['first_dp'] * 1000:.1f} ms; {q['left']} file(s) left after"),
        ("Disk queue: size per queued reading",
         f"{q['content'] / readings:.1f} bytes of content, {q['alloc'] / readings:.0f} bytes allocated",
         f"{q['file_size']} bytes per record file (28-byte header + SenML CBOR); "
         f"{q['alloc'] / q['records']:,.0f} bytes of disk blocks per file"),
    ]
    tab = ["| Read | Format | Readings | Payload bytes | CoAP bytes (datagrams) | Payload / reading | "
           "CoAP bytes / reading |", "|---|---|---|---|---|---|---|"]
    for (label, name), v in rep["bytes"].items():
        tab.append(f"| {label} | {name} | {v['values']} | {v['payload']:,} | {v['wire']:,} ({v['datagrams']}) | "
                   f"{v['payload'] / v['values']:.1f} | {v['wire'] / v['values']:.1f} |")
    return rows, "\n".join(tab)


def firmware_rows(fw: dict) -> list:
    def tput(r):
        lo, hi = min(r["mbps"]), max(r["mbps"])
        return f"{r['size'] / r['secs'] / 1e6:,.1f} MB/s ({lo:,.1f}..{hi:,.1f} over {r['runs']} runs)"

    rows = []
    for r in fw["http"]:
        rows.append((f"Pull over HTTP (nginx, loopback), {r['size'] / firmware.MB:g} MB", tput(r),
                     f"median run: {r['secs'] * 1000:,.1f} ms, daemon CPU {r['cpu']:.2f} s; VmRSS {r['rss0']:,} kB "
                     f"before, at most {r['rss_max']:,} kB in {r['samples']:,} samples; VmHWM after, largest of "
                     f"the runs: {r['hwm_max']:,} kB"))
    for r in fw["coap"]:
        rows.append((f"Pull over CoAP, Block2 {r['block']}, {r['size'] / firmware.MB:g} MB", tput(r),
                     f"median run: {r['secs']:.2f} s, {r['requests']:,} block requests; per block: file server "
                     f"{us(r['serve_us'])} µs, its answer's departure → the next request's arrival "
                     f"{us(r['client_us'])} µs (medians); daemon CPU {r['cpu']:.2f} s; "
                     f"VmHWM {r['hwm0']:,} → {r['hwm']:,} kB"))
    for r in fw["push"]:
        rows.append((f"Push (Write /5/0/0, Block1 {r['block']}), {r['size'] / firmware.MB:g} MB", tput(r),
                     f"median run: {r['secs']:.2f} s, {r['blocks']:,} blocks; block sent → 2.31 back median "
                     f"{us(r['turn_p50'])} µs; daemon CPU {r['cpu']:.2f} s; VmHWM after {r['hwm']:,} kB"))
    ins = fw["install"]
    if ins:
        secs = sorted(x["secs"] for x in ins)
        rows.append((f"Execute Update → install done (swupdate sandbox, {len(ins)} runs)",
                     f"median {statistics.median(secs) * 1000:,.0f} ms",
                     "each: " + ", ".join(
                         f"{x['secs'] * 1000:,.0f} ms ({x['swu'] / firmware.MB:.1f} MB .swu; payload in place "
                         f"after {x['payload'] * 1000:,.0f} ms"
                         + (f", State 3 notified after {x['updating'] * 1000:,.0f} ms)" if x["updating"] is not None
                            else ")") for x in ins)))
    return rows


def table(rows: list) -> str:
    return "| Figure | Value | Detail |\n|---|---|---|\n" + "\n".join(f"| {a} | {v} | {d} |" for a, v, d in rows)


SECTIONS = ("core", "sensors", "reporting", "firmware")


def methods(args, sections) -> str:
    out = []
    if "core" in sections:
        out.append(f"""### Core

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
   (a few µs).  Percentiles are nearest-rank.""")
    if "sensors" in sections:
        out.append(f"""### Sensors (issue 4)

6. **Sensors**: daemons with 0, 10, 100 and 1000 `[sensor.NAME]` sections
   (3303 instances fed by the `sim` driver's random walk, period 10 s); RSS
   as in item 2.  With 100 sensors, which share one 10 s sampling timer, the
   CPU time (`utime + stime` in `/proc/PID/stat`) and voluntary context
   switches over a {args.sensor_window:.0f} s window, scaled to per minute.  The edge-to-
   notification latency of GPIO inputs is measured in the VM (tests/hwsim).""")
    if "reporting" in sections:
        out.append(f"""### Information reporting (issue 3)

7. **Notification rate**: {reporting.NOTIFY_SENSORS:,} `sim` sensors (3303, random walk)
   sampled every {reporting.NOTIFY_PERIOD:g} s, the shortest period the config takes; a random
   walk, so nearly every sample is a new value.  The daemon held at most 64 observations
   when this was measured (now `[server] max_observations`), so the peer observes the {reporting.NOTIFY_SENSORS:,} Sensor
   Values (5700) with Observe-Composite: FETCH with Observe 0 and a SenML CBOR
   list of {reporting.PATHS_PER_OBS} paths (`OBS_MAX_PATHS`) per observation, answered in SenML
   CBOR; default pmin 0, no other attributes.  One second after the last
   observation started, the bench reads the peer's socket itself (its receive
   thread paused) and counts the notifications whose kernel receive time
   stamp (`SO_TIMESTAMPNS`) falls in a {args.notify_window:.0f} s window, reading on past the
   window's end until the backlog is in: a reader that falls behind does not
   shrink the count.  The socket asks for a 16 MiB receive buffer
   (`SO_RCVBUFFORCE`); datagrams the kernel still dropped show in
   `RcvbufErrors` of `/proc/net/snmp` (counted for the whole machine).
   The daemon's CPU time over the same window is from `/proc/PID/stat`.
8. **Change → notification latency**: a `sim` Digital Output (3201, no
   hardware) whose state (5550) the peer observes (text/plain, pmin 0).  The
   peer writes it {args.notify_writes:,} times, alternately 1 and 0 (confirmable PUT,
   text/plain), from its own socket with its receive thread paused; each write
   is timed from `sendto` of the PUT to `recv` of the notification carrying
   the new value, and to `recv` of the 2.04.  The value change is the Write,
   so the figure includes the Write's decoding and handling, and both ends'
   loopback and Python overhead.
9. **Bytes per reading**: a daemon registered as LwM2M 1.2 (`lwm2m_version =
   1.2`, needed for LwM2M CBOR) with {reporting.BYTES_SENSORS} `sim` sensors.  The peer reads one
   instance (GET /3303/0), the whole object (GET /3303, block-wise: the peer
   asks for each next Block2 by number, as a server does) and, for the two
   formats that have a composite form, 16 Sensor Values by Read-Composite
   (FETCH /).  Readings are the resource values in the decoded payload (a
   resource instance counts once).  Payload bytes are the body; CoAP bytes
   add every response datagram's header, token and options (the UDP payload;
   IP and UDP headers, 28 bytes per datagram on IPv4, are not counted).
10. **Disk queue**: a daemon with {reporting.QUEUE_SENSORS} `sim` sensors whose server (the peer)
   does not answer, so it is not registered and every Send is queued; `[state]
   queue_max` is above the records sent, so none is dropped.  Queued: the
   bench makes {args.queue_records:,} requests `send` of the {reporting.QUEUE_SENSORS} Sensor Values on the
   control socket one after the other, as `lwm2mctl send` does (connect,
   one line, read the answer "queued" to the end), timed from the first
   connect to the last answer; each request reads the values, encodes
   SenML CBOR and writes one file (temporary file, fsync, rename, fsync of
   the folder) before it answers.  Size: the files in `<state>/queue`
   (content, and `st_blocks` allocated).  Drained: the peer starts answering;
   the Register's next retransmission gets its 2.01 and the queue goes out as
   POST /dp, one in flight at a time, each answered 2.04 by the peer; timed
   from the peer taking the Register (it answers 2.01 at once) to the last
   POST /dp arriving.""")
    if "firmware" in sections:
        out.append(f"""### Firmware Update (issue 5)

The servers are the firmware tests' own (`tests/integration/fwfix.py`): nginx
on loopback (`tests/fw/nginx.conf.in`, the unthrottled path), the CoAP file
server (Python, on the raw CoAP endpoint: Block2 of the client's size, ETag,
Size2), Debian's swupdate as a sandboxed daemon with a CMS-signed `.swu` made
by `tests/fw/make_swu.sh`.  Images are random bytes.  Each download uses a
fresh daemon (`install_command = true`, images in its state folder) that the
peer observes on 5/0/3 (State).  Each pull and push runs {args.fw_runs} times; the
tables give the run with the median time and the range of all runs.

11. **Pull**: the peer writes the Package URI (5/0/1); timed from the Write
   leaving the peer to the peer receiving the notification of State 2
   (Downloaded), which the daemon sends once the image is on disk and its
   SHA-256 computed.  HTTP: {', '.join(f'{s // firmware.MB} MB' for s in firmware.RSS_SIZES)}.  CoAP:
   {firmware.COAP_SIZE // firmware.MB} MB with `[firmware] coap_block_size` {' and '.join(map(str, firmware.BLOCK_SIZES))}; every block is one
   request → response round trip with the Python file server, whose own log
   gives the split: the server's time per block (request in → response
   out) and the rest (response out → next request in: loopback, the
   daemon, the server's receive path).
12. **RSS during downloads**: during each pull of item 11 the bench reads
   `VmRSS` from `/proc/PID/status` about every millisecond; reported: the
   value before the Write, the largest sample, and `VmHWM` (the kernel's own
   peak) after State 2.
13. **Push**: the peer writes the Package (5/0/0, opaque, confirmable PUT)
   block-wise with Block1 of 512 and 1024 bytes ({firmware.PUSH_SIZE // firmware.MB} MB), each block sent
   once the previous one's 2.31 Continue arrived, from its own socket (its
   receive thread paused); timed from the first block's `sendto` to the
   final 2.04's `recv`.
14. **Install**: a `.swu` of a {firmware.INSTALL_PAYLOAD // firmware.MB} MB payload pulled over HTTP to State 2 (which
   includes swupdate's dry run), then the peer executes Update (5/0/2);
   timed from the Execute leaving the peer to the reboot hook's file
   appearing (the daemon runs the hook once swupdate's progress socket
   reported SUCCESS), polled every millisecond; {args.installs} runs, each with a fresh
   swupdate sandbox and daemon.""")
    return "\n\n".join(out)


def report(cmd: str, m: dict, b: dict, res: dict, args, sections, elapsed: float) -> str:
    notes = []
    out = f"""# lwm2md benchmark results

Generated by `tests/bench/bench.py` (run it with `make bench`); the whole file
is rewritten on every run.  These are figures, not pass/fail limits.  This
run took {elapsed:.0f} s ({', '.join(f'{s} {res["secs"][s]:.0f} s' for s in sections)}).  The machine
has 2 cores shared with other work (builds and tests of other branches run
meanwhile), so the load average is given at the start of each section:
latency tails and throughput move with it.

## Methods

{methods(args, sections)}

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
"""
    load = res["load"]
    if "core" in sections:
        st, run_ = res["core"]
        out += f"\n### Core\n\nLoad average at the start: {load['core']}\n\n" + table(core_rows(b, st, run_, args)) + "\n"
        out += "\nLibraries `ldd` lists: " + ", ".join(Path(x).name for x in b["libs"]) + ".\n"
        s = run_["strace"]
        out += "\nstrace's summary of the idle window:\n\n```\n" + (s["table"] or "(no syscalls)") + "\n```\n"
        if any(e != 0 for e in st["exits"] + [run_["exit"]]):
            notes.append(f"- exit codes after SIGTERM were {st['exits'] + [run_['exit']]} (expected 0)")
        if run_["idle_requests"]:
            notes.append("- the daemon sent requests during the idle windows: " + "; ".join(run_["idle_requests"]))
        if run_["log"]:
            notes.append("- the daemon logged (level warning) during the main run:\n\n```\n" + run_["log"] + "\n```")
    if "sensors" in sections:
        out += f"\n### Sensors (issue 4)\n\nLoad average at the start: {load['sensors']}\n\n" + \
            table(sensor_rows(res["sensors"])) + "\n"
    if "reporting" in sections:
        rows, tab = reporting_rows(res["reporting"])
        out += f"\n### Information reporting (issue 3)\n\nLoad average at the start: {load['reporting']}\n\n" + \
            table(rows) + "\n\nBytes on the wire per reading (item 9):\n\n" + tab + "\n"
    if "firmware" in sections:
        out += f"\n### Firmware Update (issue 5)\n\nLoad average at the start: {load['firmware']}\n\n" + \
            table(firmware_rows(res["firmware"])) + "\n"
    if notes:
        out += "\nNotes from this run:\n\n" + "\n".join(notes) + "\n"
    return out


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="build/lwm2md", help="the daemon (default build/lwm2md)")
    ap.add_argument("--out", help="write the results here (Markdown), e.g. tests/bench/RESULTS.md")
    ap.add_argument("--only", help="comma-separated sections to run: " + ", ".join(SECTIONS) +
                    " (default: all)")
    ap.add_argument("--reads", type=int, default=1000, help="reads per path (default 1000)")
    ap.add_argument("--starts", type=int, default=5, help="cold starts (default 5)")
    ap.add_argument("--idle", type=float, default=60.0, help="strace window in s (default 60)")
    ap.add_argument("--ctxt-idle", type=float, default=30.0,
                    help="untraced context-switch window in s (default 30)")
    ap.add_argument("--sensor-window", type=float, default=60.0,
                    help="window for CPU time and wakeups with 100 sensors, in s (default 60)")
    ap.add_argument("--notify-window", type=float, default=10.0,
                    help="window for counting notifications, in s (default 10)")
    ap.add_argument("--notify-writes", type=int, default=1000,
                    help="writes for the change → notification latency (default 1000)")
    ap.add_argument("--queue-records", type=int, default=2000,
                    help="Send records queued and drained (default 2000)")
    ap.add_argument("--installs", type=int, default=3, help="firmware installs timed (default 3)")
    ap.add_argument("--fw-runs", type=int, default=3, help="runs of each firmware pull and push (default 3)")
    args = ap.parse_args()
    sections = SECTIONS
    if args.only:
        sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
        bad = [s for s in sections if s not in SECTIONS]
        if bad or not sections:
            ap.error(f"--only: unknown section(s) {', '.join(bad) or '(none)'}; choose from {', '.join(SECTIONS)}")
        sections = tuple(s for s in SECTIONS if s in sections)

    cmd = shlex.join(["python3", os.path.relpath(sys.argv[0], REPO) if Path(sys.argv[0]).is_absolute()
                      else sys.argv[0], *sys.argv[1:]])
    binary = Path(args.bin)
    if not binary.is_absolute():
        binary = Path.cwd() / binary
    if not binary.is_file() or not os.access(binary, os.X_OK):
        print(f"bench: FAILED: {binary} is not an executable (run `make` first)", file=sys.stderr)
        return 1

    t_start = time.monotonic()
    load_start = loadavg()              # other work on the machine shows in the latency tails
    res = {"load": {}, "secs": {}}
    try:
        with tempfile.TemporaryDirectory(prefix="lwm2md-bench-") as tmpd:
            tmp = Path(tmpd)
            print(f"bench: binary {binary}", flush=True)
            b = measure_binary(binary, tmp)
            for sec in sections:
                res["load"][sec] = loadavg()
                t0 = time.monotonic()
                print(f"bench: [{sec}] load average {res['load'][sec]}", flush=True)
                if sec == "core":
                    print(f"bench: {args.starts} cold starts", flush=True)
                    st = measure_starts(binary, tmp, args.starts)
                    print(f"bench: reads, then idle windows ({args.ctxt_idle:.0f} s untraced + "
                          f"{args.idle:.0f} s strace)", flush=True)
                    res["core"] = (st, measure_running(binary, tmp, args.reads, args.idle, args.ctxt_idle))
                elif sec == "sensors":
                    print(f"bench: sensors (RSS with {', '.join(map(str, SENSOR_COUNTS))}; "
                          f"{args.sensor_window:.0f} s with 100)", flush=True)
                    res["sensors"] = measure_sensors(binary, tmp, args.sensor_window)
                elif sec == "reporting":
                    rep = {}
                    print(f"bench: notifications from {reporting.NOTIFY_SENSORS} observed sensors "
                          f"({args.notify_window:.0f} s)", flush=True)
                    rep["rate"] = reporting.measure_notify_rate(binary, tmp, args.notify_window)
                    print(f"bench: write → notification latency ({args.notify_writes} writes)", flush=True)
                    rep["latency"] = reporting.measure_notify_latency(binary, tmp, args.notify_writes)
                    print("bench: bytes per reading (TLV, SenML CBOR, LwM2M CBOR)", flush=True)
                    rep["bytes"] = reporting.measure_bytes(binary, tmp)
                    print(f"bench: disk queue ({args.queue_records} Sends)", flush=True)
                    rep["queue"] = reporting.measure_queue(binary, tmp, args.queue_records)
                    res["reporting"] = rep
                elif sec == "firmware":
                    print("bench: firmware pulls (HTTP, CoAP), pushes, installs", flush=True)
                    res["firmware"] = firmware.measure_firmware(binary, tmp, args.installs, args.fw_runs)
                res["secs"][sec] = time.monotonic() - t0
    except BenchError as e:
        print(f"\nbench: FAILED: a measurement could not be made:\n{e}", file=sys.stderr)
        return 1

    m = machine()
    m["load"] = f"{load_start} at the start, {loadavg()} at the end"
    elapsed = time.monotonic() - t_start
    text = report(cmd, m, b, res, args, sections, elapsed)
    print()
    print(text[text.index("## Figures"):])
    print(f"bench: done in {elapsed:.0f} s")
    if args.out:
        Path(args.out).write_text(text)
        print(f"bench: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
