"""Information reporting figures (issue 3): notification rate with 1 000
observed sensor values, write-to-notification latency, bytes on the wire per
reading by content format, and the disk queue's throughput and size.

Each function starts its own daemon against its own raw peer and returns a
dict that report() in bench.py turns into rows; what is timed from where to
where is written in METHOD below, which bench.py copies into RESULTS.md."""

from __future__ import annotations

import os
import socket
import statistics
import struct
import time
from pathlib import Path

from common import BenchError, Daemon, PausedReceiver, cpu_seconds, ctl, rp, sim_sensors

NOTIFY_SENSORS = 1000
NOTIFY_PERIOD = 0.1          # s: the sim driver's shortest period
PATHS_PER_OBS = 16           # OBS_MAX_PATHS in agent/observe.h
BYTES_SENSORS = 100
QUEUE_SENSORS = 10
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
QUEUE_HEADER = 28            # struct hdr in agent/send.c, before the SenML CBOR payload


def udp_counters() -> dict:
    """The kernel's Udp: line of /proc/net/snmp (InDatagrams, RcvbufErrors, ...)."""
    with open("/proc/net/snmp") as f:
        rows = [ln.split()[1:] for ln in f if ln.startswith("Udp:")]
    return dict(zip(rows[0], map(int, rows[1])))


def count_window(peer: rp.RawPeer, d: Daemon, window: float) -> tuple:
    """Reads the peer's socket itself (its receive thread paused) for `window`
    seconds plus the backlog: returns the datagrams whose kernel receive time
    (SO_TIMESTAMPNS) falls inside the window, as (time, bytes), with the UDP
    counters and the daemon's CPU time at both ends and the window's bounds.
    The kernel's time stamp, not the moment Python gets to a datagram, decides:
    a reader that falls behind does not shrink the count."""
    sock = peer.sock
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.settimeout(0.5)
    got = []
    u0, c0, t0 = udp_counters(), cpu_seconds(d.pid), time.time()
    t1 = u1 = c1 = None
    while True:
        now = time.time()
        if t1 is None and now >= t0 + window:
            u1, c1, t1 = udp_counters(), cpu_seconds(d.pid), now
        try:
            raw, anc, _, _ = sock.recvmsg(65535, socket.CMSG_SPACE(16))
        except (TimeoutError, socket.timeout):
            if t1 is not None:
                break                                        # the backlog is read
            continue
        ts = None
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", data[:16])
                ts = sec + nsec / 1e9
        if ts is None:
            raise BenchError("no SO_TIMESTAMPNS on a received datagram")
        if t1 is not None and ts >= t1 and time.time() > t1 + 1.0:
            break                                            # reading past the window
        if len(raw) >= 4 and (raw[0] >> 4) & 3 == rp.CON:    # acknowledge a CON
            sock.sendto(rp.Msg(type=rp.ACK, code=rp.EMPTY, mid=int.from_bytes(raw[2:4], "big")).encode(),
                        peer.peer)
        got.append((ts, raw))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 0)
    return [(t, raw) for t, raw in got if t0 <= t < t1], u0, u1, c0, c1, t0, t1


