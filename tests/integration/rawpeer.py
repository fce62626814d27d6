"""A raw CoAP peer for the integration tests: plain UDP sockets and a small
CoAP (RFC 7252) encoder/decoder, so tests can send exactly the bytes they
want, malformed ones included.

This is a test tool, not project code.  Three layers:

* Msg / encode / decode: one CoAP message <-> bytes.
* CoapEndpoint: a UDP socket on 127.0.0.1 with a receive thread; sends
  requests and matches responses (piggybacked or separate, by token),
  retransmits CON requests, acknowledges CON responses, and hands incoming
  requests to a handler.
* RawPeer: an endpoint that plays a minimal LwM2M server for one client:
  it answers Register (POST /rd) with 2.01 and Location-Path rd/<id>,
  Update (POST /rd/<id>) with 2.04 (or whatever a test asks), Deregister
  (DELETE /rd/<id>) with 2.02, and records every request it gets.

Also: tlv() / tlv_decode() for OMA TLV and cbor_encode() / cbor_decode()
for the CBOR subset SenML CBOR needs.
"""

from __future__ import annotations

import itertools
import os
import queue
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

# --- CoAP constants ---------------------------------------------------------

CON, NON, ACK, RST = 0, 1, 2, 3
TYPE_NAMES = {CON: "CON", NON: "NON", ACK: "ACK", RST: "RST"}

EMPTY = 0
GET, POST, PUT, DELETE, FETCH, PATCH, IPATCH = 1, 2, 3, 4, 5, 6, 7


def code(cls: int, detail: int) -> int:
    """code(2, 5) == 0x45 == 69, i.e. 2.05."""
    return (cls << 5) | detail


CREATED, DELETED, VALID, CHANGED, CONTENT, CONTINUE = (code(2, d) for d in (1, 2, 3, 4, 5, 31))
BAD_REQUEST = code(4, 0)
UNAUTHORIZED = code(4, 1)
BAD_OPTION = code(4, 2)
FORBIDDEN = code(4, 3)
NOT_FOUND = code(4, 4)
METHOD_NOT_ALLOWED = code(4, 5)
NOT_ACCEPTABLE = code(4, 6)
REQUEST_ENTITY_INCOMPLETE = code(4, 8)
PRECONDITION_FAILED = code(4, 12)
REQUEST_ENTITY_TOO_LARGE = code(4, 13)
UNSUPPORTED_CONTENT_FORMAT = code(4, 15)
INTERNAL_SERVER_ERROR = code(5, 0)

# Option numbers
IF_MATCH, URI_HOST, ETAG, IF_NONE_MATCH, OBSERVE = 1, 3, 4, 5, 6
URI_PORT, LOCATION_PATH, URI_PATH, CONTENT_FORMAT = 7, 8, 11, 12
MAX_AGE, URI_QUERY, ACCEPT, LOCATION_QUERY = 14, 15, 17, 20
BLOCK2, BLOCK1, SIZE2, PROXY_URI, SIZE1 = 23, 27, 28, 35, 60

# Content formats used by LwM2M
CF_TEXT, CF_LINK, CF_OPAQUE, CF_JSON, CF_CBOR = 0, 40, 42, 50, 60
CF_SENML_JSON, CF_SENML_CBOR = 110, 112
CF_TLV, CF_OMA_JSON, CF_LWM2M_CBOR = 11542, 11543, 11544


def code_str(c: int) -> str:
    """69 -> '2.05'; 1 -> 'GET'."""
    names = {0: "EMPTY", 1: "GET", 2: "POST", 3: "PUT", 4: "DELETE", 5: "FETCH", 6: "PATCH", 7: "iPATCH"}
    if c in names:
        return names[c]
    return f"{c >> 5}.{c & 31:02d}"


