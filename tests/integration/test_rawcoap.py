"""What a well-behaved server never sends: the daemon talks to a raw CoAP
peer (rawpeer.RawPeer) that answers its Register/Update/Deregister and
then sends malformed payloads, unknown paths, unsupported formats and
garbage datagrams.  Each 4.xx must name the path in the daemon's log, and
the daemon must keep serving (a following Read of /3/0/0 gets 2.05).

Also checks the registration interface at the CoAP level (query
parameters, link format, Location-Path, Update, Deregister)."""

import json
import os
import queue
import re
import signal
import struct
import time

import pytest

import rawpeer as rp
from rawpeer import (ACCEPT, BAD_REQUEST, CF_LINK, CF_OPAQUE, CF_SENML_CBOR, CF_SENML_JSON, CF_TEXT, CF_TLV,
                     CHANGED, CONTENT, CREATED, DELETE, DELETED, GET, METHOD_NOT_ALLOWED, NOT_ACCEPTABLE,
                     NOT_FOUND, POST, PUT, RST, UNAUTHORIZED, UNSUPPORTED_CONTENT_FORMAT, cbor_decode,
                     cbor_encode, code_str, senml_resolve, tlv, tlv_decode)
from util import poll

MANUFACTURER = "Raw Peer Test Corp"


@pytest.fixture
def raw(daemon, rawpeer, tmp_path):
    """(peer, daemon): a daemon registered with a raw peer, at log level info
    (what a user runs with: 4.xx must be visible there)."""
    peer = rawpeer()
    flag = tmp_path / "rebooted"
    d = daemon(server=peer, lifetime=60, log_level="info", device={"manufacturer": MANUFACTURER},
               hooks={"reboot": f"echo \"$@\" >> {flag}"})
    d.flag = flag
    return peer, d


def links_of(text: str) -> list:
    return re.findall(r"<([^>]*)>", text)


def assert_logged(d, path: str, offset: int):
    rx = re.compile(rf"(?<![\w/.:]){re.escape(path)}(?![\w/])")
    poll(lambda: rx.search(d.log_since(offset)), 5, f"a daemon log line naming {path}")


def expect(peer, d, method, path, want, payload=b"", **kw):
    """Sends one request; asserts the response code; for 4.xx, that the log names the path."""
    off = d.log_size()
    r = peer.request(method, path, payload, **kw)
    assert r.type != RST and r.code == want, \
        f"{code_str(method)} {path} {kw}: got {r}, want {code_str(want)}\n{d.log_tail(20)}"
    if 128 <= want < 160:
        assert_logged(d, path, off)
    return r


def still_serving(peer, d):
    r = peer.get("/3/0/0", accept=CF_TEXT)
    assert (r.code, r.text()) == (CONTENT, MANUFACTURER), f"after the bad input: {r}\n{d.log_tail(20)}"
    d.assert_alive()


# --- registration at the CoAP level -------------------------------------------

def test_register_message(raw):
    peer, d = raw
    reg = peer.registration
    msg = next(m for _, m, _ in peer.requests if rp.is_register(m))
    assert msg.type == rp.CON
    assert reg.ep == d.endpoint
    assert reg.queries.get("lt") == "60"
    assert reg.queries.get("lwm2m") == "1.1"
    assert reg.queries.get("b", "U") == "U", reg.queries
    assert msg.content_format == CF_LINK, msg
    links = links_of(reg.links)
    assert "/1/0" in links and "/3/0" in links, reg.links
    assert not [l for l in links if re.fullmatch(r"/0(/\d+)*", l)], f"Security object registered: {reg.links}"


def test_update_goes_to_location_and_deregister_on_sigterm(raw):
    peer, d = raw
    loc = peer.registration.location
    t0 = time.time()
    expect(peer, d, POST, "/1/0/8", CHANGED)
    assert peer.wait_update(timeout=10, after=t0).uri_path == loc
    d.signal(signal.SIGTERM)
    assert peer.wait_deregister(timeout=5, after=t0).uri_path == loc
    assert d.wait(5) == 0


def test_disable_answers_then_deregisters_then_registers_again(raw):
    """Execute 1/0/4: the 2.04 goes out before the Deregister; after the
    Disable Timeout (1/0/5) the client registers again."""
    peer, d = raw
    expect(peer, d, PUT, "/1/0/5", CHANGED, b"2", cf=CF_TEXT)
    t0 = time.time()
    r = expect(peer, d, POST, "/1/0/4", CHANGED)
    dereg = peer.wait_deregister(timeout=10, after=t0)
    rx = [(i, m) for i, (_, way, _, m) in enumerate(list(peer.log)) if way == "rx" and isinstance(m, rp.Msg)]
    i_resp = next(i for i, m in rx if m.token == r.token and m.is_response)
    i_dereg = next(i for i, m in rx if m is dereg)
    assert i_resp < i_dereg, "the Deregister arrived before the response to Execute 1/0/4"
    again = peer.wait_register(timeout=30, after=t0)
    assert again.ep == d.endpoint


