"""Checks of the test tools themselves, without the daemon: the raw CoAP
peer against libcoap's coap-client / coap-server, its codecs, and the test
server fixture (REST, events) driven by a fake LwM2M client built from the
raw peer.  If these fail, the daemon tests' verdicts mean nothing."""

import shutil
import subprocess
import time

import pytest

import rawpeer as rp
from leshan import EventStream, Rest, decode_node


def libcoap_tool(name: str) -> str:
    for suffix in ("", "-notls", "-gnutls", "-openssl"):
        path = shutil.which(name + suffix)
        if path:
            return path
    raise AssertionError(f"{name} (libcoap3-bin) is not installed")


# --- codecs ------------------------------------------------------------------

def test_coap_roundtrip_with_extended_options():
    m = rp.Msg(type=rp.CON, code=rp.PUT, mid=0xBEEF, token=b"\x01\x02\x03")
    m.set_path("/16/0/0/0").add(rp.URI_QUERY, "x" * 300).add(rp.CONTENT_FORMAT, rp.CF_TLV)
    m.add(2048, b"\xaa")  # option delta > 269
    m.payload = b"\xff\x00payload"
    d = rp.decode(m.encode())
    assert (d.type, d.code, d.mid, d.token, d.payload) == (m.type, m.code, m.mid, m.token, m.payload)
    assert d.uri_path == "/16/0/0/0"
    assert d.content_format == rp.CF_TLV
    assert d.opt(2048) == b"\xaa"
    assert d.opts(rp.URI_QUERY) == [b"x" * 300]


@pytest.mark.parametrize("data", [b"", b"\x40", b"\x40\x01\x00", b"\x80\x01\x00\x01",
                                  b"\x49\x01\x00\x01" + b"\x00" * 9, b"\x44\x01\x00\x01ab",
                                  b"\x40\x01\x00\x01\xf1", b"\x40\x01\x00\x01\xb5ab",
                                  b"\x40\x01\x00\x01\xff"])
def test_malformed_coap_is_rejected_by_our_decoder(data):
    """The garbage the daemon tests send really is malformed CoAP."""
    with pytest.raises(rp.CoapError):
        rp.decode(data)


def test_tlv_roundtrip():
    payload = rp.tlv(rp.TLV_INSTANCE, 7, [
        rp.tlv(rp.TLV_MULTI_RES, 0, [rp.tlv(rp.TLV_RES_INSTANCE, 0, "a" * 300),
                                     rp.tlv(rp.TLV_RES_INSTANCE, 1, "b")]),
        rp.tlv(rp.TLV_RESOURCE, 1, -2), rp.tlv(rp.TLV_RESOURCE, 300, 70000)])
    assert rp.tlv_decode(payload) == [(rp.TLV_INSTANCE, 7, [
        (rp.TLV_MULTI_RES, 0, [(rp.TLV_RES_INSTANCE, 0, b"a" * 300), (rp.TLV_RES_INSTANCE, 1, b"b")]),
        (rp.TLV_RESOURCE, 1, b"\xfe"), (rp.TLV_RESOURCE, 300, (70000).to_bytes(4, "big"))])]
    with pytest.raises(ValueError):
        rp.tlv_decode(payload[:-1])


def test_cbor_roundtrip_and_senml():
    recs = [{-2: "/3/0/", 0: "0", 3: "ACME"}, {0: "9", 2: 95}, {0: "13", 2: 1.5}, {0: "x", 4: True},
            {0: "o", 8: b"\x00\x01"}]
    assert rp.cbor_decode(rp.cbor_encode(recs)) == recs
    assert rp.senml_resolve(recs) == {"/3/0/0": "ACME", "/3/0/9": 95, "/3/0/13": 1.5, "/3/0/x": True,
                                      "/3/0/o": b"\x00\x01"}
    assert rp.cbor_decode(bytes.fromhex("9f01ff")) == [1]          # indefinite array
    assert rp.cbor_decode(bytes.fromhex("f93e00")) == 1.5          # half float
    with pytest.raises(ValueError):
        rp.cbor_decode(bytes.fromhex("8201"))


# --- raw peer against libcoap -----------------------------------------------