def measure_notify_rate(binary: Path, tmp: Path, window: float) -> dict:
    """1000 sim sensors sampled every 0.1 s (each sample a new random-walk
    value); their Sensor Values observed from the peer as Observe-Composite
    (FETCH, SenML CBOR) of 16 paths each; notifications counted at the peer
    over `window` seconds."""
    peer = rp.RawPeer(name="bench-notify")
    # room for bursts: a tick's notifications arrive faster than Python reads them
    try:
        peer.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 16 << 20)
    except PermissionError:                                  # not root: up to net.core.rmem_max
        peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    rcvbuf = peer.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    d = Daemon(binary, tmp / "notify", peer, f"bench-notify-{os.getpid()}", lifetime=3600,
               extra=sim_sensors(NOTIFY_SENSORS, NOTIFY_PERIOD))
    tokens = set()
    try:
        d.start()
        # the Register's link list passes one block; the peer answers its
        # first block 2.01, which the daemon takes as the registration
        d.wait_registered()
        for g in range(0, NOTIFY_SENSORS, PATHS_PER_OBS):
            paths = [f"/3303/{i}/5700" for i in range(g, min(NOTIFY_SENSORS, g + PATHS_PER_OBS))]
            tok = os.urandom(8)
            r = peer.request(rp.FETCH, "/", rp.cbor_encode([{0: p} for p in paths]), cf=rp.CF_SENML_CBOR,
                             accept=rp.CF_SENML_CBOR, options=[(rp.OBSERVE, b"")], token=tok, timeout=5)
            if r.code != rp.CONTENT or r.opt(rp.OBSERVE) is None:
                raise BenchError(f"Observe-Composite of {paths[0]}..{paths[-1]} refused: {r}\n{d.log()}")
            tokens.add(tok)
        time.sleep(1.0)                                     # past the first burst
        with PausedReceiver(peer):
            got, u0, u1, c0, c1, t0, t1 = count_window(peer, d, window)
        d.assert_alive("during the notification window")
        got = [(t, raw) for t, raw in got if raw[4:12] in tokens]
        if not got:
            raise BenchError(f"no notification in {window} s\n{d.log()}")
        msgs = [rp.decode(raw) for _, raw in got]
        per_obs = {}
        for m in msgs:
            per_obs[m.token] = per_obs.get(m.token, 0) + 1
        sizes = [len(raw) for _, raw in got]
        values = [len(rp.cbor_decode(m.payload)) for m in msgs[:200]]
        d.stop()
        return {"n": len(got), "elapsed": t1 - t0, "obs": len(tokens), "cpu": c1 - c0,
                "types": sorted({rp.TYPE_NAMES[m.type] for m in msgs}),
                "bytes": sum(sizes), "size_p50": statistics.median(sizes),
                "values_p50": statistics.median(values),
                "per_obs_min": min(per_obs.values()), "per_obs_max": max(per_obs.values()),
                "rcvbuf_errors": u1["RcvbufErrors"] - u0["RcvbufErrors"],
                "ticks": (t1 - t0) / NOTIFY_PERIOD, "rcvbuf": rcvbuf}
    finally:
        d.kill()
        peer.close()


def measure_notify_latency(binary: Path, tmp: Path, n: int) -> dict:
    """A sim Digital Output (3201) whose state 5550 is observed; the peer
    writes it n times (alternating 1 and 0), each time timing from its
    sendto() to the 2.04 and to the notification (both read from the same
    socket, the peer's receive thread paused)."""
    peer = rp.RawPeer(name="bench-latency")
    d = Daemon(binary, tmp / "latency", peer, f"bench-latency-{os.getpid()}", lifetime=3600,
               extra="\n[sensor.relay]\nobject = 3201\ndriver = sim\n")
    try:
        d.start()
        d.wait_registered()
        obs_tok = os.urandom(8)
        r = peer.request(rp.GET, "/3201/0/5550", accept=rp.CF_TEXT, options=[(rp.OBSERVE, b"")],
                         token=obs_tok, timeout=5)
        if r.code != rp.CONTENT or r.opt(rp.OBSERVE) is None:
            raise BenchError(f"Observe /3201/0/5550 refused: {r}\n{d.log()}")
        state = r.payload.strip() in (b"1", b"true")
        ack, notif, order = [], [], {"ack first": 0, "notification first": 0}
        with PausedReceiver(peer):
            sock = peer.sock
            for _ in range(n):
                state = not state
                msg = rp.Msg(type=rp.CON, code=rp.PUT, mid=peer.next_mid(), token=os.urandom(4))
                msg.set_path("/3201/0/5550").add(rp.CONTENT_FORMAT, rp.CF_TEXT)
                msg.payload = b"1" if state else b"0"
                data = msg.encode()
                t0 = time.perf_counter_ns()
                sock.sendto(data, peer.peer)
                t_ack = t_not = None
                while t_ack is None or t_not is None:
                    try:
                        raw = sock.recv(65535)
                    except (TimeoutError, socket.timeout):
                        raise BenchError(f"no 2.04 or no notification within 2 s of writing "
                                         f"{msg.payload!r}\n{d.log()}") from None
                    t = time.perf_counter_ns()
                    m = rp.decode(raw)
                    if m.type == rp.CON:
                        sock.sendto(rp.Msg(type=rp.ACK, code=rp.EMPTY, mid=m.mid).encode(), peer.peer)
                    if m.token == msg.token and m.is_response:
                        if m.code != rp.CHANGED:
                            raise BenchError(f"Write of /3201/0/5550 answered {rp.code_str(m.code)}")
                        t_ack = t
                        if t_not is None:
                            order["ack first"] += 1
                    elif m.token == obs_tok and m.is_response:
                        if m.payload.strip() not in ((b"1", b"true") if state else (b"0", b"false")):
                            continue                        # a late one for the value before
                        t_not = t
                        if t_ack is None:
                            order["notification first"] += 1
                ack.append((t_ack - t0) / 1000)
                notif.append((t_not - t0) / 1000)
        d.assert_alive("after the writes")
        d.stop()
        ack.sort()
        notif.sort()
        return {"n": n, "ack": ack, "notif": notif, "order": order}
    finally:
        d.kill()
        peer.close()