def test_lifetime_write_reaches_update_query(raw):
    peer, d = raw
    t0 = time.time()
    expect(peer, d, PUT, "/1/0/1", CHANGED, b"45", cf=CF_TEXT)
    upd = peer.wait_update(timeout=10, after=t0)
    assert upd.queries.get("lt") == "45", upd


def test_create_updates_registration_links(raw):
    peer, d = raw
    t0 = time.time()
    payload = tlv(rp.TLV_INSTANCE, 7, [tlv(rp.TLV_MULTI_RES, 0, [tlv(rp.TLV_RES_INSTANCE, 0, "from-tlv")])])
    r = expect(peer, d, POST, "/16", CREATED, payload, cf=CF_TLV)
    if r.opts(rp.LOCATION_PATH):
        assert r.location_path == "/16/7", r
    upd = peer.wait_update(timeout=10, after=t0)
    assert "/16/7" in links_of(upd.text()), upd


# --- reads in each format, at the byte level -------------------------------------

def test_read_resource_in_each_format(raw):
    peer, d = raw
    r = expect(peer, d, GET, "/3/0/0", CONTENT, accept=CF_TEXT)
    assert (r.content_format, r.text()) == (CF_TEXT, MANUFACTURER)
    r = expect(peer, d, GET, "/3/0/0", CONTENT, accept=CF_SENML_JSON)
    assert r.content_format == CF_SENML_JSON
    assert senml_resolve(json.loads(r.payload)) == {"/3/0/0": MANUFACTURER}
    r = expect(peer, d, GET, "/3/0/0", CONTENT, accept=CF_SENML_CBOR)
    assert r.content_format == CF_SENML_CBOR
    assert senml_resolve(cbor_decode(r.payload)) == {"/3/0/0": MANUFACTURER}
    r = expect(peer, d, GET, "/3/0/0", CONTENT, accept=CF_TLV)
    assert r.content_format == CF_TLV
    assert tlv_decode(r.payload) == [(rp.TLV_RESOURCE, 0, MANUFACTURER.encode())]


def test_read_instance_without_accept(raw):
    peer, d = raw
    r = expect(peer, d, GET, "/3/0", CONTENT)
    assert r.content_format in (CF_TLV, CF_SENML_JSON, CF_SENML_CBOR), r


def test_discover_is_link_format(raw):
    peer, d = raw
    r = expect(peer, d, GET, "/3/0", CONTENT, accept=CF_LINK)
    assert r.content_format == CF_LINK
    links = links_of(r.text())
    assert "/3/0" in links and "/3/0/0" in links, r.text()


# --- 4.xx -----------------------------------------------------------------------

UNKNOWN = [(GET, "/99"), (GET, "/99/0"), (GET, "/3/9"), (GET, "/3/0/99"), (GET, "/3/0/11/99"),
           (GET, "/16/77"), (PUT, "/3/0/99"), (POST, "/3/0/99"), (DELETE, "/16/77")]


@pytest.mark.parametrize("method,path", UNKNOWN, ids=[f"{code_str(m)}{p}" for m, p in UNKNOWN])
def test_unknown_path_not_found(raw, method, path):
    peer, d = raw
    kw = {"cf": CF_TEXT} if method == PUT else {}
    expect(peer, d, method, path, NOT_FOUND, b"1" if method == PUT else b"", **kw)
    still_serving(peer, d)


