"""CoAP over DTLS with raw public keys (security_mode = rpk) against the test
server's DTLS endpoint, given its own key pair (-rpubk/-rprik); the client's
public key is set over REST (PUT /api/security/clients, mode rpk, the hex of
its DER SubjectPublicKeyInfo).  Keys are made here with openssl.

What a user sees: registration and device management over the session; a
server whose key is not the configured server_public_key is refused, with
that cause in the log.  Timing: deadlines only."""

from __future__ import annotations

import subprocess

import pytest

from daemon import run_cli
from leshan import LeshanServer, Rest, res

HANDSHAKE_FAIL_TIMEOUT = 90


def openssl(*args, cwd):
    cp = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True)
    assert cp.returncode == 0, f"openssl {' '.join(args)}:\n{cp.stderr.decode()}"
    return cp.stdout


def key_pair(d, name):
    """P-256: private key (PKCS#8 PEM), public key (PEM), public key DER as hex."""
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key", cwd=d)
    openssl("pkey", "-in", f"{name}.key", "-pubout", "-out", f"{name}.pub", cwd=d)
    der = openssl("pkey", "-in", f"{name}.key", "-pubout", "-outform", "DER", cwd=d)
    return d / f"{name}.key", d / f"{name}.pub", der.hex()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("rpk")
    return {"dir": d, "server": key_pair(d, "server"), "other": key_pair(d, "other")}


@pytest.fixture(scope="module")
def rpk_server(tmp_path_factory, keys):
    srv = LeshanServer(tmp_path_factory.mktemp("leshan-rpk"), coaps=True,
                       rpk={"pub": keys["server"][1], "key": keys["server"][0]})
    srv.start()
    yield srv
    srv.stop()


def rpk_opts(server, keys, endpoint, server_pub):
    key, pub, der_hex = key_pair(keys["dir"], f"client-{endpoint}")
    return der_hex, {"uri": server.coaps_uri, "security_mode": "rpk", "public_key": pub,
                     "private_key": key, "server_public_key": server_pub}


def test_rpk_registration_read_write(daemon, rpk_server, keys, endpoint):
    rest = Rest(rpk_server.api)
    der_hex, opts = rpk_opts(rpk_server, keys, endpoint, keys["server"][1])
    rest.set_security({"endpoint": endpoint, "tls": {"mode": "rpk", "details": {"key": der_hex}}})
    d = daemon(server=rpk_server, server_opts=opts)
    assert rest.client(endpoint)["secure"] is True
    assert f"registered with {rpk_server.coaps_uri}" in d.log()
    assert rest.write(endpoint, "1/0/1", res(1, 88)).code == 204
    assert rest.read(endpoint, "1/0/1").content == 88


def test_rpk_wrong_server_key_refused(daemon, rpk_server, keys, endpoint):
    rest = Rest(rpk_server.api)
    der_hex, opts = rpk_opts(rpk_server, keys, endpoint, keys["other"][1])
    rest.set_security({"endpoint": endpoint, "tls": {"mode": "rpk", "details": {"key": der_hex}}})
    d = daemon(server=rpk_server, wait=False, server_opts=opts)
    d.wait_log(rf"^lwm2md: error: server {rpk_server.coaps_uri}: DTLS handshake failed: "
               r"the server's raw public key is not the one in server_public_key$",
               timeout=HANDSHAKE_FAIL_TIMEOUT)
    assert rest.client(endpoint) is None
    d.assert_alive()


def test_check_config_rpk(tmp_path, keys):
    p = tmp_path / "lwm2md.ini"
    p.write_text(f"[server]\nuri = coaps://localhost\nsecurity_mode = rpk\nprivate_key = {keys['server'][0]}\n"
                 f"public_key = {keys['server'][0]}\n")
    cp = run_cli(["--check-config", "-c", p])
    assert cp.returncode == 78, cp.stderr
    lines = cp.stderr.splitlines()
    assert f'{p}:5: [server] public_key = "{keys["server"][0]}": not a PEM file with a PUBLIC KEY block' \
        in lines, cp.stderr
    assert f'{p}:3: [server] security_mode = "rpk": server_public_key is missing' in lines, cp.stderr
    p.write_text(f"[server]\nuri = coaps://localhost\nsecurity_mode = rpk\nprivate_key = {keys['server'][0]}\n"
                 f"public_key = {keys['server'][1]}\nserver_public_key = {keys['other'][1]}\n")
    cp = run_cli(["--check-config", "-c", p])
    assert cp.returncode == 0, cp.stderr
