"""Queue mode (binding UQ): the registration says so and the server's
requests are still served.  (The test server marks a client sleeping only
after 93 s without traffic; no test waits for that.)"""

from leshan import res


def test_queue_mode_registration(daemon, rest, endpoint):
    daemon(server_opts={"binding": "UQ"})
    reg = rest.client(endpoint)
    assert reg["queuemode"] is True, reg
    assert "U" in reg["bindingMode"], reg
    assert reg.get("sleeping") is False, reg


def test_queue_mode_requests_served(daemon, rest, endpoint):
    daemon(server_opts={"binding": "UQ"})
    r = rest.read(endpoint, "3/0/0")
    assert r.code == 205, r
    assert rest.read(endpoint, "1/0/7").content == "UQ"
    assert rest.write(endpoint, "1/0/5", res(5, 600)).code == 204
    assert rest.read(endpoint, "1/0/5").content == 600
    assert rest.read(endpoint, "3", format="TLV").code == 205
