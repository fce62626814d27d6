"""Connectivity Monitoring (4) and Connectivity Statistics (7).

Over loopback with the session's test server: /4/0 shows the interface that
reaches the server (lo, 127.0.0.1) and /7/0 counts traffic between Start and
Stop.  Then for real network changes, in two network namespaces this file
creates: "net" holds the test server on 10.202.0.1 (a loopback address
there), "gw" holds lwm2md, and a veth pair joins them, with a route to the
server through 10.201.0.1.  The test thread enters "net" for the REST API;
lwm2md and the server run under `ip netns exec`.  Nothing is changed outside
those namespaces."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from conftest import wait_registered
from leshan import EventStream, res
from reporting_util import is_notification_of, observe, single_value
from util import GW_ADDR, GW_ADDR2, NET_SIDE

BEARER_WLAN, BEARER_ETHERNET, BEARER_WIRED_OTHER = 21, 41, 44


def values(multi) -> list:
    """A decoded multiple resource ({riid: value}) as a list in riid order."""
    return [multi[k] for k in sorted(multi)] if isinstance(multi, dict) else []


def host_bearers() -> set:
    """What 4/0/1 should list on this host: the bearer of every interface
    that is up with a carrier, loopback left out (lwm2md's rules)."""
    out = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True,
                                    text=True, check=True).stdout)
    found = set()
    for link in out:
        flags = link.get("flags", [])
        if "UP" not in flags or "LOWER_UP" not in flags or link.get("link_type") == "loopback":
            continue
        sysfs = Path("/sys/class/net") / link["ifname"]
        uevent = (sysfs / "uevent").read_text() if (sysfs / "uevent").exists() else ""
        if (sysfs / "wireless").exists() or (sysfs / "phy80211").exists() or "DEVTYPE=wlan" in uevent:
            found.add(BEARER_WLAN)
        elif "DEVTYPE=" in uevent and re.search(r"DEVTYPE=(wwan|bluetooth)", uevent):
            found.add(10 if "wwan" in uevent else 22)
        elif link.get("link_type") == "ether":
            found.add(BEARER_ETHERNET)
        else:
            found.add(BEARER_WIRED_OTHER)
    return found


# --- over loopback, with the session's server ----------------------------------

def test_connectivity_over_loopback(daemon, rest, endpoint):
    """The server is on 127.0.0.1: the connectivity interface is lo.  The
    bearer list has no loopback; lwm2md says 44 ("other wireline"), not
    Ethernet.  No router, no radio, nothing cellular."""
    daemon()
    r = rest.read(endpoint, "4/0")
    assert r.code == 205, r
    c = r.content
    assert c[0] == BEARER_WIRED_OTHER, c
    addrs = values(c[4])
    assert addrs and addrs[0] == "127.0.0.1", f"4/0/4 {addrs}: the address the server sees goes first"
    assert set(addrs) <= {"127.0.0.1", "::1"}, addrs
    assert set(values(c[1])) == host_bearers() | {BEARER_WIRED_OTHER}, c[1]
    for absent in (2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13):
        assert absent not in c, f"4/0/{absent} in {c}"
    for rid in (2, 5, 7, 8):
        assert rest.read(endpoint, f"4/0/{rid}").code == 404


def test_connectivity_objects_in_registration(daemon, rest, endpoint):
    """/4 is announced as version 1.3, /7 as 1.0 (no ver), both with instance 0."""
    daemon()
    links = {l["url"]: l.get("attributes") or {} for l in rest.client(endpoint)["objectLinks"]}
    assert links.get("/4") == {"ver": "1.3"}, links
    assert "/4/0" in links and "/7/0" in links, links
    assert "/7" not in links or "ver" not in links["/7"], links


def read7(rest, ep) -> dict:
    r = rest.read(ep, "7/0")
    assert r.code == 205, r
    return r.content


def traffic(rest, ep, n=20):
    for _ in range(n):
        assert rest.read(ep, "3/0").code == 205