def uint_opt(v: int) -> bytes:
    """CoAP uint option value: minimal big-endian, 0 is empty."""
    if v == 0:
        return b""
    return v.to_bytes((v.bit_length() + 7) // 8, "big")


def opt_uint(b: bytes) -> int:
    return int.from_bytes(b, "big") if b else 0


class CoapError(ValueError):
    """A datagram that is not a well-formed CoAP message."""


# --- Messages ---------------------------------------------------------------

@dataclass
class Msg:
    type: int = CON
    code: int = GET
    mid: int = 0
    token: bytes = b""
    options: list = field(default_factory=list)   # [(number, bytes)], any order
    payload: bytes = b""

    # -- building
    def add(self, number: int, value) -> "Msg":
        if isinstance(value, int):
            value = uint_opt(value)
        elif isinstance(value, str):
            value = value.encode()
        self.options.append((number, bytes(value)))
        return self

    def set_path(self, path: str) -> "Msg":
        for seg in [s for s in path.split("/") if s]:
            self.add(URI_PATH, seg)
        return self

    # -- reading
    def opts(self, number: int) -> list:
        return [v for n, v in sorted(self.options, key=lambda o: o[0]) if n == number]

    def opt(self, number: int):
        v = self.opts(number)
        return v[0] if v else None

    @property
    def uri_path(self) -> str:
        return "/" + "/".join(v.decode(errors="replace") for v in self.opts(URI_PATH))

    @property
    def location_path(self) -> str:
        return "/" + "/".join(v.decode(errors="replace") for v in self.opts(LOCATION_PATH))

    @property
    def queries(self) -> dict:
        out = {}
        for v in self.opts(URI_QUERY):
            s = v.decode(errors="replace")
            k, sep, val = s.partition("=")
            out[k] = unquote(val) if sep else None
        return out

    @property
    def content_format(self):
        v = self.opt(CONTENT_FORMAT)
        return None if v is None else opt_uint(v)

    @property
    def is_request(self) -> bool:
        return 1 <= self.code <= 31

    @property
    def is_response(self) -> bool:
        return self.code >= 64

    @property
    def is_empty(self) -> bool:
        return self.code == EMPTY

    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    def __str__(self) -> str:
        parts = [TYPE_NAMES.get(self.type, "?"), code_str(self.code), f"mid={self.mid}",
                 f"tok={self.token.hex()}"]
        if self.is_request:
            parts.append(self.uri_path)
            if self.opts(URI_QUERY):
                parts.append("?" + "&".join(v.decode(errors="replace") for v in self.opts(URI_QUERY)))
        if self.opts(LOCATION_PATH):
            parts.append("loc=" + self.location_path)
        if self.content_format is not None:
            parts.append(f"cf={self.content_format}")
        if self.payload:
            p = self.payload
            parts.append(f"payload[{len(p)}]={p[:80]!r}")
        return " ".join(parts)

    def encode(self) -> bytes:
        if len(self.token) > 8:
            raise ValueError("token longer than 8 bytes")
        out = bytearray()
        out.append(0x40 | (self.type << 4) | len(self.token))
        out.append(self.code)
        out += struct.pack("!H", self.mid & 0xFFFF)
        out += self.token
        last = 0
        for number, value in sorted(self.options, key=lambda o: o[0]):
            delta, length = number - last, len(value)
            last = number
            out += _opt_header(delta, length)
            out += value
        if self.payload:
            out.append(0xFF)
            out += self.payload
        return bytes(out)


def _nibble(v: int):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack("!H", v - 269)


def _opt_header(delta: int, length: int) -> bytes:
    dn, dext = _nibble(delta)
    ln, lext = _nibble(length)
    return bytes([(dn << 4) | ln]) + dext + lext


def decode(data: bytes) -> Msg:
    """Parses one datagram; raises CoapError for anything malformed."""
    if len(data) < 4:
        raise CoapError(f"datagram of {len(data)} bytes is shorter than a CoAP header")
    b0, c, mid = data[0], data[1], struct.unpack("!H", data[2:4])[0]
    if b0 >> 6 != 1:
        raise CoapError(f"version {b0 >> 6}")
    tkl = b0 & 0x0F
    if tkl > 8:
        raise CoapError(f"token length {tkl}")
    if len(data) < 4 + tkl:
        raise CoapError("truncated token")
    msg = Msg(type=(b0 >> 4) & 3, code=c, mid=mid, token=data[4:4 + tkl])
    i, number = 4 + tkl, 0
    while i < len(data):
        if data[i] == 0xFF:
            if i + 1 == len(data):
                raise CoapError("payload marker with no payload")
            msg.payload = data[i + 1:]
            break
        delta, length = data[i] >> 4, data[i] & 0x0F
        i += 1
        vals = []
        for nib in (delta, length):
            if nib == 13:
                if i >= len(data):
                    raise CoapError("truncated option header")
                vals.append(data[i] + 13)
                i += 1
            elif nib == 14:
                if i + 2 > len(data):
                    raise CoapError("truncated option header")
                vals.append(struct.unpack("!H", data[i:i + 2])[0] + 269)
                i += 2
            elif nib == 15:
                raise CoapError("reserved option nibble 15")
            else:
                vals.append(nib)
        number += vals[0]
        if i + vals[1] > len(data):
            raise CoapError("option value runs past the datagram")
        msg.options.append((number, bytes(data[i:i + vals[1]])))
        i += vals[1]
    if msg.code == EMPTY and (msg.token or msg.options or msg.payload):
        raise CoapError("empty message with content")
    return msg


# --- Endpoint ---------------------------------------------------------------

ACK_TIMEOUT = 2.0
MAX_RETRANSMIT = 4


class CoapTimeout(AssertionError):
    """No response to a request before its deadline."""


class CoapEndpoint:
    """A UDP socket on host:port (0: any free port) with a receive thread.

    handler(msg, addr) is called (on the receive thread) for each incoming
    request and returns a response Msg (code, options, payload; type, mid and
    token are filled in here) or None to stay silent."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, handler=None, name: str = "peer"):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.host, self.port = self.sock.getsockname()
        self.handler = handler
        self.peer = None                 # default destination for request()
        self.log = []                    # (time, "rx"/"tx", addr, Msg or raw bytes)
        self.bad_datagrams = []          # (addr, bytes, error) that did not decode
        self._mids = itertools.count(random.randrange(0x10000))
        self._lock = threading.Lock()
        self._waiting = {}               # token -> queue of Msg (responses, RST)
        self._mid_token = {}             # mid of our CON -> token (to route empty ACK/RST)
        self._seen = {}                  # (addr, mid) -> cached response bytes (dedup)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"coap-{name}", daemon=True)
        self._thread.start()

    # -- plumbing
    def next_mid(self) -> int:
        return next(self._mids) & 0xFFFF

    def sendto(self, data: bytes, addr=None):
        addr = addr or self.peer
        if addr is None:
            raise AssertionError(f"{self.name}: no peer address yet")
        self.sock.sendto(data, addr)

    def send_msg(self, msg: Msg, addr=None):
        addr = addr or self.peer
        self.log.append((time.time(), "tx", addr, msg))
        self.sendto(msg.encode(), addr)

    def send_raw(self, data: bytes, addr=None):
        """Sends arbitrary bytes (garbage on purpose)."""
        self.log.append((time.time(), "tx", addr or self.peer, bytes(data)))
        self.sendto(bytes(data), addr)

    def close(self):
        self._closed.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def _run(self):
        while not self._closed.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                # ICMP port unreachable from an earlier send shows up here on Linux
                continue
            try:
                msg = decode(data)
            except CoapError as e:
                self.bad_datagrams.append((addr, data, str(e)))
                self.log.append((time.time(), "rx", addr, data))
                continue
            self.log.append((time.time(), "rx", addr, msg))
            try:
                self._dispatch(msg, addr)
            except Exception as e:  # keep the thread alive; surface in the log
                self.log.append((time.time(), "error", addr, f"dispatch: {e!r}"))

    def _dispatch(self, msg: Msg, addr):
        if msg.is_request:
            key = (addr, msg.mid)
            if msg.type == CON and key in self._seen:
                self.sendto(self._seen[key], addr)       # duplicate: same answer
                return
            resp = self.handler(msg, addr) if self.handler else Msg(code=NOT_FOUND)
            if resp is None:
                return
            if msg.type == CON:
                resp.type, resp.mid = ACK, msg.mid
            else:
                resp.type, resp.mid = NON, self.next_mid()
            resp.token = msg.token
            data = resp.encode()
            if msg.type == CON:
                self._seen[key] = data
            self.log.append((time.time(), "tx", addr, resp))
            self.sendto(data, addr)
            return
        if msg.type == CON:
            # a separate response (or a ping): acknowledge it
            self.send_msg(Msg(type=ACK, code=EMPTY, mid=msg.mid), addr)
        if msg.is_empty and msg.type == CON:
            return                                        # CoAP ping
        with self._lock:
            token = msg.token if not msg.is_empty else self._mid_token.get(msg.mid)
            q = self._waiting.get(token)
        if q is not None:
            q.put(msg)

    # -- requests
    def request(self, method: int, path: str = "", payload: bytes = b"", *, cf=None, accept=None,
                options=(), queries=(), type=CON, timeout: float = 10.0, addr=None,
                token: bytes = None, mid: int = None) -> Msg:
        """Sends a request and returns the response Msg (an RST comes back as
        a Msg with type RST).  Raises CoapTimeout if nothing arrives."""
        msg = Msg(type=type, code=method, mid=self.next_mid() if mid is None else mid,
                  token=os.urandom(4) if token is None else token)
        msg.set_path(path)
        for q in queries:
            msg.add(URI_QUERY, q)
        if cf is not None:
            msg.add(CONTENT_FORMAT, cf)
        if accept is not None:
            msg.add(ACCEPT, accept)
        for n, v in options:
            msg.add(n, v)
        if isinstance(payload, str):
            payload = payload.encode()
        msg.payload = payload
        return self.exchange(msg, timeout=timeout, addr=addr)

    def exchange(self, msg: Msg, timeout: float = 10.0, addr=None) -> Msg:
        q = queue.Queue()
        with self._lock:
            self._waiting[msg.token] = q
            self._mid_token[msg.mid] = msg.token
        try:
            deadline = time.monotonic() + timeout
            acked = msg.type != CON
            tries, wait = 0, ACK_TIMEOUT
            self.send_msg(msg, addr)
            next_send = time.monotonic() + wait
            while True:
                now = time.monotonic()
                if now >= deadline:
                    raise CoapTimeout(f"{self.name}: no response to {msg} within {timeout} s")
                try:
                    r = q.get(timeout=min(deadline, next_send if not acked else deadline) - now)
                except queue.Empty:
                    if not acked and time.monotonic() >= next_send and tries < MAX_RETRANSMIT:
                        tries += 1
                        wait *= 2
                        self.send_msg(msg, addr)
                        next_send = time.monotonic() + wait
                    continue
                if r.type == RST:
                    return r
                if r.is_empty and r.type == ACK:
                    acked = True                     # separate response will follow
                    continue
                if r.is_response:
                    return r
        finally:
            with self._lock:
                self._waiting.pop(msg.token, None)
                self._mid_token.pop(msg.mid, None)

    def get(self, path, **kw):
        return self.request(GET, path, **kw)

    def put(self, path, payload=b"", **kw):
        return self.request(PUT, path, payload, **kw)

    def post(self, path, payload=b"", **kw):
        return self.request(POST, path, payload, **kw)

    def delete(self, path, **kw):
        return self.request(DELETE, path, **kw)


# --- A minimal LwM2M server for one client -----------------------------------

@dataclass
class Registration:
    ep: str
    location: str           # "/rd/<id>"
    queries: dict
    links: str
    addr: tuple
    time: float


class RawPeer(CoapEndpoint):
    """Plays the LwM2M server for one daemon.  Knobs a test may set:

    silent             answer nothing at all (a server that is not there)
    register_code      response code for POST /rd (default 2.01)
    update_code        response code for POST /rd/<id> (default 2.04)
    deregister_code    response code for DELETE /rd/<id> (default 2.02)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str = "rawpeer"):
        self.silent = False
        self.register_code = CREATED
        self.update_code = CHANGED
        self.deregister_code = DELETED
        self.requests = []           # every request from the client: (time, Msg, addr)
        self.registrations = []      # Registration, in order
        self._reg_ids = itertools.count(1)
        self._cond = threading.Condition()
        super().__init__(host, port, handler=self._handle, name=name)

    @property
    def uri(self) -> str:
        return f"coap://{self.host}:{self.port}"

    @property
    def registration(self):
        return self.registrations[-1] if self.registrations else None

    def _handle(self, msg: Msg, addr):
        with self._cond:
            self.requests.append((time.time(), msg, addr))
            self._cond.notify_all()
        if self.silent:
            return None
        path = [v.decode(errors="replace") for v in msg.opts(URI_PATH)]
        if msg.code == POST and path == ["rd"]:
            if self.register_code != CREATED:
                return Msg(code=self.register_code)
            rid = f"{next(self._reg_ids)}{os.urandom(3).hex()}"
            q = msg.queries
            reg = Registration(ep=q.get("ep"), location=f"/rd/{rid}", queries=q,
                               links=msg.text(), addr=addr, time=time.time())
            with self._cond:
                self.registrations.append(reg)
                self.peer = addr
                self._cond.notify_all()
            return Msg(code=CREATED).add(LOCATION_PATH, "rd").add(LOCATION_PATH, rid)
        if len(path) == 2 and path[0] == "rd":
            known = any(r.location == "/rd/" + path[1] for r in self.registrations)
            if msg.code == POST:
                return Msg(code=self.update_code if known else NOT_FOUND)
            if msg.code == DELETE:
                return Msg(code=self.deregister_code if known else NOT_FOUND)
        return Msg(code=NOT_FOUND)

    def wait_request(self, pred, timeout: float, after: float = 0.0, what: str = "request") -> Msg:
        """Waits for a request from the client received at or after time
        `after` (time.time() clock) for which pred(msg) is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, m, _ in self.requests:
                    if t >= after and pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    got = "\n  ".join(str(m) for _, m, _ in self.requests) or "(nothing)"
                    raise AssertionError(f"{self.name}: no {what} within {timeout} s; got:\n  {got}")
                self._cond.wait(left)

    def wait_register(self, timeout: float = 20.0, after: float = 0.0) -> Registration:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self.registrations:
                    if r.time >= after:
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    got = "\n  ".join(str(m) for _, m, _ in self.requests) or "(nothing)"
                    raise AssertionError(f"{self.name}: no Register within {timeout} s; got:\n  {got}")
                self._cond.wait(left)

    def wait_update(self, timeout: float = 20.0, after: float = 0.0) -> Msg:
        return self.wait_request(
            lambda m: m.code == POST and len(m.opts(URI_PATH)) == 2 and m.opts(URI_PATH)[0] == b"rd",
            timeout, after, "Update (POST /rd/<id>)")

    def wait_deregister(self, timeout: float = 20.0, after: float = 0.0) -> Msg:
        return self.wait_request(
            lambda m: m.code == DELETE and m.opts(URI_PATH)[:1] == [b"rd"],
            timeout, after, "Deregister (DELETE /rd/<id>)")

    def count(self, pred, after: float = 0.0) -> int:
        with self._cond:
            return sum(1 for t, m, _ in self.requests if t >= after and pred(m))


def is_register(m: Msg) -> bool:
    return m.code == POST and [v for v in m.opts(URI_PATH)] == [b"rd"]


# --- OMA TLV ----------------------------------------------------------------

TLV_INSTANCE, TLV_RES_INSTANCE, TLV_MULTI_RES, TLV_RESOURCE = 0, 1, 2, 3


def tlv(kind: int, ident: int, value) -> bytes:
    """One TLV entry; value is bytes, str, int (encoded minimal signed),
    bool, float, or a list of already-encoded entries (for instances and
    multiple resources)."""
    if isinstance(value, (list, tuple)):
        value = b"".join(value)
    elif isinstance(value, bool):
        value = b"\x01" if value else b"\x00"
    elif isinstance(value, int):
        for n in (1, 2, 4, 8):
            if -(1 << (8 * n - 1)) <= value < (1 << (8 * n - 1)):
                value = value.to_bytes(n, "big", signed=True)
                break
    elif isinstance(value, float):
        value = struct.pack("!d", value)
    elif isinstance(value, str):
        value = value.encode()
    value = bytes(value)
    t = kind << 6
    idb = bytes([ident]) if ident < 256 else struct.pack("!H", ident)
    if ident >= 256:
        t |= 0x20
    n = len(value)
    if n < 8:
        t |= n
        lenb = b""
    elif n < 0x100:
        t |= 0x08
        lenb = bytes([n])
    elif n < 0x10000:
        t |= 0x10
        lenb = struct.pack("!H", n)
    else:
        t |= 0x18
        lenb = n.to_bytes(3, "big")
    return bytes([t]) + idb + lenb + value


def tlv_decode(data: bytes) -> list:
    """[(kind, id, bytes or nested list)]; raises ValueError if malformed."""
    out, i = [], 0
    while i < len(data):
        t = data[i]
        i += 1
        kind = t >> 6
        idlen = 2 if t & 0x20 else 1
        if i + idlen > len(data):
            raise ValueError("truncated TLV id")
        ident = int.from_bytes(data[i:i + idlen], "big")
        i += idlen
        ltype = (t >> 3) & 3
        if ltype == 0:
            n = t & 7
        else:
            if i + ltype > len(data):
                raise ValueError("truncated TLV length")
            n = int.from_bytes(data[i:i + ltype], "big")
            i += ltype
        if i + n > len(data):
            raise ValueError("TLV value runs past the payload")
        v = data[i:i + n]
        i += n
        out.append((kind, ident, tlv_decode(v) if kind in (TLV_INSTANCE, TLV_MULTI_RES) else v))
    return out


# --- CBOR (the subset SenML CBOR uses) -------------------------------------

def cbor_encode(obj) -> bytes:
    def head(major, n):
        if n < 24:
            return bytes([(major << 5) | n])
        for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < (1 << (8 * size)):
                return bytes([(major << 5) | ai]) + n.to_bytes(size, "big")
        raise ValueError("integer too large")

    if obj is False:
        return b"\xf4"
    if obj is True:
        return b"\xf5"
    if obj is None:
        return b"\xf6"
    if isinstance(obj, int):
        return head(0, obj) if obj >= 0 else head(1, -1 - obj)
    if isinstance(obj, float):
        return b"\xfb" + struct.pack("!d", obj)
    if isinstance(obj, (bytes, bytearray)):
        return head(2, len(obj)) + bytes(obj)
    if isinstance(obj, str):
        b = obj.encode()
        return head(3, len(b)) + b
    if isinstance(obj, (list, tuple)):
        return head(4, len(obj)) + b"".join(cbor_encode(x) for x in obj)
    if isinstance(obj, dict):
        return head(5, len(obj)) + b"".join(cbor_encode(k) + cbor_encode(v) for k, v in obj.items())
    raise TypeError(f"cannot CBOR-encode {type(obj)}")


def cbor_decode(data: bytes):
    """Decodes exactly one CBOR item filling data; raises ValueError."""
    obj, i = _cbor_item(data, 0)
    if i != len(data):
        raise ValueError(f"{len(data) - i} bytes after the CBOR item")
    return obj


_BREAK = object()


def _cbor_item(d: bytes, i: int):
    if i >= len(d):
        raise ValueError("truncated CBOR")
    ib = d[i]
    i += 1
    major, ai = ib >> 5, ib & 31
    if ib == 0xFF:
        return _BREAK, i
    if major == 7:
        if ai == 20:
            return False, i
        if ai == 21:
            return True, i
        if ai in (22, 23):
            return None, i
        if ai == 25:
            return _half(d[i:i + 2]), i + 2
        if ai == 26:
            return struct.unpack("!f", d[i:i + 4])[0], i + 4
        if ai == 27:
            return struct.unpack("!d", d[i:i + 8])[0], i + 8
        if ai < 24:
            return ("simple", ai), i
        raise ValueError(f"CBOR simple/float {ai}")
    if ai < 24:
        n = ai
    elif ai in (24, 25, 26, 27):
        size = 1 << (ai - 24)
        if i + size > len(d):
            raise ValueError("truncated CBOR length")
        n = int.from_bytes(d[i:i + size], "big")
        i += size
    elif ai == 31 and major in (2, 3, 4, 5):
        n = None
    else:
        raise ValueError(f"bad CBOR additional info {ai}")
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major in (2, 3):
        if n is None:
            parts = []
            while True:
                p, i = _cbor_item(d, i)
                if p is _BREAK:
                    break
                parts.append(p)
            return (b"" if major == 2 else "").join(parts), i
        if i + n > len(d):
            raise ValueError("truncated CBOR string")
        v = d[i:i + n]
        return (bytes(v) if major == 2 else v.decode()), i + n
    if major == 4:
        out = []
        while n is None or len(out) < n:
            v, i = _cbor_item(d, i)
            if v is _BREAK:
                if n is None:
                    break
                raise ValueError("unexpected break")
            out.append(v)
        return out, i
    if major == 5:
        out = {}
        while n is None or len(out) < n:
            k, i = _cbor_item(d, i)
            if k is _BREAK:
                if n is None:
                    break
                raise ValueError("unexpected break")
            v, i = _cbor_item(d, i)
            out[k] = v
        return out, i
    if major == 6:
        return _cbor_item(d, i)          # tag: ignore it, return the tagged item
    raise ValueError("unreachable")


def _half(b: bytes) -> float:
    h = int.from_bytes(b, "big")
    exp, frac = (h >> 10) & 0x1F, h & 0x3FF
    if exp == 0:
        val = frac * 2 ** -24
    elif exp == 31:
        val = float("inf") if frac == 0 else float("nan")
    else:
        val = (1 + frac / 1024) * 2 ** (exp - 15)
    return -val if h & 0x8000 else val


def senml_resolve(records: list) -> dict:
    """SenML records (JSON-decoded, or CBOR with integer labels) -> {full
    name: value}.  Handles bn and n; value from v / vs / vb / vd / vlo."""
    labels = {-2: "bn", -3: "bt", 0: "n", 2: "v", 3: "vs", 4: "vb", 8: "vd", 6: "t", "vlo": "vlo"}
    out, bn = {}, ""
    for rec in records:
        r = {labels.get(k, k): v for k, v in rec.items()}
        bn = r.get("bn", bn)
        name = bn + r.get("n", "")
        for key in ("v", "vs", "vb", "vd", "vlo"):
            if key in r:
                out[name] = r[key]
                break
        else:
            out[name] = None
    return out
