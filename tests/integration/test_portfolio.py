"""The Portfolio object (16): Create with and without an id, Write on a
resource instance, replace / partial update, Delete, the Update that each
change of instances triggers, and persistence across a restart.
OMA ETS LwM2M 1.1 case int-228 (and the portfolio steps of int-1630/1635)."""

import re
import signal

import pytest

from leshan import inst, multi, res_inst
from util import link_urls

FORMATS = ["TLV", "SENML_JSON", "SENML_CBOR"]


def identity(iid, values: dict):
    return inst(iid, [multi(0, values, type="string")])


def test_int_228_create_and_write_resource_instance(daemon, rest, endpoint, events):
    """int-228: Create /16/0 with a multiple resource -> CREATED and an Update
    listing /16/0; Write on 16/0/0/0 -> CHANGED; read back."""
    daemon()
    ev = events(endpoint)
    r = rest.create(endpoint, "16", identity(0, {0: "a", 1: "b"}))
    assert (r.code, r.status) == (201, "CREATED(201)"), r
    upd = ev.wait_for("UPDATED", lambda u: "/16/0" in link_urls(u["update"].get("objectLinks") or []))
    assert upd.data["registration"]["endpoint"] == endpoint
    assert "/16/0" in link_urls(rest.client(endpoint)["objectLinks"])
    r = rest.write(endpoint, "16/0/0/0", res_inst(0, "test"), format="TEXT")
    assert (r.code, r.status) == (204, "CHANGED(204)"), r
    assert rest.read(endpoint, "16/0/0/0", format="TEXT").content == "test"
    assert rest.read(endpoint, "16/0/0").content == {0: "test", 1: "b"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_create_with_id_in_each_format(daemon, rest, endpoint, fmt):
    daemon()
    r = rest.create(endpoint, "16", identity(5, {0: "five", 3: "three"}), format=fmt)
    assert r.code == 201, r
    if r.location is not None:            # the server shows Location-Path without a leading /
        assert r.location.strip("/") == "16/5", r
    assert rest.read(endpoint, "16/5", format=fmt).content == {0: {0: "five", 3: "three"}}
    assert rest.read(endpoint, "16", format=fmt).content == {5: {0: {0: "five", 3: "three"}}}


def test_create_without_id_client_picks_one(daemon, rest, endpoint):
    """TLV only: Leshan refuses to send a Create without instance id in SenML
    (the raw CoAP tests cover the other shapes)."""
    daemon()
    r = rest.create(endpoint, "16", identity(None, {0: "picked"}), format="TLV")
    assert (r.code, r.status) == (201, "CREATED(201)"), r
    loc = (r.location or "").strip("/")
    assert re.fullmatch(r"16/\d+", loc), f"no Location for a client-picked id: {r}"
    iid = int(loc.rsplit("/", 1)[1])
    assert rest.read(endpoint, f"16/{iid}/0/0", format="TEXT").content == "picked"
    r2 = rest.create(endpoint, "16", identity(None, {0: "second"}), format="TLV")
    assert r2.code == 201 and r2.location.strip("/") != loc, (r, r2)
    assert "/16/" + loc.rsplit("/", 1)[1] in link_urls(rest.client(endpoint)["objectLinks"])


def test_create_existing_instance_is_bad_request(daemon, rest, endpoint):
    daemon()
    assert rest.create(endpoint, "16", identity(1, {0: "one"})).code == 201
    r = rest.create(endpoint, "16", identity(1, {0: "again"}))
    assert (r.code, r.status) == (400, "BAD_REQUEST(400)"), r
    assert rest.read(endpoint, "16/1/0/0", format="TEXT").content == "one"


@pytest.mark.parametrize("fmt", FORMATS)
def test_replace_instance(daemon, rest, endpoint, fmt):
    daemon()
    assert rest.create(endpoint, "16", identity(0, {0: "a", 1: "b", 2: "c"}), format=fmt).code == 201
    r = rest.write(endpoint, "16/0", identity(0, {0: "x"}), format=fmt, replace=True)
    assert (r.code, r.status) == (204, "CHANGED(204)"), r
    assert rest.read(endpoint, "16/0/0", format=fmt).content == {0: "x"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_partial_update_instance(daemon, rest, endpoint, fmt):
    daemon()
    assert rest.create(endpoint, "16", identity(0, {0: "a"}), format=fmt).code == 201
    r = rest.write(endpoint, "16/0", identity(0, {5: "y"}), format=fmt, replace=False)
    assert (r.code, r.status) == (204, "CHANGED(204)"), r
    assert rest.read(endpoint, "16/0/0/5", format="TEXT").content == "y"


def test_replace_multiple_resource(daemon, rest, endpoint):
    daemon()
    assert rest.create(endpoint, "16", identity(0, {0: "a", 1: "b"})).code == 201
    r = rest.write(endpoint, "16/0/0", multi(0, {7: "seven"}, type="string"), format="SENML_CBOR")
    assert r.code == 204, r
    assert rest.read(endpoint, "16/0/0").content == {7: "seven"}


def test_delete_instance(daemon, rest, endpoint, events):
    """Delete -> DELETED, an Update without the instance, then 404 for it."""
    daemon()
    assert rest.create(endpoint, "16", identity(0, {0: "a"})).code == 201
    assert rest.create(endpoint, "16", identity(1, {0: "b"})).code == 201
    ev = events(endpoint)
    r = rest.delete(endpoint, "16/0")
    assert (r.code, r.status) == (202, "DELETED(202)"), r
    upd = ev.wait_for("UPDATED", lambda u: u["update"].get("objectLinks") is not None)
    urls = link_urls(upd.data["update"]["objectLinks"])
    assert "/16/0" not in urls and "/16/1" in urls, urls
    assert rest.read(endpoint, "16/0").code == 404
    assert rest.delete(endpoint, "16/0").code == 404
    assert rest.read(endpoint, "16/1/0/0", format="TEXT").content == "b"
    assert "/16/0" not in link_urls(rest.client(endpoint)["objectLinks"])


def test_instances_survive_restart(daemon, rest, endpoint):
    """Portfolio instances live in the state dir: a restarted daemon registers
    them again with the same values; a deleted one stays deleted."""
    d1 = daemon()
    assert rest.create(endpoint, "16", identity(3, {0: "persist-me", 1: "too"})).code == 201
    assert rest.create(endpoint, "16", identity(4, {0: "doomed"})).code == 201
    assert rest.delete(endpoint, "16/4").code == 202
    assert d1.stop(signal.SIGTERM, timeout=15) == 0
    rest.wait_gone(endpoint)
    daemon(endpoint=endpoint, state_dir=d1.state_dir)
    urls = link_urls(rest.client(endpoint)["objectLinks"])
    assert "/16/3" in urls and "/16/4" not in urls, urls
    assert rest.read(endpoint, "16/3/0").content == {0: "persist-me", 1: "too"}
    assert rest.read(endpoint, "16/4").code == 404


def test_write_to_missing_portfolio_instance_is_not_found(daemon, rest, endpoint):
    daemon()
    r = rest.write(endpoint, "16/9/0/0", res_inst(0, "x"), format="TEXT")
    assert r.code == 404, r