@pytest.fixture
def coap_server(tmp_path):
    ep = rp.CoapEndpoint(name="probe")
    port = ep.port
    ep.close()                           # free the port for coap-server
    proc = subprocess.Popen([libcoap_tool("coap-server"), "-A", "127.0.0.1", "-p", str(port), "-v", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = rp.CoapEndpoint(name="client")
    client.peer = ("127.0.0.1", port)
    deadline = time.monotonic() + 10
    while True:                          # ready when it answers
        try:
            client.get("/", timeout=0.5)
            break
        except rp.CoapTimeout:
            assert time.monotonic() < deadline, "coap-server did not come up"
    yield client
    client.close()
    proc.terminate()
    proc.wait(timeout=5)


def test_rawpeer_requests_against_libcoap_server(coap_server):
    r = coap_server.get("/")
    assert r.code == rp.CONTENT and b"libcoap" in r.payload
    assert coap_server.put("/example_data", b"hello", cf=rp.CF_TEXT).code in (rp.CREATED, rp.CHANGED)
    r = coap_server.get("/example_data")
    assert (r.code, r.payload) == (rp.CONTENT, b"hello")
    assert coap_server.get("/no/such/path").code == rp.NOT_FOUND
    assert coap_server.get("/", type=rp.NON).code == rp.CONTENT


def test_rawpeer_keeps_talking_after_garbage(coap_server):
    for junk in (b"", b"\x40", b"not coap at all", b"\x49\x01\x00\x01", bytes(4000)):
        coap_server.send_raw(junk)
    assert coap_server.get("/").code == rp.CONTENT


def test_rawpeer_serves_register_update_deregister_to_coap_client():
    peer = rp.RawPeer()
    try:
        cli = libcoap_tool("coap-client")
        out = subprocess.run([cli, "-m", "post", "-t", "40", "-e", "</1/0>,</3/0>",
                              f"{peer.uri}/rd?ep=selftest&lt=20&lwm2m=1.1&b=U"],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out
        reg = peer.wait_register(timeout=5)
        assert reg.ep == "selftest"
        assert reg.queries["lt"] == "20" and reg.queries["lwm2m"] == "1.1"
        assert reg.links == "</1/0>,</3/0>"
        assert reg.location.startswith("/rd/")
        out = subprocess.run([cli, "-m", "post", f"{peer.uri}{reg.location}"], capture_output=True,
                             text=True, timeout=20)
        assert out.returncode == 0 and "4." not in out.stderr, out
        assert peer.wait_update(timeout=5).uri_path == reg.location
        out = subprocess.run([cli, "-m", "post", f"{peer.uri}/rd/unknown"], capture_output=True,
                             text=True, timeout=20)
        assert "4.04" in out.stderr + out.stdout
        out = subprocess.run([cli, "-m", "delete", f"{peer.uri}{reg.location}"], capture_output=True,
                             text=True, timeout=20)
        assert out.returncode == 0, out
        assert peer.wait_deregister(timeout=5).uri_path == reg.location
    finally:
        peer.close()


# --- the test server, with a fake LwM2M client --------------------------------

class FakeClient(rp.CoapEndpoint):
    """Just enough of an LwM2M client to exercise the test server's REST
    API and events: Register / Update / Deregister, Read of /3/0/0, Write
    of /1/0/1."""

    def __init__(self, server_port: int, ep: str):
        self.ep = ep
        self.location = None
        self.writes = []
        super().__init__(handler=self._serve, name=f"fake-{ep}")
        self.peer = ("127.0.0.1", server_port)

    def _serve(self, msg, addr):
        if msg.code == rp.GET and msg.uri_path == "/3/0/0":
            return rp.Msg(code=rp.CONTENT, payload=b"Fake Corp").add(rp.CONTENT_FORMAT, rp.CF_TEXT)
        if msg.code == rp.PUT and msg.uri_path == "/1/0/1":
            self.writes.append(msg)
            return rp.Msg(code=rp.CHANGED)
        if msg.code == rp.GET and msg.uri_path == "/0/0":
            return rp.Msg(code=rp.UNAUTHORIZED)
        return rp.Msg(code=rp.NOT_FOUND)

    def register(self, lifetime=60, links="</1/0>,</3>;ver=1.1,</3/0>,</16>"):
        r = self.post("/rd", links, cf=rp.CF_LINK,
                      queries=[f"ep={self.ep}", f"lt={lifetime}", "lwm2m=1.1", "b=U"])
        assert r.code == rp.CREATED, r
        self.location = r.location_path
        return r

    def update(self, links=None):
        kw = {"cf": rp.CF_LINK} if links else {}
        return self.post(self.location, links or b"", **kw)

    def deregister(self):
        return self.delete(self.location)


def test_server_fixture_rest_and_events(leshan, endpoint):
    """The test server answers as /work/shared/LESHAN.md section 2 says."""
    rest = Rest(leshan.api)
    assert rest.client(endpoint) is None
    ev = EventStream(leshan.api, endpoint)
    fake = FakeClient(leshan.coap_port, endpoint)
    try:
        fake.register(lifetime=60)
        reg = ev.wait_for("REGISTRATION").data
        assert reg["endpoint"] == endpoint
        info = rest.client(endpoint)
        assert info["registrationId"] == reg["registrationId"]
        assert fake.location.endswith(info["registrationId"])
        assert info["lifetime"] == 60 and info["lwM2mVersion"] == "1.1"
        assert info["bindingMode"] == "U"
        assert info["address"].startswith("127.0.0.1:")
        links = {l["url"]: l.get("attributes", {}) for l in info["objectLinks"]}
        assert {"/1/0", "/3", "/3/0", "/16"} <= set(links), links
        assert str(links["/3"].get("ver")).strip('"') == "1.1", links
        assert isinstance(info["lastUpdate"], int) and isinstance(info["registrationDate"], int)

        r = rest.read(endpoint, "/3/0/0", format="TEXT")
        assert (r.http, r.code, r.status, r.content) == (200, 205, "CONTENT(205)", "Fake Corp"), r
        assert decode_node(r.body["content"]) == "Fake Corp"
        r = rest.read(endpoint, "/3/0/1")
        assert (r.code, r.status) == (404, "NOT_FOUND(404)"), r
        assert rest.read(endpoint, "/0/0").code == 401

        from leshan import res
        r = rest.write(endpoint, "/1/0/1", res(1, 42), format="TEXT")
        assert r.code == 204, r
        assert fake.writes[-1].payload == b"42" and fake.writes[-1].content_format == rp.CF_TEXT

        last = info["lastUpdate"]
        time.sleep(0.01)
        assert fake.update("</1/0>,</3/0>,</16/1>").code == rp.CHANGED
        upd = ev.wait_for("UPDATED").data
        assert upd["registration"]["endpoint"] == endpoint
        assert "/16/1" in {l["url"] for l in upd["update"]["objectLinks"]}, upd
        assert rest.client(endpoint)["lastUpdate"] >= last

        assert fake.deregister().code == rp.DELETED
        ev.wait_for("DEREGISTRATION", lambda d: d["endpoint"] == endpoint)
        assert rest.client(endpoint) is None
    finally:
        fake.close()
        ev.close()
    assert rest.http.get(f"{leshan.api}/server/endpoint", timeout=5).status_code == 200
