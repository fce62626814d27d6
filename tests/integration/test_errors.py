"""Error answers as a server sees them through the test server: the
Security object is off limits (401), unknown paths are 404, operations a
target does not allow are 405.  OMA ETS LwM2M 1.1 cases int-221, int-256
(405 on 1/0/0 is in test_server_object.py)."""

import pytest

from leshan import inst, res


@pytest.fixture
def dev(daemon):
    return daemon()


@pytest.mark.parametrize("path", ["0", "0/0", "0/0/0"])
def test_int_221_read_security_object_unauthorized(dev, rest, endpoint, path):
    r = rest.read(endpoint, path)
    assert (r.code, r.status) == (401, "UNAUTHORIZED(401)"), r


def test_int_221_write_security_object_unauthorized(dev, rest, endpoint):
    r = rest.write(endpoint, "0/0/0", res(0, "coap://localhost"), format="TEXT")
    assert (r.code, r.status) == (401, "UNAUTHORIZED(401)"), r
    r = rest.write(endpoint, "0/0", inst(0, [res(0, "coap://localhost")]), format="TLV", replace=False)
    assert r.code == 401, r


def test_security_object_delete_and_discover_unauthorized(dev, rest, endpoint):
    assert rest.delete(endpoint, "0/0").code == 401
    assert rest.discover(endpoint, "0").code == 401


@pytest.mark.parametrize("path", ["3/0/99", "3/1", "3/1/0", "16/42", "3/0/11/99", "1/1", "99/0", "99"])
def test_read_unknown_path_not_found(dev, rest, endpoint, path):
    r = rest.read(endpoint, path)
    assert (r.code, r.status) == (404, "NOT_FOUND(404)"), r


def test_execute_unknown_resource_not_found(dev, rest, endpoint):
    r = rest.execute(endpoint, "3/0/99")
    assert r.code == 404, r


def test_delete_unknown_instance_not_found(dev, rest, endpoint):
    assert rest.delete(endpoint, "16/42").code == 404


def test_delete_device_instance_not_allowed(dev, rest, endpoint):
    r = rest.delete(endpoint, "3/0")
    assert (r.code, r.status) == (405, "METHOD_NOT_ALLOWED(405)"), r
    assert rest.read(endpoint, "3/0/0").code == 205


def test_errors_leave_the_client_working(dev, rest, endpoint):
    for path in ("0/0", "3/0/99", "99"):
        rest.read(endpoint, path)
    assert rest.read(endpoint, "3/0/0").code == 205
    dev.assert_alive()
