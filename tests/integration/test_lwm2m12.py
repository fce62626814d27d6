"""lwm2m_version = 1.2 against the raw peer playing a 1.2 server (the test
server speaks 1.1 only): the registration, LwM2M CBOR (11544), the 1.2
attribute con, malformed attributes, FETCH / iPATCH with bad bodies, and a
Reset to a NON notification."""

import json
import re
import struct
import time

import pytest

from rawpeer import (CON, BAD_REQUEST, CF_LINK, CF_LWM2M_CBOR, CF_SENML_CBOR, CF_SENML_JSON, CF_TEXT,
                     CHANGED, CONTENT, EMPTY, FETCH, GET, IPATCH, NON, NOT_ACCEPTABLE, NOT_FOUND,
                     OBSERVE, PUT, RST, Msg, cbor_encode, code_str, opt_uint)
from reporting_util import log_offset


@pytest.fixture
def v12(daemon, rawpeer):
    peer = rawpeer()
    d = daemon(server=peer, server_opts={"lwm2m_version": "1.2"})
    return peer, d


@pytest.fixture
def v11(daemon, rawpeer):
    peer = rawpeer()
    d = daemon(server=peer, server_opts={"lwm2m_version": "1.1"})
    return peer, d


def expect(peer, method, path, want, payload=b"", **kw):
    r = peer.request(method, path, payload, **kw)
    assert r.code == want, (f"{code_str(method)} {path} {kw.get('queries') or ''}: expected "
                            f"{code_str(want)}, got {code_str(r.code)} {r.payload[:120]!r}")
    return r


def cbor_load(data: bytes):
    """A small CBOR decoder for LwM2M CBOR, whose map keys may be arrays of
    path ids (returned as tuples).  Raises ValueError on malformed input."""
    def item(i):
        if i >= len(data):
            raise ValueError("truncated CBOR")
        ib = data[i]
        major, ai = ib >> 5, ib & 31
        i += 1
        if major == 7:
            simple = {20: False, 21: True, 22: None, 23: None}
            if ai in simple:
                return simple[ai], i
            fmt = {25: (2, "!e"), 26: (4, "!f"), 27: (8, "!d")}.get(ai)
            if not fmt:
                raise ValueError(f"CBOR simple value {ai}")
            return struct.unpack(fmt[1], data[i:i + fmt[0]])[0], i + fmt[0]
        if ai < 24:
            n = ai
        elif ai <= 27:
            size = 1 << (ai - 24)
            n = int.from_bytes(data[i:i + size], "big")
            i += size
        else:
            raise ValueError(f"CBOR additional info {ai} (indefinite lengths are not expected)")
        if major == 0:
            return n, i
        if major == 1:
            return -1 - n, i
        if major in (2, 3):
            raw = data[i:i + n]
            if len(raw) != n:
                raise ValueError("truncated CBOR string")
            return (bytes(raw) if major == 2 else raw.decode()), i + n
        if major == 4:
            out = []
            for _ in range(n):
                v, i = item(i)
                out.append(v)
            return out, i
        if major == 5:
            out = {}
            for _ in range(n):
                k, i = item(i)
                v, i = item(i)
                out[tuple(k) if isinstance(k, list) else k] = v
            return out, i
        return item(i)                       # a tag: the tagged item

    obj, end = item(0)
    if end != len(data):
        raise ValueError(f"{len(data) - end} bytes after the CBOR item")
    return obj


def flatten(node, prefix=()) -> dict:
    """LwM2M CBOR (nested maps keyed by path ids or arrays of ids) -> {(ids): value}."""
    if not isinstance(node, dict):
        return {prefix: node}
    out = {}
    for k, v in node.items():
        key = k if isinstance(k, tuple) else (k,)
        out.update(flatten(v, prefix + key))
    return out


def root_link_ct(links: str) -> list:
    m = re.search(r'</>;[^,]*ct="?([0-9 ]+)"?', links)
    assert m, f"no ct on </> in {links!r}"
    return m.group(1).split()


# --- registration ---------------------------------------------------------------

def test_register_as_1_2_with_lwm2m_cbor(v12):
    peer, d = v12
    reg = peer.registration
    assert reg.queries.get("lwm2m") == "1.2", reg.queries
    assert "11544" in root_link_ct(reg.links), reg.links