def test_statistics_count_between_start_and_stop(daemon, rest, endpoint):
    """Nothing before Start; after it the counters move with traffic (lo
    carries every packet both ways), Max and Average Message Size are of
    lwm2md's own datagrams; Stop freezes them; Start again resets."""
    daemon()
    c = read7(rest, endpoint)
    assert c == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 8: 0}, c
    assert rest.execute(endpoint, "7/0/6").code == 204
    traffic(rest, endpoint)
    c = read7(rest, endpoint)
    assert c[0] == 0 and c[1] == 0, c
    assert c[2] >= 10 and c[3] >= 10, f"20 reads of /3/0 over lo: tx/rx {c[2]}/{c[3]} kB"
    # a /3/0 response in TLV is a few hundred bytes, plus UDP and IPv4 headers
    assert 200 < c[4] < 1500, c
    assert 28 < c[5] <= c[4], c
    assert rest.execute(endpoint, "7/0/7").code == 204
    stopped = read7(rest, endpoint)
    traffic(rest, endpoint, 10)
    assert read7(rest, endpoint) == stopped, "Stop keeps the values"
    assert stopped[2] >= c[2] and stopped[3] >= c[3], (c, stopped)
    assert rest.execute(endpoint, "7/0/6").code == 204
    fresh = read7(rest, endpoint)
    assert fresh[2] < stopped[2] and fresh[4] <= stopped[4], (stopped, fresh)


def test_statistics_collection_period(daemon, leshan, rest, endpoint):
    """Collection Period 2 s: collecting stops by itself; a negative period
    is refused; the period is kept across a restart."""
    d = daemon()
    assert rest.write(endpoint, "7/0/8", res(8, -1)).code == 400
    assert rest.write(endpoint, "7/0/8", res(8, 2)).code == 204
    assert rest.execute(endpoint, "7/0/6").code == 204
    d.wait_log(r"7/0: collecting for 2 s")
    d.wait_log(r"7/0: collection stopped \(collection period over\)", timeout=10)
    frozen = read7(rest, endpoint)
    traffic(rest, endpoint, 5)
    assert read7(rest, endpoint) == frozen
    d.stop()
    d.start()
    wait_registered(d, leshan)
    assert read7(rest, endpoint) == frozen, "values and period survive a restart"


def test_statistics_collection_survives_restart(daemon, leshan, rest, endpoint):
    """A collection running when lwm2md stops goes on after it starts again:
    the counters do not fall back."""
    d = daemon()
    assert rest.execute(endpoint, "7/0/6").code == 204
    traffic(rest, endpoint)
    before = read7(rest, endpoint)
    d.stop()
    d.start()
    wait_registered(d, leshan)
    after = read7(rest, endpoint)
    assert after[2] >= before[2] and after[3] >= before[3] and after[4] >= before[4], (before, after)
    state = json.loads((Path(d.state_dir) / "connstat.json").read_text())
    assert state["collecting"] is True, state


# --- network namespaces --------------------------------------------------------

def addresses_are(*want):
    return lambda data: is_notification_of("/4/0/4")(data) and \
        values(single_value(data)) == list(want)


def test_ns_read_connectivity(ns_env):
    """Over the veth: Ethernet, our address, the router, Ethernet available."""
    gw, srv, rest, start = ns_env
    d = start()
    c = rest.read(d.endpoint, "4/0").content
    assert c[0] == BEARER_ETHERNET, c
    assert values(c[1]) == [BEARER_ETHERNET], c
    assert values(c[4]) == [GW_ADDR], c
    assert values(c[5]) == [NET_SIDE], c
    assert 2 not in c and 3 not in c, "no radio on a veth"


def test_ns_second_address_notifies(ns_env):
    """An address added to the interface (and removed again) is notified on
    4/0/4 at once; the source address stays, so no Update goes out."""
    gw, srv, rest, start = ns_env
    d = start()
    ev = EventStream(srv.api, d.endpoint)
    try:
        r = observe(rest, d.endpoint, "4/0/4")
        assert r.code == 205 and values(r.content) == [GW_ADDR], r
        gw.ip("addr", "add", f"{GW_ADDR2}/24", "dev", "gv0")
        ev.wait_for("NOTIFICATION", addresses_are(GW_ADDR, GW_ADDR2), timeout=10)
        gw.ip("addr", "del", f"{GW_ADDR2}/24", "dev", "gv0")
        ev.wait_for("NOTIFICATION", addresses_are(GW_ADDR), timeout=10)
        assert not ev.seen("UPDATED"), "the source address did not change: no Update"
    finally:
        ev.close()


