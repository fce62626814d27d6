"""Firmware Update figures (issue 5): pull throughput over loopback (HTTP from
nginx, CoAP Block2 of 512 and 1024 bytes from the firmware tests' CoAP file
server), push throughput (the peer writing the Package with Block1 of 512
and 1024 bytes), the daemon's memory during 1, 10 and 100 MB downloads, and
the time from Execute Update to the end of the install in a swupdate sandbox.

The servers are the firmware tests' own (tests/integration/fwfix.py): nginx
on loopback ports, the CoAP file server (Block2, ETag, Size2), Debian's
swupdate as a sandboxed daemon with a CMS-signed .swu made by
tests/fw/make_swu.sh."""

from __future__ import annotations

import os
import socket
import statistics
import time
from pathlib import Path

from common import BenchError, Daemon, PausedReceiver, cpu_seconds, kb, proc_status, rp

import fwfix  # noqa: E402  (tests/integration, on the path through common)

MB = 1000 * 1000
RSS_SIZES = (1 * MB, 10 * MB, 100 * MB)
COAP_SIZE = 4 * MB
PUSH_SIZE = 4 * MB
BLOCK_SIZES = (512, 1024)
INSTALL_PAYLOAD = 1 * MB
DOWNLOADED, UPDATING = 2, 3


def image(size: int) -> bytes:
    """Incompressible bytes (nothing on the way compresses, but to be sure)."""
    return os.urandom(size)


class Fw:
    """One daemon with the Firmware Update object, observed on 5/0/3 (State)
    by its raw peer."""

    def __init__(self, binary: Path, workdir: Path, name: str, firmware: dict, hooks: str = ""):
        self.peer = rp.RawPeer(name=name)
        fw = "".join(f"{k} = {v}\n" for k, v in firmware.items())
        self.d = Daemon(binary, workdir, self.peer, f"bench-{name}-{os.getpid()}", lifetime=3600,
                        extra=f"\n[firmware]\n{fw}\n[hooks]\ntimeout = 60\n{hooks}")
        self.token = os.urandom(8)

    def start(self):
        self.d.start()
        self.d.wait_registered()
        r = self.peer.request(rp.GET, "/5/0/3", accept=rp.CF_TEXT, options=[(rp.OBSERVE, b"")],
                              token=self.token, timeout=5)
        if r.code != rp.CONTENT or r.opt(rp.OBSERVE) is None or r.payload != b"0":
            raise BenchError(f"Observe /5/0/3: {r}\n{self.d.log()}")
        return self

    def state_at(self, state: int, after: float):
        """time.time() of the first notification of State = state at or after `after`."""
        want = str(state).encode()
        for t, way, _, m in list(self.peer.log):
            if way == "rx" and t >= after and isinstance(m, rp.Msg) and m.token == self.token \
                    and m.is_response and m.payload == want:
                return t
        return None

    def result(self) -> str:
        r = self.peer.get("/5/0/5", accept=rp.CF_TEXT, timeout=5)
        return r.text()

    def write_uri(self, uri: str):
        r = self.peer.put("/5/0/1", uri.encode(), cf=rp.CF_TEXT, timeout=5)
        if r.code != rp.CHANGED:
            raise BenchError(f"Write of the Package URI {uri}: {r}\n{self.d.log()}")

    def wait_state(self, state: int, after: float, timeout: float, sample=None):
        """Waits for the notification of `state`; sample() is called about
        every millisecond meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.state_at(state, after)
            if t is not None:
                return t
            self.d.assert_alive(f"waiting for State {state}")
            if time.monotonic() > deadline:
                raise BenchError(f"no State {state} within {timeout} s (Update Result "
                                 f"{self.result()})\n{self.d.log()}")
            if sample:
                sample()
            time.sleep(0.001)

    def close(self):
        try:
            self.d.stop()
        finally:
            self.d.kill()
            self.peer.close()


def pull(binary: Path, workdir: Path, name: str, uri: str, size: int, firmware: dict) -> dict:
    """Writes the Package URI and times the pull from the Write leaving the
    peer to the notification of State 2 (Downloaded) arriving, sampling the
    daemon's VmRSS meanwhile."""
    fw = Fw(binary, workdir, name, {"install_command": "true", **firmware}).start()
    try:
        pid = fw.d.pid
        s = proc_status(pid)
        rss0, hwm0 = kb(s, "VmRSS"), kb(s, "VmHWM")
        samples = []

        def sample():
            try:
                samples.append(kb(proc_status(pid), "VmRSS"))
            except BenchError:
                pass
        c0 = cpu_seconds(pid)
        t0 = time.time()
        fw.write_uri(uri)
        t1 = fw.wait_state(DOWNLOADED, t0, timeout=300, sample=sample)
        cpu = cpu_seconds(pid) - c0
        s = proc_status(pid)
        img = Path(fw.d.workdir / "state" / "firmware.img")
        if not img.exists() or img.stat().st_size != size:
            raise BenchError(f"{img}: {img.stat().st_size if img.exists() else 'missing'}, expected {size} bytes")
        return {"size": size, "secs": t1 - t0, "cpu": cpu, "rss0": rss0, "hwm0": hwm0,
                "rss_max": max(samples + [kb(s, "VmRSS")]), "hwm": kb(s, "VmHWM"), "samples": len(samples)}
    finally:
        fw.close()