def test_register_as_1_1_without_lwm2m_cbor(v11):
    peer, d = v11
    reg = peer.registration
    assert reg.queries.get("lwm2m") == "1.1", reg.queries
    assert "11544" not in root_link_ct(reg.links), reg.links


# --- LwM2M CBOR -----------------------------------------------------------------

@pytest.mark.parametrize("path", ["/3/0/0", "/1/0", "/3"])
def test_read_lwm2m_cbor(v12, path):
    peer, d = v12
    r = expect(peer, GET, path, CONTENT, accept=CF_LWM2M_CBOR)
    assert r.content_format == CF_LWM2M_CBOR, r
    got = flatten(cbor_load(r.payload))
    # the same values as a SenML JSON read of the path gives
    want = {}
    base = ""
    for rec in json.loads(expect(peer, GET, path, CONTENT, accept=CF_SENML_JSON).text()):
        base = rec.get("bn", base)
        name = base + rec.get("n", "")
        ids = tuple(int(x) for x in name.strip("/").split("/"))
        want[ids] = next((rec[k] for k in ("v", "vs", "vb", "vlo", "vd") if k in rec), None)
    assert set(got) == set(want), (sorted(got), sorted(want))
    # free memory and the clock move between the two reads; opaque values
    # are bytes here and base64 in SenML JSON
    same = [k for k in got if k not in {(3, 0, 10), (3, 0, 13)} and not isinstance(got[k], bytes)]
    assert same, got
    assert {k: got[k] for k in same} == {k: want[k] for k in same}


def test_read_lwm2m_cbor_refused_on_1_1(v11):
    peer, d = v11
    expect(peer, GET, "/3/0/0", NOT_ACCEPTABLE, accept=CF_LWM2M_CBOR)
    expect(peer, GET, "/1/0", NOT_ACCEPTABLE, accept=CF_LWM2M_CBOR)
    # the daemon goes on serving
    expect(peer, GET, "/3/0/0", CONTENT, accept=CF_TEXT)


# --- Write-Attributes -----------------------------------------------------------

def write_attrs(peer, path, query, want):
    return expect(peer, PUT, path, want, queries=query.split("&"))


def test_con_attribute_on_1_2(v12):
    peer, d = v12
    write_attrs(peer, "/3/0/13", "con=1", CHANGED)
    write_attrs(peer, "/3/0", "con=0&hqmax=2", CHANGED)
    links = expect(peer, GET, "/3/0", CONTENT, accept=CF_LINK).text()
    assert re.search(r"</3/0/13>[^,]*;con=1", links), links
    assert re.search(r"</3/0>[^,]*;con=0", links), links


def test_con_attribute_refused_on_1_1(v11):
    peer, d = v11
    r = write_attrs(peer, "/3/0/13", "con=1", BAD_REQUEST)
    assert b"1.2" in r.payload, r
    assert "con=" not in expect(peer, GET, "/3/0/13", CONTENT, accept=CF_LINK).text()


@pytest.mark.parametrize("query", ["pmin=abc", "pmin=-1", "unknown=1", "lt=10&gt=5", "pmax=1.5",
                                   "st=-2", "pmin=10&pmax=5", "gt=x&pmin=1"])
def test_malformed_attributes(v12, query):
    peer, d = v12
    write_attrs(peer, "/1/0/1", query, BAD_REQUEST)
    # nothing was stored
    links = expect(peer, GET, "/1/0/1", CONTENT, accept=CF_LINK).text()
    assert links.strip() == "</1/0/1>", links


# --- FETCH / iPATCH -------------------------------------------------------------

@pytest.mark.parametrize("cf,body", [(CF_SENML_JSON, b'[{"n":"/3/0/0"'),
                                     (CF_SENML_JSON, b'{"n":"/3/0/0"}'),
                                     (CF_SENML_JSON, b'[{"n":"/3/x/0"}]'),
                                     (CF_SENML_CBOR, b"\x81\xa1\x00"),
                                     (CF_SENML_CBOR, b"\xff\xff")],
                         ids=["json-truncated", "json-not-array", "json-bad-path", "cbor-truncated",
                              "cbor-garbage"])