def test_ns_route_source_change_sends_update(ns_env):
    """The route to the server gets another preferred source: observers hear
    of the new 4/0/4 over the old address, then lwm2md moves its session to
    the new one and sends an Update, which the server sees coming from
    there; the server reaches lwm2md at the new address."""
    gw, srv, rest, start = ns_env
    d = start()
    gw.ip("addr", "add", f"{GW_ADDR2}/24", "dev", "gv0")
    ev = EventStream(srv.api, d.endpoint)
    try:
        assert observe(rest, d.endpoint, "4/0/4").code == 205
        gw.ip("route", "replace", "10.202.0.0/24", "via", NET_SIDE, "dev", "gv0", "src", GW_ADDR2)
        ev.wait_for("NOTIFICATION", addresses_are(GW_ADDR2, GW_ADDR), timeout=10)
        up = ev.wait_for("UPDATED", timeout=15)
        assert up.data["registration"]["address"].startswith(GW_ADDR2 + ":"), up.data
        d.wait_log(rf"moved from {re.escape(GW_ADDR)} to {re.escape(GW_ADDR2)}")
        reg = rest.client(d.endpoint)
        assert reg["address"].startswith(GW_ADDR2 + ":"), reg
        r = rest.read(d.endpoint, "4/0/4")
        assert r.code == 205 and values(r.content) == [GW_ADDR2, GW_ADDR], r
    finally:
        ev.close()


def test_ns_address_removed_sends_update(ns_env):
    """The address lwm2md sends from is deleted (the secondary one takes
    over): an Update from the new address; the server reaches lwm2md there
    and reads the new 4/0/4.  (The notification of that change had no
    address left to go out from.)"""
    gw, srv, rest, start = ns_env
    d = start()
    gw.ip("addr", "add", f"{GW_ADDR2}/24", "dev", "gv0")
    ev = EventStream(srv.api, d.endpoint)
    try:
        gw.ip("addr", "del", f"{GW_ADDR}/24", "dev", "gv0")
        up = ev.wait_for("UPDATED", timeout=15)
        assert up.data["registration"]["address"].startswith(GW_ADDR2 + ":"), up.data
        r = rest.read(d.endpoint, "4/0/4")
        assert r.code == 205 and values(r.content) == [GW_ADDR2], r
    finally:
        ev.close()


def test_ns_link_down_and_up(ns_env):
    """Link down: no interface reaches the server (4/0/4 empty, notified);
    up again with the route back: the address is back, notified; the
    registration carries on."""
    gw, srv, rest, start = ns_env
    d = start()
    ev = EventStream(srv.api, d.endpoint)
    try:
        assert observe(rest, d.endpoint, "4/0/4").code == 205
        gw.ip("link", "set", "gv0", "down")
        d.wait_log(r"4/0: the server is not reached through any interface")
        gw.ip("link", "set", "gv0", "up")
        gw.ip("route", "replace", "10.202.0.0/24", "via", NET_SIDE, "dev", "gv0")
        ev.wait_for("NOTIFICATION", addresses_are(GW_ADDR), timeout=15)
        assert rest.read(d.endpoint, "4/0/0").content == BEARER_ETHERNET
    finally:
        ev.close()


def test_ns_statistics_follow_the_veth(ns_env):
    """7/0 counts the veth's traffic: reads of /3/0 make Tx and Rx grow."""
    gw, srv, rest, start = ns_env
    d = start()
    assert rest.execute(d.endpoint, "7/0/6").code == 204
    traffic(rest, d.endpoint, 60)
    c = rest.read(d.endpoint, "7/0").content
    # the /3/0 responses (a few hundred bytes) go out from gw, the requests
    # (some 60 bytes with headers) come in
    assert c[2] >= 10 and c[3] >= 2, c
    assert c[4] >= c[5] > 28, c
