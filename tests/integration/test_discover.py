"""Discover (link format): /3, /3/0, /3/0/7, /3/0/11 and /16, with dim on
multiple resources.  OMA ETS LwM2M 1.1 case int-260 (without its
Write-Attributes steps) and the Discover steps of int-1630 / int-1635."""

import pytest

from leshan import inst, multi
from util import attr

# Device resources the daemon implements (issue 2): the [device] keys (all
# set in the config below), the system values, Reboot and the mandatory ones
DEVICE_RES = [0, 1, 2, 3, 4, 10, 11, 13, 14, 15, 16, 17, 18, 19, 21]
DEVICE = {"manufacturer": "ACME", "model": "GW", "serial": "1", "firmware_version": "1.0",
          "hardware_version": "B", "device_type": "gateway", "timezone": "UTC", "utc_offset": "+00:00"}


def dim(links: dict, url: str) -> int:
    assert url in links, f"{url} not in Discover result {sorted(links)}"
    d = attr(links[url].get("dim"))
    assert d is not None, f"{url} has no dim: {links[url]}"
    return int(d)


def test_int_260_discover_device_object(daemon, rest, endpoint):
    daemon(device=DEVICE)
    r = rest.discover(endpoint, "3")
    assert (r.code, r.status) == (205, "CONTENT(205)"), r
    links = r.links
    assert "/3" in links and "/3/0" in links, links
    missing = [f"/3/0/{rid}" for rid in DEVICE_RES if f"/3/0/{rid}" not in links]
    assert not missing, f"missing from Discover /3: {missing}; got {sorted(links)}"
    errors = rest.read(endpoint, "3/0/11").content
    assert dim(links, "/3/0/11") == len(errors)
    # only multiple resources carry dim
    for rid in (0, 1, 2, 3, 13, 16):
        assert "dim" not in links[f"/3/0/{rid}"], (rid, links[f"/3/0/{rid}"])
    assert not [u for u in links if not u.startswith("/3")], links


def test_int_260_discover_device_instance(daemon, rest, endpoint):
    daemon(device=DEVICE)
    r = rest.discover(endpoint, "3/0")
    assert r.code == 205, r
    links = r.links
    assert "/3/0" in links, links
    assert not [f"/3/0/{rid}" for rid in DEVICE_RES if f"/3/0/{rid}" not in links], sorted(links)
    assert dim(links, "/3/0/11") == len(rest.read(endpoint, "3/0/11").content)
    assert "/3" not in links, links


@pytest.mark.parametrize("rid", [6, 11])
def test_int_260_discover_multiple_resource(daemon, rest, endpoint, rid):
    """int-260's Discover /3/0/7 step on the multiple resources this daemon
    has (6 Available Power Sources, 11 Error Code): the resource with dim,
    then each of its instances."""
    daemon()
    values = rest.read(endpoint, f"3/0/{rid}")
    assert values.code == 205 and values.content, values
    r = rest.discover(endpoint, f"3/0/{rid}")
    assert r.code == 205, r
    links = r.links
    assert dim(links, f"/3/0/{rid}") == len(values.content)
    assert set(links) == {f"/3/0/{rid}"} | {f"/3/0/{rid}/{i}" for i in values.content}, links


def test_discover_power_source_voltage_agrees_with_read(daemon, rest, endpoint):
    """3/0/7 exists only where the hardware reports voltages (a DC-powered
    gateway has none): Discover and Read must agree on whether it is there."""
    daemon()
    read = rest.read(endpoint, "3/0/7")
    disc = rest.discover(endpoint, "3/0/7")
    assert read.code in (205, 404), read
    assert disc.code == read.code, (read, disc)
    if read.code == 205:
        assert dim(disc.links, "/3/0/7") == len(read.content)
        assert set(disc.links) == {"/3/0/7"} | {f"/3/0/7/{i}" for i in read.content}, disc.links


def test_discover_single_resource(daemon, rest, endpoint):
    daemon()
    r = rest.discover(endpoint, "3/0/0")
    assert r.code == 205, r
    assert set(r.links) == {"/3/0/0"}, r.links


def test_discover_server_instance(daemon, rest, endpoint):
    daemon()
    r = rest.discover(endpoint, "1/0")
    assert r.code == 205, r
    for rid in (0, 1, 6, 7, 8):        # mandatory resources of object 1
        assert f"/1/0/{rid}" in r.links, sorted(r.links)


def test_int_1630_1635_discover_portfolio(daemon, rest, endpoint):
    """Discover /16 lists instances and resources with dim; after the
    instances are deleted only </16> is left."""
    daemon()
    assert rest.create(endpoint, "16", inst(0, [multi(0, {0: "a", 1: "b", 2: "c"})])).code == 201
    assert rest.create(endpoint, "16", inst(1, [multi(0, {0: "z"})])).code == 201
    r = rest.discover(endpoint, "16")
    assert r.code == 205, r
    links = r.links
    assert {"/16", "/16/0", "/16/1"} <= set(links), links
    assert dim(links, "/16/0/0") == 3
    assert dim(links, "/16/1/0") == 1
    assert rest.delete(endpoint, "16/0").code == 202
    assert rest.delete(endpoint, "16/1").code == 202
    r = rest.discover(endpoint, "16")
    assert r.code == 205, r
    assert set(r.links) == {"/16"}, r.links


@pytest.mark.parametrize("path", ["3/0/99", "3/7", "99"])
def test_discover_unknown_path_not_found(daemon, rest, endpoint, path):
    daemon()
    r = rest.discover(endpoint, path)
    assert (r.code, r.status) == (404, "NOT_FOUND(404)"), r