def coap_turnaround(srv: fwfix.CoapFiles) -> tuple:
    """From the file server's own log: median time it took to answer a block
    request, and median time from its answer leaving to the daemon's next
    request arriving (the daemon's share, loopback included)."""
    serve, client = [], []
    last_tx = None
    rx_t = None
    for t, way, _, m in srv.log:
        if not isinstance(m, rp.Msg):
            continue
        if way == "rx" and m.is_request:
            if last_tx is not None:
                client.append(t - last_tx)
            rx_t = t
        elif way == "tx" and m.is_response and rx_t is not None:
            serve.append(t - rx_t)
            last_tx = t
    return statistics.median(serve) * 1e6, statistics.median(client) * 1e6


def push(binary: Path, workdir: Path, name: str, data: bytes, block: int) -> dict:
    """The peer writes /5/0/0 (opaque) block by block with Block1 of `block`
    bytes, each block sent when the previous one's 2.31 arrived; timed from
    the first block's sendto() to the final 2.04's recv(), on the peer's own
    socket (its receive thread paused)."""
    fw = Fw(binary, workdir, name, {"install_command": "true"}).start()
    try:
        pid = fw.d.pid
        szx = block.bit_length() - 5
        n = (len(data) + block - 1) // block
        peer = fw.peer
        turn = []
        c0 = cpu_seconds(pid)
        with PausedReceiver(peer):
            sock = peer.sock
            t0 = time.perf_counter()
            for num in range(n):
                more = num + 1 < n
                msg = rp.Msg(type=rp.CON, code=rp.PUT, mid=peer.next_mid(), token=os.urandom(4))
                msg.set_path("/5/0/0").add(rp.CONTENT_FORMAT, rp.CF_OPAQUE)
                msg.add(rp.BLOCK1, rp.uint_opt(num << 4 | (8 if more else 0) | szx))
                if num == 0:
                    msg.add(rp.SIZE1, len(data))
                msg.payload = data[num * block:(num + 1) * block]
                a = time.perf_counter()
                sock.sendto(msg.encode(), peer.peer)
                while True:
                    try:
                        r = rp.decode(sock.recv(65535))
                    except (TimeoutError, socket.timeout):
                        raise BenchError(f"no answer to Block1 #{num} within 2 s\n{fw.d.log()}") from None
                    if r.type == rp.CON:
                        sock.sendto(rp.Msg(type=rp.ACK, code=rp.EMPTY, mid=r.mid).encode(), peer.peer)
                    if r.is_response and r.token == msg.token:
                        break
                    if r.is_response and r.token == fw.token:
                        peer.log.append((time.time(), "rx", peer.peer, r))     # State notifications
                turn.append(time.perf_counter() - a)
                want = rp.CONTINUE if more else rp.CHANGED
                if r.code != want:
                    raise BenchError(f"Block1 #{num} of {n} answered {rp.code_str(r.code)}, "
                                     f"expected {rp.code_str(want)}\n{fw.d.log()}")
            secs = time.perf_counter() - t0
        cpu = cpu_seconds(pid) - c0
        fw.wait_state(DOWNLOADED, 0, timeout=30)
        hwm = kb(proc_status(pid), "VmHWM")
        img = Path(fw.d.workdir / "state" / "firmware.img")
        if img.read_bytes() != data:
            raise BenchError(f"{img} is not the pushed image")
        turn.sort()
        return {"size": len(data), "block": block, "blocks": n, "secs": secs, "cpu": cpu, "hwm": hwm,
                "turn_p50": statistics.median(turn) * 1e6}
    finally:
        fw.close()


