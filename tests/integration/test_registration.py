"""Registration interface: Register, Update, re-registration, Deregister,
signals.  OMA ETS LwM2M 1.1 cases int-101, int-105, int-107, int-108 (int-102,
int-103, int-104 are in test_server_object.py)."""

import re
import signal
import socket
import time

import pytest

from leshan import Rest, free_port
from rawpeer import POST, URI_PATH, is_register, NOT_FOUND
from util import attr, link_urls, poll


def ver_of(links: list, oid: int):
    """The ver attribute the client gave object oid (on </oid> or an instance link)."""
    for l in links:
        if re.fullmatch(rf"/{oid}(/\d+)?", l["url"]) and "ver" in (l.get("attributes") or {}):
            return attr(l["attributes"]["ver"])
    return None


def test_int_101_initial_registration(daemon, rest, endpoint, events):
    """int-101: the server sees endpoint, lifetime, LwM2M 1.1, binding U and the objects."""
    ev = events(endpoint)
    d = daemon(lifetime=300)
    reg = ev.wait_for("REGISTRATION").data
    info = rest.client(endpoint)
    assert info["registrationId"] == reg["registrationId"]
    assert info["endpoint"] == endpoint
    assert info["lifetime"] == 300
    assert info["lwM2mVersion"] == "1.1"
    assert info["bindingMode"] == "U"
    assert info["queuemode"] is False
    assert info["address"].startswith("127.0.0.1:")
    assert info.get("secure") is False
    urls = link_urls(info["objectLinks"])
    assert {"/1/0", "/3/0"} <= urls, urls
    assert "/16" in urls or any(u.startswith("/16/") for u in urls), f"Portfolio (16) not registered: {urls}"
    assert info["availableInstances"].get("1") == [0] and info["availableInstances"].get("3") == [0], info
    d.assert_alive()


def test_int_101_security_object_not_in_registration(daemon, rest, endpoint):
    """Core 6.2.1: the Security object (0) is never part of the Register object list."""
    daemon()
    urls = link_urls(rest.client(endpoint)["objectLinks"])
    assert not [u for u in urls if re.fullmatch(r"/0(/\d+)*", u)], urls


def test_int_101_object_versions_in_registration(daemon, rest, endpoint):
    """Objects whose version is not 1.0 carry ver=: Server and Device of LwM2M 1.1
    are at least 1.1; Portfolio is 1.0 (ver absent or 1.0)."""
    daemon()
    links = rest.client(endpoint)["objectLinks"]
    for oid in (1, 3):
        v = ver_of(links, oid)
        assert v is not None, f"object {oid} registered without ver: {links}"
        assert re.fullmatch(r"\d+\.\d+", v) and tuple(map(int, v.split("."))) >= (1, 1), (oid, v)
    assert ver_of(links, 16) in (None, "1.0"), links


def test_default_endpoint_is_the_host_name(daemon, rest):
    d = daemon(endpoint=None, wait=False, sections={"server": {"endpoint": None}})
    host = socket.gethostname()
    rest.wait_client(host, timeout=20)
    d.endpoint = host


def test_int_107_update_before_lifetime_expires(daemon, rest, endpoint, events):
    """int-107 with a 20 s lifetime: Updates keep the registration alive (the same
    registrationId, lastUpdate moving, no expiry) through two lifetimes."""
    ev = events(endpoint)
    daemon(lifetime=20)
    reg = ev.wait_for("REGISTRATION").data
    first = rest.client(endpoint)
    for _ in range(2):
        upd = ev.wait_for("UPDATED", timeout=25)
        assert upd.data["registration"]["registrationId"] == reg["registrationId"]
    assert not ev.seen("DEREGISTRATION"), ev.names()
    assert ev.seen("REGISTRATION") and len(ev.seen("REGISTRATION")) == 1, ev.names()
    now = rest.client(endpoint)
    assert now["registrationId"] == first["registrationId"]
    assert now["lastUpdate"] > first["lastUpdate"]
    assert now["lifetime"] == 20


def test_int_105_discarded_registration_registers_again(daemon, rest, endpoint, events, leshan):
    """int-105: the server drops the registration (here: a Deregister sent to it
    by the test); the client's next Update gets 4.04 and it registers again."""
    from rawpeer import CoapEndpoint, DELETED

    ev = events(endpoint)
    daemon(lifetime=20)
    reg_id = ev.wait_for("REGISTRATION").data["registrationId"]
    intruder = CoapEndpoint(name="int-105")
    try:
        intruder.peer = ("127.0.0.1", leshan.coap_port)
        r = intruder.delete(f"/rd/{reg_id}")
        assert r.code == DELETED, f"the test server refused the fake Deregister: {r}"
    finally:
        intruder.close()
    ev.wait_for("DEREGISTRATION")
    again = ev.wait_for("REGISTRATION", timeout=45).data
    assert again["registrationId"] != reg_id
    assert rest.client(endpoint)["registrationId"] == again["registrationId"]


def test_failed_update_leads_to_fresh_register(daemon, rawpeer):
    """An Update answered 4.04 makes the client Register again (raw peer)."""
    peer = rawpeer()
    d = daemon(server=peer, lifetime=60)
    first = peer.registration
    peer.update_code = NOT_FOUND
    t0 = time.time()
    r = peer.post("/1/0/8")                       # Registration Update Trigger
    assert r.code == 0x44, f"execute 1/0/8: {r}"
    upd = peer.wait_update(timeout=20, after=t0)
    assert upd.uri_path == first.location
    peer.update_code = 0x44
    again = peer.wait_register(timeout=30, after=t0)
    assert again.ep == first.ep
    d.assert_alive()