def count_values(fmt: int, payload: bytes) -> int:
    """Readings in a payload: resource (instance) values, not the containers."""
    if fmt == rp.CF_TLV:
        def walk(entries):
            return sum(walk(v) if k in (rp.TLV_INSTANCE, rp.TLV_MULTI_RES) else 1 for k, _, v in entries)
        return walk(rp.tlv_decode(payload))
    if fmt == rp.CF_SENML_CBOR:
        return sum(1 for rec in rp.cbor_decode(payload) if any(k in rec for k in (2, 3, 4, 8, "vlo")))
    if fmt == rp.CF_LWM2M_CBOR:
        n, end = lwm2m_cbor_leaves(payload, 0)
        if end != len(payload):
            raise BenchError(f"{len(payload) - end} bytes after the LwM2M CBOR item")
        return n
    raise ValueError(fmt)


def lwm2m_cbor_leaves(d: bytes, i: int) -> tuple:
    """(values, end) of the CBOR item at d[i]: LwM2M CBOR nests maps keyed by
    path components (integers, or arrays of them), so rawpeer's decoder, which
    builds Python dicts, cannot take its array keys.  A value that is not a
    map counts as one reading."""
    major, ai = d[i] >> 5, d[i] & 31
    i += 1
    if ai < 24:
        n = ai
    elif ai <= 27:
        size = 1 << (ai - 24)
        n = int.from_bytes(d[i:i + size], "big")
        i += size
    else:
        raise BenchError(f"indefinite or reserved CBOR length at byte {i - 1}")
    if major == 5:
        total = 0
        for _ in range(n):
            _, i = lwm2m_cbor_leaves(d, i)                  # the key
            vals, i = lwm2m_cbor_leaves(d, i)
            total += vals
        return total, i
    if major == 4:
        for _ in range(n):
            _, i = lwm2m_cbor_leaves(d, i)
        return 1, i
    if major in (2, 3):
        return 1, i + n
    if major == 6:
        return lwm2m_cbor_leaves(d, i)
    if major == 7 and ai >= 25:
        return 1, i                                          # the float's bytes were the "length"
    return 1, i


def blockwise(peer: rp.RawPeer, method: int, path: str, accept: int, body: bytes = b"", cf=None) -> tuple:
    """A request answered with Block2 as the server would fetch it: block 0,
    then each next block by number.  Returns (payload, [datagram sizes of
    the requests], [datagram sizes of the responses])."""
    payload, req_sizes, resp_sizes, num = b"", [], [], 0
    while True:
        msg = rp.Msg(type=rp.CON, code=method, mid=peer.next_mid(), token=os.urandom(4))
        msg.set_path(path).add(rp.ACCEPT, accept)
        if cf is not None:
            msg.add(rp.CONTENT_FORMAT, cf)
        if num:
            msg.add(rp.BLOCK2, rp.uint_opt(num << 4 | 6))
        msg.payload = body
        req_sizes.append(len(msg.encode()))
        r = peer.exchange(msg, timeout=5)
        if r.code != rp.CONTENT:
            raise BenchError(f"{rp.code_str(method)} {path} Accept {accept}: {r}")
        resp_sizes.append(len(r.encode()))
        payload += r.payload
        b2 = r.opt(rp.BLOCK2)
        if b2 is None or not rp.opt_uint(b2) & 8:
            return payload, req_sizes, resp_sizes
        num += 1


FORMATS = ((rp.CF_TLV, "TLV"), (rp.CF_SENML_CBOR, "SenML CBOR"), (rp.CF_LWM2M_CBOR, "LwM2M CBOR"))