def install(binary: Path, workdir: Path, keys: Path, nginx: fwfix.Nginx, name: str, payload_size: int) -> dict:
    """A signed .swu pulled over HTTP to Downloaded (swupdate's dry run passed),
    then Execute Update: timed from the Execute leaving the peer to the reboot
    hook running (the daemon runs it once swupdate's progress socket said
    SUCCESS); also to the payload appearing in the sandbox and to the State 3
    (Updating) notification."""
    root = workdir / "root"
    root.mkdir(parents=True, exist_ok=True)
    (root / "version").write_text("1.0.0\n")
    flag = workdir / "reboot-requested"
    swu = fwfix.make_swu(workdir / f"{name}.swu", root, image(payload_size), "2.0.0", keys).read_bytes()
    nginx.put(f"{name}.swu", swu)
    sw = fwfix.Swupdate(workdir / "swupdate", keys / "swu.cert.pem").start()
    fw = None
    try:
        fw = Fw(binary, workdir / "d", name, {"swupdate_dir": sw.dir, "version_file": root / "version"},
                hooks=f"reboot = touch {flag}\n").start()
        t = time.time()
        fw.write_uri(nginx.url(f"{name}.swu"))
        fw.wait_state(DOWNLOADED, t, timeout=60)
        payload = root / "payload.bin"
        t0 = time.time()
        r = fw.peer.post("/5/0/2", timeout=5)
        if r.code != rp.CHANGED:
            raise BenchError(f"Execute /5/0/2: {r}\n{fw.d.log()}")
        t_payload = None
        deadline = time.monotonic() + 120
        while not flag.exists():
            if t_payload is None and payload.exists():
                t_payload = time.time()
            if time.monotonic() > deadline:
                raise BenchError(f"no reboot hook within 120 s of Execute Update (Update Result "
                                 f"{fw.result()})\n{fw.d.log()}\nswupdate:\n{sw.log()[-3000:]}")
            fw.d.assert_alive("during the install")
            time.sleep(0.001)
        t1 = time.time()
        if payload.stat().st_size != payload_size:
            raise BenchError(f"{payload}: {payload.stat().st_size} bytes, expected {payload_size}")
        t_upd = fw.state_at(UPDATING, t0)
        return {"swu": len(swu), "secs": t1 - t0, "payload": (t_payload or t1) - t0,
                "updating": (t_upd - t0) if t_upd else None}
    finally:
        if fw:
            fw.close()
        sw.stop()


def median_run(runs: list) -> dict:
    """The run with the median time, with every run's throughput beside it."""
    runs = sorted(runs, key=lambda r: r["secs"])
    r = dict(runs[len(runs) // 2])
    r["runs"] = len(runs)
    r["mbps"] = [x["size"] / x["secs"] / 1e6 for x in runs]
    r["hwm_max"] = max(x["hwm"] for x in runs)
    if "rss_max" in r:
        r["rss_max_all"] = max(x["rss_max"] for x in runs)
    return r


def measure_firmware(binary: Path, tmp: Path, installs: int, reps: int) -> dict:
    """Each pull and push `reps` times (a fresh daemon each time); the run with
    the median time is reported, with the range of all."""
    res = {"http": [], "coap": [], "push": [], "install": []}
    keys = fwfix.make_keys(tmp / "keys")
    nginx = fwfix.Nginx(tmp / "nginx", keys).start()
    coap = fwfix.CoapFiles()
    try:
        for size in RSS_SIZES:
            name = f"http-{size // MB}mb"
            nginx.put(f"{name}.bin", image(size))
            res["http"].append(median_run([pull(binary, tmp / f"{name}-{i}", name, nginx.url(f"{name}.bin"),
                                                size, {}) for i in range(reps)]))
            (nginx.root / f"{name}.bin").unlink()
        coap.files["fw.bin"] = image(COAP_SIZE)
        for block in BLOCK_SIZES:
            runs = []
            for i in range(reps):
                coap.log.clear()
                r = pull(binary, tmp / f"coap-{block}-{i}", f"coap-{block}", f"{coap.base}/fw.bin", COAP_SIZE,
                         {"coap_block_size": block})
                r["block"] = block
                r["requests"] = sum(1 for _, way, _, m in coap.log if way == "rx" and isinstance(m, rp.Msg))
                r["serve_us"], r["client_us"] = coap_turnaround(coap)
                runs.append(r)
            res["coap"].append(median_run(runs))
        data = image(PUSH_SIZE)
        for block in BLOCK_SIZES:
            res["push"].append(median_run([push(binary, tmp / f"push-{block}-{i}", f"push-{block}", data, block)
                                           for i in range(reps)]))
        for i in range(installs):
            res["install"].append(install(binary, tmp / f"install{i}", keys, nginx, f"install{i}", INSTALL_PAYLOAD))
    finally:
        coap.close()
        nginx.stop()
    return res