def test_server_restart_client_registers_again(daemon, leshan_factory, endpoint):
    """The server restarts and forgets everything: the client's Update gets
    4.04 (or times out and is retried) and it registers again by itself."""
    srv = leshan_factory()
    rest = Rest(srv.api)
    d = daemon(server=srv, lifetime=20)
    before = rest.client(endpoint)["registrationId"]
    srv.restart()
    assert rest.client(endpoint) is None
    after = rest.wait_client(endpoint, timeout=90, what="registered again after the server restart")
    assert after["registrationId"] != before
    d.assert_alive()


def test_unreachable_server_keeps_running_and_idle(daemon):
    """Nobody listens on the server port: the daemon keeps running (and
    retrying) without spinning."""
    port = free_port(socket.SOCK_DGRAM)
    d = daemon(server=f"coap://127.0.0.1:{port}", wait=False,
               server_opts={"retry_count": 2, "retry_timer": 1, "sequence_delay": 2, "sequence_retry_count": 3})
    time.sleep(1.5)
    d.assert_alive("with an unreachable server")
    c0, t0 = d.cpu_seconds(), time.monotonic()
    time.sleep(5)
    d.assert_alive("with an unreachable server")
    used, wall = d.cpu_seconds() - c0, time.monotonic() - t0
    assert used < 0.25 * wall, f"{used:.2f} s of CPU in {wall:.1f} s while the server is unreachable"


def test_silent_server_retried_until_it_answers(daemon, rawpeer):
    """A server that does not answer gets the Register again (retransmission
    or retry); once it answers, the client is registered."""
    peer = rawpeer()
    peer.silent = True
    d = daemon(server=peer, wait=False,
               server_opts={"retry_count": 3, "retry_timer": 2, "sequence_delay": 5, "sequence_retry_count": 3})
    peer.wait_request(is_register, timeout=20, what="first Register")
    poll(lambda: peer.count(is_register) >= 2, 30, "a second Register attempt")
    d.assert_alive("while the server is silent")
    c0 = d.cpu_seconds()
    time.sleep(2)
    assert d.cpu_seconds() - c0 < 0.5, "the daemon spins while waiting for the server"
    peer.silent = False
    reg = peer.wait_register(timeout=90)
    assert reg.ep == d.endpoint


def test_int_108_queue_mode(daemon, rest, endpoint):
    """int-108: binding UQ registers in queue mode."""
    daemon(server_opts={"binding": "UQ"})
    info = rest.client(endpoint)
    assert info["queuemode"] is True, info
    assert "U" in info["bindingMode"], info


def test_sigterm_deregisters_and_exits_0(daemon, rest, endpoint, events):
    d = daemon()
    ev = events(endpoint)
    d.signal(signal.SIGTERM)
    assert d.wait(5) == 0
    ev.wait_for("DEREGISTRATION", lambda r: r["endpoint"] == endpoint, timeout=5)
    assert rest.client(endpoint) is None


@pytest.mark.parametrize("gone", ["silent", "closed"])
def test_sigterm_exits_0_when_server_is_gone(daemon, rawpeer, gone):
    peer = rawpeer()
    d = daemon(server=peer)
    if gone == "silent":
        peer.silent = True
    else:
        peer.close()
    d.signal(signal.SIGTERM)
    assert d.wait(5) == 0


def test_sigint_also_exits_0(daemon, rest, endpoint):
    d = daemon()
    d.signal(signal.SIGINT)
    assert d.wait(5) == 0
    assert rest.client(endpoint) is None


def test_sighup_reload_keeps_registration_and_applies_device_values(daemon, rest, endpoint, events):
    d = daemon(device={"manufacturer": "Before Corp", "model": "M-1"})
    reg_id = rest.client(endpoint)["registrationId"]
    assert rest.read(endpoint, "3/0/0", format="TEXT").content == "Before Corp"
    ev = events(endpoint)
    d.reconfigure(device={"manufacturer": "After Corp", "model": "M-2"})
    d.signal(signal.SIGHUP)
    poll(lambda: rest.read(endpoint, "3/0/0", format="TEXT").content == "After Corp", 10,
         "3/0/0 shows the reloaded manufacturer")
    assert rest.read(endpoint, "3/0/1", format="TEXT").content == "M-2"
    d.assert_alive("after SIGHUP")
    assert rest.client(endpoint)["registrationId"] == reg_id
    assert not ev.seen("DEREGISTRATION") and not ev.seen("REGISTRATION"), ev.names()


def test_sighup_with_new_endpoint_registers_the_new_one(daemon, rest, endpoint, events):
    d = daemon()
    new_ep = endpoint + "-renamed"
    old_ev, new_ev = events(endpoint), events(new_ep)
    d.reconfigure(server={"endpoint": new_ep})
    d.signal(signal.SIGHUP)
    old_ev.wait_for("DEREGISTRATION", timeout=20)
    new_ev.wait_for("REGISTRATION", timeout=20)
    assert rest.client(endpoint) is None
    assert rest.client(new_ep) is not None
    d.endpoint = new_ep
