"""CoAP over DTLS with X.509 certificates (security_mode = certificate)
against the test server's DTLS endpoint, set up with its own certificate
and key and trusting the test CA; the client's entry is set over REST
(PUT /api/security/clients, mode x509: its certificate's CN must be the
endpoint name).  Certificates are made here with openssl.  The server's
certificate names "localhost", so the URIs use that name.

What a user sees: registration and device management over the session;
a server certificate the configured CA did not sign, or one for another
name, refuses the handshake with that cause named in the log and no
registration.  Timing: deadlines only."""

from __future__ import annotations

import re
import subprocess

import pytest

from daemon import run_cli
from leshan import LeshanServer, Rest, res

HANDSHAKE_FAIL_TIMEOUT = 90


def openssl(*args, cwd):
    cp = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert cp.returncode == 0, f"openssl {' '.join(args)}:\n{cp.stderr}"


def make_ca(d, name):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-days", "30",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", f"{name}.pem", cwd=d)
    return d / f"{name}.pem"


def make_cert(d, ca, name, cn, san=None):
    """A P-256 key (PKCS#8 PEM) and a certificate for cn signed by ca."""
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key", cwd=d)
    openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}", "-out", f"{name}.csr", cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n" + (f"subjectAltName={san}\n" if san else ""))
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "30", "-extfile", ext.name, "-out", f"{name}.pem", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "testca")
    make_ca(d, "otherca")
    cert, key = make_cert(d, "testca", "server", "localhost", san="DNS:localhost")
    return {"dir": d, "ca": d / "testca.pem", "other_ca": d / "otherca.pem", "server_cert": cert,
            "server_key": key}


@pytest.fixture(scope="module")
def x509_server(tmp_path_factory, pki):
    srv = LeshanServer(tmp_path_factory.mktemp("leshan-x509"), coaps=True, coaps_host=None,
                       x509={"cert": pki["server_cert"], "key": pki["server_key"], "trust": pki["ca"]})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def xrest(x509_server):
    return Rest(x509_server.api)


def client_cert(pki, endpoint):
    return make_cert(pki["dir"], "testca", f"client-{endpoint}", endpoint)


def cert_opts(server, pki, endpoint, host="localhost", **kw):
    cert, key = client_cert(pki, endpoint)
    return {"uri": f"coaps://{host}:{server.coaps_port}", "security_mode": "certificate",
            "certificate": cert, "private_key": key, **kw}


def test_x509_registration_read_write(daemon, x509_server, xrest, pki, endpoint):
    xrest.set_security({"endpoint": endpoint, "tls": {"mode": "x509"}})
    d = daemon(server=x509_server, server_opts=cert_opts(x509_server, pki, endpoint, ca_file=pki["ca"]))
    reg = xrest.client(endpoint)
    assert reg["secure"] is True, reg
    assert f"registered with coaps://localhost:{x509_server.coaps_port}" in d.log()
    assert xrest.read(endpoint, "3/0").code == 205
    assert xrest.write(endpoint, "1/0/1", res(1, 77)).code == 204
    assert xrest.read(endpoint, "1/0/1").content == 77
    assert xrest.read(endpoint, "0/0/2").code == 401


def test_x509_server_certificate_pinned(daemon, x509_server, xrest, pki, endpoint):
    """server_certificate: the server's own certificate as the one trusted."""
    xrest.set_security({"endpoint": endpoint, "tls": {"mode": "x509"}})
    daemon(server=x509_server,
           server_opts=cert_opts(x509_server, pki, endpoint, server_certificate=pki["server_cert"]))
    assert xrest.client(endpoint)["secure"] is True


def test_x509_untrusted_server_refused(daemon, x509_server, xrest, pki, endpoint):
    xrest.set_security({"endpoint": endpoint, "tls": {"mode": "x509"}})
    d = daemon(server=x509_server, wait=False,
               server_opts=cert_opts(x509_server, pki, endpoint, ca_file=pki["other_ca"]))
    # GnuTLS refuses it before our name check: the cause is its own words
    d.wait_log(rf"^lwm2md: error: server coaps://localhost:{x509_server.coaps_port}: DTLS handshake failed: "
               r"The peer certificate's CA is unknown: 'localhost'$", timeout=HANDSHAKE_FAIL_TIMEOUT)
    d.wait_log(r"registration failed: DTLS handshake failed; next try in", timeout=10)
    assert xrest.client(endpoint) is None
    d.assert_alive()


def test_x509_name_mismatch_refused(daemon, x509_server, xrest, pki, endpoint):
    """The certificate names localhost; a URI with 127.0.0.1 does not match it."""
    xrest.set_security({"endpoint": endpoint, "tls": {"mode": "x509"}})
    d = daemon(server=x509_server, wait=False,
               server_opts=cert_opts(x509_server, pki, endpoint, host="127.0.0.1", ca_file=pki["ca"]))
    d.wait_log(rf"error: server coaps://127.0.0.1:{x509_server.coaps_port}: DTLS handshake failed: "
               r"the server's certificate is for localhost, not 127.0.0.1", timeout=HANDSHAKE_FAIL_TIMEOUT)
    assert xrest.client(endpoint) is None
    d.assert_alive()


# --- --check-config ----------------------------------------------------------------

def check(tmp_path, text):
    p = tmp_path / "lwm2md.ini"
    p.write_text(text)
    return p, run_cli(["--check-config", "-c", p])


def test_check_config_certificate_errors(tmp_path, pki):
    notpem = tmp_path / "notpem.txt"
    notpem.write_text("hello\n")
    p, cp = check(tmp_path, f"[server]\nuri = coaps://localhost\nsecurity_mode = certificate\n"
                            f"certificate = {pki['server_cert']}\nprivate_key = {notpem}\n"
                            f"ca_file = relative.pem\n")
    assert cp.returncode == 78, cp.stderr
    lines = cp.stderr.splitlines()
    assert f'{p}:5: [server] private_key = "{notpem}": not a PEM file with a PRIVATE KEY block' in lines, cp.stderr
    assert f'{p}:6: [server] ca_file = "relative.pem": expected an absolute path' in lines, cp.stderr

    p, cp = check(tmp_path, "[server]\nuri = coaps://localhost\nsecurity_mode = certificate\n"
                            f"certificate = {pki['dir']}/missing.pem\n")
    lines = cp.stderr.splitlines()
    assert f'{p}:4: [server] certificate = "{pki["dir"]}/missing.pem": cannot open: No such file or directory' \
        in lines, cp.stderr
    assert f'{p}:3: [server] security_mode = "certificate": private_key is missing' in lines, cp.stderr

    p, cp = check(tmp_path, "[server]\nuri = coaps://localhost\nsecurity_mode = psk\npsk_identity = a\n"
                            f"psk_key = 00\ncertificate = {pki['server_cert']}\n")
    assert f"{p}:6: [server] certificate: given, but security_mode is not certificate" in cp.stderr.splitlines()


def test_check_config_accepts_certificate(tmp_path, pki):
    p, cp = check(tmp_path, f"[server]\nuri = coaps://localhost\nsecurity_mode = certificate\n"
                            f"certificate = {pki['server_cert']}\nprivate_key = {pki['server_key']}\n"
                            f"ca_file = {pki['ca']}\n")
    assert cp.returncode == 0, cp.stderr
