"""CoAP over DTLS to the LwM2M server (coaps://, security_mode = psk) against
the test server's DTLS endpoint (Leshan with Californium's Scandium), whose
credentials are set over REST (PUT /api/security/clients, as in the Leshan
demo server).

What a user sees: the registration is secure in the server's view; data
management and observations work over the session; a wrong key is refused,
named in the log, and retried on the Communication Retry schedule (the
daemon does not spin); after a server restart the client registers again
over a new handshake.  Timing: deadlines only."""

from __future__ import annotations

import re
import signal
import time

import pytest

from daemon import run_cli
from leshan import LeshanServer, Rest, res
from reporting_util import is_notification_of, observe, single_value

KEY = "4c774d3244206b6579206f6620746573"          # 16 bytes
WRONG = "00112233445566778899aabbccddeeff"

# handshakes Scandium drops run into gnutls's own deadline (about 30 s)
HANDSHAKE_FAIL_TIMEOUT = 90


# --- --check-config ----------------------------------------------------------------

PSK_HEAD = "[server]\nuri = coaps://127.0.0.1\nsecurity_mode = psk\npsk_identity = gw-1\n"
SECRET = "5ec2e75ec2e75ec2e7"          # must never show in any message

BAD = {
    # name: (config text, line, expected message after "FILE:LINE: ")
    "coaps_without_mode": ("[server]\nuri = coaps://127.0.0.1\n", 2,
                           '[server] uri = "coaps://127.0.0.1": coaps:// needs security_mode (psk, certificate or rpk)'),
    "psk_without_key": ("[server]\nuri = coaps://127.0.0.1:5684\nsecurity_mode = psk\npsk_identity = a\n", 3,
                        '[server] security_mode = "psk": psk_key is missing'),
    "psk_without_identity": (f"[server]\nuri = coaps://h\nsecurity_mode = psk\npsk_key = {SECRET}\n", 3,
                             '[server] security_mode = "psk": psk_identity is missing'),
    "key_odd_length": (PSK_HEAD + f"psk_key = {SECRET}0\n", 5,
                       "[server] psk_key: expected an even number of hex digits (the key itself is not shown)"),
    "key_not_hex": (PSK_HEAD + "psk_key = 5ec2e75ec2e7zz\n", 5,
                    "[server] psk_key: expected an even number of hex digits (the key itself is not shown)"),
    "key_too_long": (PSK_HEAD + "psk_key = " + "ab" * 65 + "\n", 5,
                     "[server] psk_key: 65 bytes, at most 64 are supported"),
    "identity_too_long": ("[server]\nuri = coaps://h\nsecurity_mode = psk\npsk_identity = " + "i" * 65 +
                          f"\npsk_key = {SECRET}\n", 4, '[server] psk_identity = "' + "i" * 65 +
                          '": expected 1..64 bytes'),
    "key_with_coap": (f"[server]\nuri = coap://127.0.0.1\npsk_identity = gw\npsk_key = {SECRET}\n", 4,
                      "[server] psk_key: given, but uri is coap:// (no DTLS): use coaps:// or remove it"),
    "psk_mode_with_coap": (f"[server]\nuri = coap://127.0.0.1\nsecurity_mode = psk\npsk_identity = gw\n"
                           f"psk_key = {SECRET}\n", 3,
                           "[server] security_mode: only nosec goes with coap:// (uri, line 2); use coaps://"),
    "nosec_with_coaps": ("[server]\nuri = coaps://127.0.0.1\nsecurity_mode = nosec\n", 3,
                         '[server] security_mode = "nosec": coaps:// (uri, line 2) needs psk, certificate or rpk'),
    "mode_unknown": ("[server]\nuri = coaps://127.0.0.1\nsecurity_mode = tls\n", 3,
                     '[server] security_mode = "tls": expected psk, certificate, rpk or nosec'),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_check_config_dtls_errors(tmp_path, case):
    text, line, msg = BAD[case]
    p = tmp_path / "lwm2md.ini"
    p.write_text(text)
    cp = run_cli(["--check-config", "-c", p])
    assert cp.returncode == 78, f"exit {cp.returncode}:\n{cp.stderr}"
    assert f"{p}:{line}: {msg}" in cp.stderr.splitlines(), cp.stderr
    assert SECRET not in cp.stderr


def test_check_config_accepts_psk(tmp_path):
    p = tmp_path / "lwm2md.ini"
    p.write_text(PSK_HEAD + f"psk_key = {SECRET}\n")
    cp = run_cli(["--check-config", "-c", p])
    assert cp.returncode == 0, cp.stderr
    assert SECRET not in cp.stdout + cp.stderr


# --- against the test server ---------------------------------------------------------

@pytest.fixture(scope="module")
def dtls_server(tmp_path_factory):
    srv = LeshanServer(tmp_path_factory.mktemp("leshan-dtls"), coaps=True)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def drest(dtls_server):
    return Rest(dtls_server.api)


def psk_opts(server, identity, key=KEY, **kw):
    return {"uri": server.coaps_uri, "security_mode": "psk", "psk_identity": identity,
            "psk_key": key, **kw}


@pytest.fixture
def psk_dev(daemon, dtls_server, drest, endpoint):
    drest.set_psk(endpoint, f"{endpoint}-id", KEY)
    return daemon(server=dtls_server, server_opts=psk_opts(dtls_server, f"{endpoint}-id"))


def test_psk_register_and_deregister(daemon, dtls_server, drest, endpoint, events):
    drest.set_psk(endpoint, f"{endpoint}-id", KEY)
    ev = events(endpoint, dtls_server)
    d = daemon(server=dtls_server, server_opts=psk_opts(dtls_server, f"{endpoint}-id"))
    reg = drest.client(endpoint)
    assert reg["secure"] is True, reg
    assert "/3/0" in [link["url"] for link in reg["objectLinks"]], reg
    assert f"registered with {dtls_server.coaps_uri} as {endpoint}" in d.log()
    assert d.stop(signal.SIGTERM, timeout=15) == 0
    ev.wait_for("DEREGISTRATION", timeout=10)
    assert drest.client(endpoint) is None


def test_psk_key_never_in_the_log(psk_dev, drest, endpoint):
    assert drest.read(endpoint, "3/0/0").code == 205
    text = psk_dev.log()
    assert KEY not in text.lower() and bytes.fromhex(KEY).decode() not in text


def test_security_object_refused_over_dtls(psk_dev, drest, endpoint):
    """The server reads no keys: the Security object answers 4.01 to any read."""
    for path in ("0", "0/0", "0/0/2", "0/0/3", "0/0/5"):
        r = drest.read(endpoint, path)
        assert r.code == 401, (path, r)


def test_read_write_over_dtls(psk_dev, drest, endpoint):
    r = drest.read(endpoint, "3/0")
    assert r.code == 205, r
    r = drest.write(endpoint, "1/0/1", res(1, 45))
    assert r.code == 204, r
    assert drest.read(endpoint, "1/0/1").content == 45
    # the new lifetime goes to the server in an Update, over the same session
    drest.wait_client(endpoint, timeout=20, pred=lambda reg: reg["lifetime"] == 45,
                      what="updated with lifetime 45")


def test_observe_over_dtls(psk_dev, drest, endpoint, events, dtls_server):
    ev = events(endpoint, dtls_server)
    r = observe(drest, endpoint, "1/0/1")
    assert (r.code, r.content) == (205, 300), r
    assert drest.write(endpoint, "1/0/1", res(1, 120)).code == 204
    n = ev.wait_for("NOTIFICATION", is_notification_of("/1/0/1"), timeout=15)
    assert single_value(n.data) == 120, n.data


def test_send_over_dtls(daemon, dtls_server, drest, endpoint, events):
    drest.set_psk(endpoint, f"{endpoint}-id", KEY)
    ev = events(endpoint, dtls_server)
    daemon(server=dtls_server, server_opts=psk_opts(dtls_server, f"{endpoint}-id"),
           sections={"send.g": {"paths": "/3/0/0", "period": 2}})
    s = ev.wait_for("SEND", timeout=20)
    assert "/3/0/0" in s.data["val"], s.data


def test_wrong_key_refused_named_and_retried(daemon, dtls_server, drest, endpoint):
    """The server holds another key: the handshake fails, the log names the
    server and the failure, the daemon retries on its schedule without
    spinning, and registers once the server has the right key."""
    drest.set_psk(endpoint, f"{endpoint}-id", WRONG)
    d = daemon(server=dtls_server, wait=False,
               server_opts=psk_opts(dtls_server, f"{endpoint}-id", retry_count=3, retry_timer=1,
                                    sequence_delay=2, sequence_retry_count=2))
    uri = re.escape(dtls_server.coaps_uri)
    d.wait_log(rf"error: server {uri}: DTLS handshake failed: ", timeout=HANDSHAKE_FAIL_TIMEOUT)
    d.wait_log(rf"server {uri}: registration failed: DTLS handshake failed; next try in",
               timeout=10)
    assert drest.client(endpoint) is None
    d.assert_alive("after a refused handshake")
    c0, t0 = d.cpu_seconds(), time.monotonic()
    time.sleep(3)
    used, wall = d.cpu_seconds() - c0, time.monotonic() - t0
    assert used < 0.25 * wall, f"{used:.2f} s of CPU in {wall:.1f} s while the handshake is refused"
    # a later try (a new handshake) with the right key on the server gets through
    drest.set_psk(endpoint, f"{endpoint}-id", KEY)
    assert {"endpoint": endpoint, "tls": {"mode": "psk", "details": {"identity": f"{endpoint}-id", "key": KEY}}} \
        in drest.security()
    reg = drest.wait_client(endpoint, timeout=HANDSHAKE_FAIL_TIMEOUT + 30,
                            what="registered once the server has the right key")
    assert reg["secure"] is True
    assert "starting a new DTLS session" in d.log()


def test_server_restart_registers_again_over_a_new_handshake(daemon, tmp_path_factory, endpoint):
    """The server restarts and forgets every session and registration: the
    client's Update on the old session goes unanswered, so it starts a new
    handshake and registers again by itself."""
    srv = LeshanServer(tmp_path_factory.mktemp("leshan-dtls-restart"), coaps=True).start()
    try:
        rest = Rest(srv.api)
        rest.set_psk(endpoint, f"{endpoint}-id", KEY)
        d = daemon(server=srv, lifetime=20, server_opts=psk_opts(srv, f"{endpoint}-id"))
        before = rest.client(endpoint)["registrationId"]
        srv.restart()
        rest.set_psk(endpoint, f"{endpoint}-id", KEY)     # the security store is in memory
        assert rest.client(endpoint) is None
        after = rest.wait_client(endpoint, timeout=240,
                                 what="registered again after the server restart")
        assert after["registrationId"] != before
        assert after["secure"] is True
        assert "starting a new DTLS session" in d.log()
        d.assert_alive()
        assert d.stop(signal.SIGTERM, timeout=15) == 0
    finally:
        srv.stop()


def test_lwm2mctl_reads_no_security_resources(daemon, dtls_server, drest, endpoint, tmp_path):
    """lwm2mctl, like the server, reads nothing of the Security object: no key
    material leaves the daemon by any path."""
    from test_ctl import ctl
    drest.set_psk(endpoint, f"{endpoint}-id", KEY)
    sock = tmp_path / "ctl.sock"
    d = daemon(server=dtls_server, server_opts=psk_opts(dtls_server, f"{endpoint}-id"),
               sections={"control": {"socket": str(sock)}})
    for path in ("/0", "/0/0", "/0/0/2", "/0/0/3", "/0/0/5"):
        cp = ctl(d, "read", path)
        assert cp.returncode != 0 and cp.stdout == "", (path, cp.stdout, cp.stderr)
        assert "the Security object is not readable" in cp.stderr, (path, cp.stderr)


def test_sighup_with_a_new_key_registers_over_a_new_session(daemon, dtls_server, drest, endpoint, events):
    """The key is changed on both sides and the config reloaded: the daemon
    de-registers, and registers again over a handshake with the new key."""
    NEW = "a1" * 16
    drest.set_psk(endpoint, f"{endpoint}-id", KEY)
    ev = events(endpoint, dtls_server)
    d = daemon(server=dtls_server, server_opts=psk_opts(dtls_server, f"{endpoint}-id"))
    before = drest.client(endpoint)["registrationId"]
    drest.set_psk(endpoint, f"{endpoint}-id", NEW)
    d.reconfigure(server={"psk_key": NEW})
    d.signal(signal.SIGHUP)
    ev.wait_for("DEREGISTRATION", timeout=20)
    reg = Rest(dtls_server.api).wait_client(endpoint, timeout=60, pred=lambda r: r["registrationId"] != before,
                                            what="registered again with the new key")
    assert reg["secure"] is True
    assert NEW not in d.log().lower()