def measure_bytes(binary: Path, tmp: Path) -> dict:
    """100 sim sensors on a daemon registered as LwM2M 1.2; reads of one
    instance, of the whole object and (composite formats) a Read-Composite
    of 16 Sensor Values, in each format."""
    peer = rp.RawPeer(name="bench-bytes")
    d = Daemon(binary, tmp / "bytes", peer, f"bench-bytes-{os.getpid()}", lifetime=3600,
               server="lwm2m_version = 1.2\n", extra=sim_sensors(BYTES_SENSORS, 10))
    out = {}
    try:
        d.start()
        reg = d.wait_registered()
        if reg.queries.get("lwm2m") != "1.2":
            raise BenchError(f"the daemon registered as {reg.queries.get('lwm2m')}, not 1.2")
        time.sleep(0.5)
        sv16 = rp.cbor_encode([{0: f"/3303/{i}/5700"} for i in range(16)])
        cases = [("/3303/0", "one instance (GET /3303/0)", rp.GET, b""),
                 ("/3303", f"{BYTES_SENSORS} instances (GET /3303)", rp.GET, b""),
                 ("/", "16 Sensor Values (FETCH /, Read-Composite)", rp.FETCH, sv16)]
        for path, label, method, body in cases:
            for fmt, name in FORMATS:
                if method == rp.FETCH and fmt == rp.CF_TLV:
                    continue                                 # TLV has no composite form
                payload, req, resp = blockwise(peer, method, path, fmt, body,
                                               cf=rp.CF_SENML_CBOR if body else None)
                vals = count_values(fmt, payload)
                out[(label, name)] = {"values": vals, "payload": len(payload), "wire": sum(resp),
                                      "datagrams": len(resp), "requests": sum(req)}
        d.stop()
        return out
    finally:
        d.kill()
        peer.close()


class DpPeer(rp.RawPeer):
    """A raw peer that also accepts Send (POST /dp: 2.04) and notes when each
    arrived."""

    def __init__(self, name):
        self.dp = []                     # time.time() of each POST /dp
        super().__init__(name=name)

    def _handle(self, msg, addr):
        if msg.code == rp.POST and msg.uri_path == "/dp" and not self.silent:
            with self._cond:
                self.requests.append((time.time(), msg, addr))
                self.dp.append(time.time())
                self._cond.notify_all()
            return rp.Msg(code=rp.CHANGED)
        return super()._handle(msg, addr)


def disk_usage(folder: Path) -> tuple:
    """(files, bytes of content, bytes allocated on disk) of a folder's files."""
    files = [p for p in folder.iterdir() if p.is_file()]
    return (len(files), sum(p.stat().st_size for p in files),
            sum(p.stat().st_blocks * 512 for p in files))


def measure_queue(binary: Path, tmp: Path, records: int) -> dict:
    """Send records queued while the daemon is not registered (the peer
    silent), then drained once the peer answers its Register."""
    peer = DpPeer(name="bench-queue")
    peer.silent = True
    paths = " ".join(f"/3303/{i}/5700" for i in range(QUEUE_SENSORS))
    d = Daemon(binary, tmp / "queue", peer, f"bench-queue-{os.getpid()}", lifetime=3600,
               extra=sim_sensors(QUEUE_SENSORS, 10) + f"\n[state]\nqueue_max = {records * 2}\n")
    qdir = d.workdir / "state" / "queue"
    sock = d.workdir / "ctl.sock"
    try:
        d.start()
        deadline = time.monotonic() + 10
        while not sock.exists():
            d.assert_alive("before its control socket appeared")
            if time.monotonic() > deadline:
                raise BenchError(f"no control socket {sock}\n{d.log()}")
            time.sleep(0.02)
        lat = []
        t0 = time.perf_counter()
        for _ in range(records):
            a = time.perf_counter()
            ans = ctl(sock, f"send {paths}")
            lat.append((time.perf_counter() - a) * 1e6)
            if ans != "ok\nqueued\n":
                raise BenchError(f"send on the control socket answered {ans!r}\n{d.log()}")
        t_queue = time.perf_counter() - t0
        files, content, alloc = disk_usage(qdir)
        if files != records:
            raise BenchError(f"{files} files in {qdir} after {records} queued Sends")
        sample = next(p for p in qdir.iterdir() if p.is_file()).read_bytes()
        per_record = count_values(rp.CF_SENML_CBOR, sample[QUEUE_HEADER:])
        # the peer comes back: the next retransmission of the Register gets its 2.01
        peer.silent = False
        reg = d.wait_register(timeout=60)
        t_reg = reg.time
        deadline = time.monotonic() + 120
        while len(peer.dp) < records:
            d.assert_alive("while draining")
            if time.monotonic() > deadline:
                raise BenchError(f"{len(peer.dp)} of {records} Sends arrived within 120 s\n{d.log()}")
            time.sleep(0.05)
        t_drain = peer.dp[records - 1] - t_reg
        time.sleep(0.3)
        left = disk_usage(qdir)[0]
        d.stop()
        lat.sort()
        return {"records": records, "per_record": per_record, "t_queue": t_queue, "t_drain": t_drain,
                "content": content, "alloc": alloc, "left": left, "lat": lat,
                "first_dp": peer.dp[0] - t_reg, "file_size": len(sample)}
    finally:
        d.kill()
        peer.close()
