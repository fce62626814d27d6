"""What every section of the benchmark shares: the daemon under test, the
raw CoAP peer (tests/integration/rawpeer.py) playing the LwM2M server, /proc
readers and small statistics helpers.  Standard library only, plus rawpeer."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
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


def ctl(path: Path, line: str) -> str:
    """One request on the daemon's control socket, as lwm2mctl makes it:
    connect, write the line, read the answer until the daemon closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(path))
        s.sendall(line.encode() + b"\n")
        out = b""
        while True:
            b = s.recv(4096)
            if not b:
                return out.decode(errors="replace")
            out += b


# --- the daemon ----------------------------------------------------------------

class Daemon:
    """lwm2md with an ini in its own temp dir, talking to one RawPeer."""

    def __init__(self, binary: Path, workdir: Path, peer: rp.RawPeer, endpoint: str, lifetime: int,
                 extra: str = "", server: str = ""):
        self.binary, self.workdir, self.peer, self.endpoint = binary, workdir, peer, endpoint
        state = workdir / "state"
        state.mkdir(parents=True, exist_ok=True)
        self.cfg = workdir / "lwm2md.ini"
        self.cfg.write_text(
            f"[server]\nuri = {peer.uri}\nendpoint = {endpoint}\nlifetime = {lifetime}\n{server}\n"
            f"[state]\ndir = {state}\n\n[control]\nsocket = {workdir / 'ctl.sock'}\n\n"
            f"[log]\nlevel = warning\n{extra}")
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

    def wait_registered(self, timeout: float = 10.0) -> rp.Registration:
        """wait_register(), then until the daemon itself says it is registered
        (its control socket's status): a request the peer sends right after
        its 2.01 may reach the daemon before the 2.01 does, and an
        observation made then ends when the registration completes."""
        reg = self.wait_register(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if "state: registered\n" in ctl(self.workdir / "ctl.sock", "status"):
                    return reg
            except OSError:
                pass
            self.assert_alive("before its registration completed")
            if time.monotonic() > deadline:
                raise BenchError(f"the daemon did not say it is registered within {timeout} s\n{self.log()}")
            time.sleep(0.005)

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

def ctxt_window(pid: int, seconds: float) -> dict:
    s0 = proc_status(pid)
    t0 = time.monotonic()
    time.sleep(seconds)
    s1 = proc_status(pid)
    elapsed = time.monotonic() - t0
    return {"vcs": int(s1["voluntary_ctxt_switches"]) - int(s0["voluntary_ctxt_switches"]),
            "nvcs": int(s1["nonvoluntary_ctxt_switches"]) - int(s0["nonvoluntary_ctxt_switches"]),
            "elapsed": elapsed}


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


def fmt_ms(v: float) -> str:
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"