def test_fetch_malformed_senml(v12, cf, body):
    peer, d = v12
    expect(peer, FETCH, "/", BAD_REQUEST, body, cf=cf, accept=cf)
    expect(peer, GET, "/3/0/0", CONTENT, accept=CF_TEXT)


@pytest.mark.parametrize("body,want", [
    (b'[{"n":"/99/0/1","v":1}]', (NOT_FOUND,)),               # no such object
    (b'[{"n":"/1/7/1","v":60}]', (NOT_FOUND,)),               # no such instance
    (b'[{"n":"/1/0/99","v":60}]', (NOT_FOUND,)),              # no such resource
    (b'[{"n":"/1/x/1","v":60}]', (BAD_REQUEST, NOT_FOUND)),   # not a path
    (b'[{"n":"/1/0","v":60}]', (BAD_REQUEST, NOT_FOUND)),     # not a resource
], ids=["object", "instance", "resource", "not-a-path", "instance-path"])
def test_ipatch_bad_path(v12, body, want):
    peer, d = v12
    before = expect(peer, GET, "/1/0/1", CONTENT, accept=CF_TEXT).text()
    r = peer.request(IPATCH, "/", body, cf=CF_SENML_JSON)
    assert r.code in want, f"iPATCH {body!r}: {code_str(r.code)} {r.payload!r}"
    assert expect(peer, GET, "/1/0/1", CONTENT, accept=CF_TEXT).text() == before


def test_ipatch_good_path_still_works(v12):
    peer, d = v12
    expect(peer, IPATCH, "/", CHANGED, cbor_encode([{0: "/1/0/5", 2: 777}]), cf=CF_SENML_CBOR)
    assert expect(peer, GET, "/1/0/5", CONTENT, accept=CF_TEXT).text() == "777"


# --- Reset to a NON notification -----------------------------------------------

def notifications(peer, token: bytes, since: float = 0.0) -> list:
    return [m for t, way, _, m in list(peer.log)
            if way == "rx" and isinstance(m, Msg) and t >= since and m.token == token and m.code == CONTENT]


def wait_notification(peer, token, since, timeout=15.0) -> Msg:
    deadline = time.monotonic() + timeout
    while True:
        got = notifications(peer, token, since)
        if got:
            return got[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no notification for token {token.hex()} within {timeout} s")
        time.sleep(0.05)


def test_reset_to_non_notification_stops_them(v12):
    peer, d = v12
    write_attrs(peer, "/3/0/13", "pmax=1", CHANGED)
    token = b"\x12\x34\x56\x78"
    r = peer.request(GET, "/3/0/13", accept=CF_TEXT, options=[(OBSERVE, 0)], token=token)
    assert r.code == CONTENT and r.opt(OBSERVE) is not None, r
    t0 = time.time()
    n1 = wait_notification(peer, token, t0)
    assert n1.type == NON, f"notifications are NON by default: {n1}"
    n2 = wait_notification(peer, token, time.time())
    assert opt_uint(n2.opt(OBSERVE)) > opt_uint(n1.opt(OBSERVE)), (n1, n2)
    off = log_offset(d)
    peer.send_msg(Msg(type=RST, code=EMPTY, mid=n2.mid))
    d.wait_log(r"observation of /3/0/13 ended: Reset by the server", timeout=10, offset=off)
    t_reset = time.time()
    time.sleep(3)                     # three pmax periods
    late = notifications(peer, token, t_reset + 0.3)
    assert late == [], f"notifications after the Reset: {[str(m) for m in late]}"
    expect(peer, GET, "/3/0/0", CONTENT, accept=CF_TEXT)


def test_con_attribute_makes_notifications_confirmable(v12):
    peer, d = v12
    write_attrs(peer, "/3/0/13", "pmax=1&con=1", CHANGED)
    token = b"\x22\x34\x56\x78"
    r = peer.request(GET, "/3/0/13", accept=CF_TEXT, options=[(OBSERVE, 0)], token=token)
    assert r.code == CONTENT, r
    n1 = wait_notification(peer, token, time.time())
    assert n1.type == CON, f"con=1 asks for CON notifications: {n1}"
    write_attrs(peer, "/3/0/13", "con=0", CHANGED)
    n2 = wait_notification(peer, token, time.time() + 0.1)
    assert n2.type == NON, f"con=0 asks for NON notifications: {n2}"