# (path, content format, payload): each must be 4.00 Bad Request
MALFORMED = {
    "tlv_truncated_value": ("/1/0", CF_TLV, b"\xc3\x01\x00"),
    "tlv_truncated_header": ("/1/0", CF_TLV, b"\xc1"),
    "tlv_length_past_end": ("/1/0", CF_TLV, b"\xc8\x01\x10\x00"),
    "tlv_length_field_truncated": ("/1/0", CF_TLV, b"\xd8\x01\xff\x00"),
    "tlv_24bit_length_past_end": ("/1/0", CF_TLV, b"\xd8\x01\xff\xff\xff\x00"),
    "tlv_int_of_3_bytes": ("/1/0", CF_TLV, b"\xc3\x01\x00\x00\x3c"),
    "tlv_bad_inner_multi": ("/16/0", CF_TLV, b"\x82\x00\x02\x41\x00"),
    "text_not_a_number": ("/1/0/1", CF_TEXT, b"abc"),
    "text_empty_integer": ("/1/0/1", CF_TEXT, b""),
    "text_trailing_garbage": ("/1/0/1", CF_TEXT, b"12abc"),
    "text_integer_overflow": ("/1/0/1", CF_TEXT, b"99999999999999999999999"),
    "text_float_for_integer": ("/1/0/1", CF_TEXT, b"1.5"),
    "text_bad_boolean": ("/1/0/6", CF_TEXT, b"2"),
    "senml_json_truncated": ("/1/0", CF_SENML_JSON, b'[{"bn":"/1/0/","n":"1","v":'),
    "senml_json_not_array": ("/1/0", CF_SENML_JSON, b'{"bn":"/1/0/","n":"1","v":60}'),
    "senml_json_string_for_integer": ("/1/0", CF_SENML_JSON, b'[{"bn":"/1/0/","n":"1","vs":"sixty"}]'),
    "senml_json_bad_utf8": ("/1/0", CF_SENML_JSON, b'[{"bn":"/1/0/","n":"1","vs":"\xff\xfe"}]'),
    "senml_json_not_json": ("/1/0", CF_SENML_JSON, b"\x00\x01garbage"),
    "senml_json_no_value": ("/1/0", CF_SENML_JSON, b'[{"bn":"/1/0/","n":"1"}]'),
    "senml_cbor_truncated": ("/1/0", CF_SENML_CBOR, b"\x81\xa2\x21\x65/1/0/"),
    "senml_cbor_not_array": ("/1/0", CF_SENML_CBOR, cbor_encode({-2: "/1/0/", 0: "1", 2: 60})),
    "senml_cbor_string_for_integer": ("/1/0", CF_SENML_CBOR, cbor_encode([{-2: "/1/0/", 0: "1", 3: "sixty"}])),
    "senml_cbor_lone_break": ("/1/0", CF_SENML_CBOR, b"\xff"),
    "senml_cbor_reserved_info": ("/1/0", CF_SENML_CBOR, b"\x9c"),
    "senml_cbor_huge_length": ("/1/0", CF_SENML_CBOR, b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_write_bad_request(raw, case):
    peer, d = raw
    path, cf, payload = MALFORMED[case]
    if path.startswith("/16/0"):
        create = tlv(rp.TLV_INSTANCE, 0, [tlv(rp.TLV_MULTI_RES, 0, [tlv(rp.TLV_RES_INSTANCE, 0, "a")])])
        expect(peer, d, POST, "/16", CREATED, create, cf=CF_TLV)
    before = peer.get("/1/0/1", accept=CF_TEXT).text()
    expect(peer, d, PUT, path, BAD_REQUEST, payload, cf=cf)
    assert peer.get("/1/0/1", accept=CF_TEXT).text() == before, "a rejected write changed the lifetime"
    still_serving(peer, d)


@pytest.mark.parametrize("cf", [50, 9999], ids=["application-json", "cf-9999"])
def test_unsupported_content_format(raw, cf):
    peer, d = raw
    expect(peer, d, PUT, "/1/0/1", UNSUPPORTED_CONTENT_FORMAT, b"60", cf=cf)
    expect(peer, d, POST, "/16", UNSUPPORTED_CONTENT_FORMAT, b"[]", cf=cf)
    still_serving(peer, d)


@pytest.mark.parametrize("path,accept", [("/3/0/0", 9999), ("/3/0", CF_TEXT), ("/3", CF_OPAQUE),
                                         ("/3/0/0", CF_OPAQUE), ("/3/0", 50)],
                         ids=["res-9999", "inst-text", "obj-opaque", "string-as-opaque", "inst-json"])
def test_unsupported_accept(raw, path, accept):
    peer, d = raw
    expect(peer, d, GET, path, NOT_ACCEPTABLE, accept=accept)
    still_serving(peer, d)


def test_security_object_unauthorized(raw):
    peer, d = raw
    expect(peer, d, GET, "/0/0", UNAUTHORIZED, accept=CF_TLV)
    expect(peer, d, PUT, "/0/0/0", UNAUTHORIZED, b"coap://evil", cf=CF_TEXT)
    still_serving(peer, d)


@pytest.mark.parametrize("method,path,payload,cf", [
    (PUT, "/1/0/0", b"5", CF_TEXT),          # read-only
    (PUT, "/3/0/0", b"x", CF_TEXT),
    (POST, "/3/0/0", b"", None),             # execute on a readable resource
    (GET, "/3/0/4", b"", None),              # read an executable
    (DELETE, "/3/0", b"", None),
], ids=["write-1-0-0", "write-3-0-0", "exec-3-0-0", "read-3-0-4", "delete-3-0"])
def test_operation_not_allowed(raw, method, path, payload, cf):
    peer, d = raw
    kw = {"cf": cf} if cf is not None else {}
    expect(peer, d, method, path, METHOD_NOT_ALLOWED, payload, **kw)
    still_serving(peer, d)


# --- execute, create -------------------------------------------------------------

def test_execute_with_arguments(raw):
    peer, d = raw
    expect(peer, d, POST, "/3/0/4", CHANGED, b"0='now',1")
    poll(d.flag.exists, 10, "reboot hook ran")
    still_serving(peer, d)


def test_create_portfolio_with_tlv_instance(raw):
    peer, d = raw
    payload = tlv(rp.TLV_INSTANCE, 7, [tlv(rp.TLV_MULTI_RES, 0, [tlv(rp.TLV_RES_INSTANCE, 0, "seven"),
                                                                  tlv(rp.TLV_RES_INSTANCE, 1, "siete")])])
    expect(peer, d, POST, "/16", CREATED, payload, cf=CF_TLV)
    r = expect(peer, d, GET, "/16/7/0/1", CONTENT, accept=CF_TEXT)
    assert r.text() == "siete"


def test_create_portfolio_with_tlv_resources_only(raw):
    peer, d = raw
    payload = tlv(rp.TLV_MULTI_RES, 0, [tlv(rp.TLV_RES_INSTANCE, 0, "anon")])
    r = expect(peer, d, POST, "/16", CREATED, payload, cf=CF_TLV)
    m = re.fullmatch(r"/16/(\d+)", r.location_path)
    assert m, f"Location-Path {r.location_path!r}"
    assert expect(peer, d, GET, f"/16/{m.group(1)}/0/0", CONTENT, accept=CF_TEXT).text() == "anon"


def test_create_portfolio_with_senml_cbor(raw):
    peer, d = raw
    payload = cbor_encode([{-2: "/16/9/0/", 0: "0", 3: "nine"}])
    expect(peer, d, POST, "/16", CREATED, payload, cf=CF_SENML_CBOR)
    assert expect(peer, d, GET, "/16/9/0/0", CONTENT, accept=CF_TEXT).text() == "nine"


def test_delete_created_instance(raw):
    peer, d = raw
    payload = tlv(rp.TLV_INSTANCE, 3, [tlv(rp.TLV_MULTI_RES, 0, [tlv(rp.TLV_RES_INSTANCE, 0, "x")])])
    expect(peer, d, POST, "/16", CREATED, payload, cf=CF_TLV)
    expect(peer, d, DELETE, "/16/3", DELETED)
    expect(peer, d, GET, "/16/3", NOT_FOUND, accept=CF_TLV)


# --- garbage datagrams -------------------------------------------------------------

GARBAGE = {
    "empty": b"",
    "text": b"hello, this is not CoAP at all",
    "one_byte": b"\x40",
    "three_bytes": b"\x40\x01\x12",
    "version_2": b"\x80\x01\x12\x34",
    "token_length_9": b"\x49\x01\x12\x34" + b"\x00" * 9,
    "token_truncated": b"\x44\x01\x12\x34ab",
    "option_nibble_15": b"\x40\x01\x12\x34\xf1",
    "option_length_past_end": b"\x40\x01\x12\x34\xb5ab",
    "option_ext_delta_truncated": b"\x40\x01\x12\x34\xd0",
    "payload_marker_no_payload": b"\x40\x01\x12\x34\xff",
    "unknown_ack": b"\x60\x45\x99\x99",
    "unknown_rst": b"\x70\x00\x99\x98",
    "response_code_in_con": b"\x40\x45\x99\x97\xffhi",
    "random_4000": b"\x40\x01" + os.urandom(3998),
    "zeros_65000": bytes(65000),
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_garbage_datagram_is_survived(raw, case):
    peer, d = raw
    peer.send_raw(GARBAGE[case])
    still_serving(peer, d)


def test_oversize_valid_request_is_survived(raw):
    """A 4000-byte PUT in one datagram: refused or not, the daemon goes on."""
    peer, d = raw
    msg = rp.Msg(type=rp.CON, code=PUT, mid=peer.next_mid(), token=b"big!")
    msg.set_path("/1/0/1").add(rp.CONTENT_FORMAT, CF_TEXT)
    msg.payload = b"1" * 4000
    peer.send_raw(msg.encode())
    time.sleep(0.5)
    still_serving(peer, d)


def test_many_garbage_datagrams_then_valid_request(raw):
    peer, d = raw
    for data in GARBAGE.values():
        peer.send_raw(data)
    still_serving(peer, d)


def test_coap_ping_answered_with_reset(raw):
    peer, d = raw
    mid = peer.next_mid()
    r = peer.exchange(rp.Msg(type=rp.CON, code=rp.EMPTY, mid=mid, token=b""), timeout=10)
    assert r.type == RST and r.mid == mid, r


def test_unknown_critical_option_is_bad_option(raw):
    peer, d = raw
    r = peer.request(GET, "/3/0/0", options=[(9, b"x")], accept=CF_TEXT)
    assert r.code == rp.BAD_OPTION, r
    still_serving(peer, d)


def test_duplicate_request_executed_once(raw):
    """A retransmitted CON (same message id) is answered again, not re-executed."""
    peer, d = raw
    t0 = time.time()
    msg = rp.Msg(type=rp.CON, code=POST, mid=peer.next_mid(), token=b"dup1").set_path("/1/0/8")
    first = peer.exchange(msg, timeout=10)
    again = peer.exchange(msg, timeout=10)
    assert first.code == again.code == CHANGED, (first, again)
    peer.wait_update(timeout=10, after=t0)
    time.sleep(2)
    n = peer.count(lambda m: m.code == POST and m.uri_path.startswith("/rd/"), after=t0)
    assert n == 1, f"{n} Updates for one (duplicated) execute of 1/0/8"


# --- observations around a registration ----------------------------------------

def test_observe_taken_in_before_the_register_answer_is_kept(daemon, rawpeer):
    """A server that observes at once (ThingsBoard does) may have its Observe
    reach lwm2md before its own 2.01 to the Register: that observation
    belongs to the new registration and keeps notifying."""
    peer = rawpeer()
    token = b"\x0b\x5e\x00\x01"
    got = queue.Queue()
    peer._waiting[token] = got          # every answer and notification for token
    plain = peer.handler

    def observe_first(msg, addr):
        if rp.is_register(msg):
            obs = rp.Msg(type=rp.CON, code=GET, mid=peer.next_mid(), token=token)
            obs.set_path("/3/0/13")
            obs.add(rp.OBSERVE, 0).add(ACCEPT, CF_TEXT)
            peer.send_msg(obs, addr)    # out before the 2.01 below
        return plain(msg, addr)

    peer.handler = observe_first
    d = daemon(server=peer, lifetime=60, server_opts={"default_pmax": 1})
    seen = []
    deadline = time.monotonic() + 20
    while len(seen) < 3 and time.monotonic() < deadline:
        try:
            m = got.get(timeout=1)
        except queue.Empty:
            continue
        if m.is_response and m.opt(rp.OBSERVE) is not None:
            seen.append(m)
    assert len(seen) >= 3, f"answer and notifications: {seen}\n{d.log_tail(30)}"
    assert seen[0].code == CONTENT
    assert "observation of /3/0/13 ended" not in d.log()


def test_max_observations_refuses_one_more(daemon, rawpeer):
    """[server] max_observations = 2: a third Observe is answered as a plain
    Read (no Observe option: RFC 7641 4.1) and logged; a cancel makes room."""
    peer = rawpeer()
    d = daemon(server=peer, lifetime=60, sections={"server": {"max_observations": 2}})
    for i, path in enumerate(("/3/0/13", "/3/0/10")):
        r = peer.request(GET, path, accept=CF_TEXT, options=[(rp.OBSERVE, 0)], token=b"ob%d" % i)
        assert r.code == CONTENT and r.opt(rp.OBSERVE) is not None, r
    off = d.log_size()
    r = peer.request(GET, "/1/0/1", accept=CF_TEXT, options=[(rp.OBSERVE, 0)], token=b"ob3")
    assert r.code == CONTENT and r.opt(rp.OBSERVE) is None, r
    d.wait_log(r"observation refused: as many as \[server\] max_observations allows", offset=off)
    # a cancelled one makes room
    r = peer.request(GET, "/3/0/13", accept=CF_TEXT, options=[(rp.OBSERVE, 1)], token=b"ob0")
    assert r.code == CONTENT, r
    r = peer.request(GET, "/1/0/1", accept=CF_TEXT, options=[(rp.OBSERVE, 0)], token=b"ob3")
    assert r.code == CONTENT and r.opt(rp.OBSERVE) is not None, r
