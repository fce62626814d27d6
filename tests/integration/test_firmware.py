"""The Firmware Update object (5): push through Leshan (opaque and TLV, block-wise),
pull over http, https and coap, integrity (swupdate's dry run, detached ECDSA/RSA
signatures), install through swupdate's IPC or an install command, the result after a
"reboot" (the daemon killed and started again, as a power cut or reboot would), resume
of an interrupted pull, Cancel, and the failures: 404, unsupported protocol, invalid
URI, a full disk, a corrupted image, a bad signature.

Everything runs against real components: Debian's swupdate (a sandboxed daemon),
nginx (http/https with a test CA), the Leshan-based test server, a CoAP file server."""

from __future__ import annotations

import re
import time

import pytest

from fwfix import CoapFiles, CoapsFiles, Nginx, Swupdate, make_keys, make_swu, sha256, sign, tmpfs
from leshan import Rest, res
from reporting_util import is_notification_of, observe, single_value
from util import poll

IDLE, DOWNLOADING, DOWNLOADED, UPDATING = 0, 1, 2, 3


# --- fixtures ------------------------------------------------------------------

@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    return make_keys(tmp_path_factory.mktemp("fwkeys"))


@pytest.fixture(scope="session")
def nginx(tmp_path_factory, keys):
    n = Nginx(tmp_path_factory.mktemp("nginx"), keys).start()
    yield n
    n.stop()


@pytest.fixture
def swupdate(tmp_path, keys):
    s = Swupdate(tmp_path / "swupdate", keys / "swu.cert.pem").start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def coapsfiles(tmp_path_factory, keys):
    c = CoapsFiles(tmp_path_factory.mktemp("coaps"), keys).start()
    yield c
    c.stop()


@pytest.fixture
def coapfiles():
    c = CoapFiles()
    yield c
    c.close()


@pytest.fixture
def slow_rest(leshan):
    """REST calls that may take a while (a block-wise push of a whole image)."""
    return Rest(leshan.api, timeout=60)


class Box:
    """A gateway under test: the daemon, its root folder (where images install and
    the version file lives) and its reboot flag."""

    def __init__(self, d, root, flag):
        self.d, self.root, self.flag = d, root, flag

    @property
    def version_file(self):
        return self.root / "version"


@pytest.fixture
def box(daemon, tmp_path, keys):
    def start(swupdate=None, firmware=None, hooks=None, version="1.0.0"):
        root = tmp_path / "root"
        root.mkdir(exist_ok=True)
        (root / "version").write_text(version + "\n")
        flag = tmp_path / "reboot-requested"
        fw = {"version_file": root / "version", "timeout": 10, "ca_file": keys / "ca.cert.pem"}
        if swupdate:
            fw["swupdate_dir"] = swupdate.dir
        fw.update(firmware or {})
        d = daemon(sections={"firmware": fw, "hooks": {"reboot": f"touch {flag}", **(hooks or {})}})
        return Box(d, root, flag)
    return start


def fw_state(rest, ep):
    return rest.read(ep, "5/0/3").content, rest.read(ep, "5/0/5").content


def wait_state(rest, ep, state, result=0, timeout=30):
    """Polls State and Update Result until they are (state, result); fails fast when the
    pair settles on something else that cannot change by itself."""
    def check():
        s = fw_state(rest, ep)
        if s == (state, result):
            return s
        if s[0] == IDLE and s[1] not in (0, result) and state != IDLE:
            raise AssertionError(f"5/0: Idle with Update Result {s[1]}, waiting for {(state, result)}")
        return None
    return poll(check, timeout, f"5/0 State/Update Result {(state, result)}", interval=0.1)


def push(rest, ep, data: bytes, fmt="OPAQUE"):
    return rest.write(ep, "5/0/0", res(0, data, "OPAQUE"), format=fmt)


def write_uri(rest, ep, uri: str):
    return rest.write(ep, "5/0/1", res(1, uri, "STRING"), format="TEXT")


def restart(box):
    """A reboot as the box sees it: the daemon dies (SIGKILL, like a power cut) and
    starts again with the same config and state folder."""
    box.d.kill()
    box.d.start()


def image_path(box):
    return poll(lambda: box.d.state_dir and __import__("pathlib").Path(box.d.state_dir) / "firmware.img",
                1, "state dir")


# --- the object ----------------------------------------------------------------

def test_object_resources(box, rest, endpoint):
    """Read /5/0: every resource Leshan's model of object 5 knows, with the values a
    fresh client reports (Idle, result 0, protocols coap/http/https, push and pull)."""
    box()
    r = rest.read(endpoint, "5/0", format="TLV")
    assert r.code == 205, r
    c = r.content
    assert c[3] == IDLE and c[5] == 0, c
    assert c[1] == "", c
    assert sorted(c[8].values()) == [0, 1, 2, 3], c[8]
    assert c[9] == 2, c
    assert c[11] == 1 and c[13] == 0, c
    assert 0 not in c and 2 not in c and 10 not in c, f"write-only/executable resources in a read: {c}"
    reg = rest.client(endpoint)
    links = {l["url"]: l for l in reg.get("objectLinks", [])}
    assert links.get("/5", {}).get("attributes", {}).get("ver") in ("1.1", None) or "/5/0" in links, reg


def test_writable_settings_persist(box, rest, endpoint):
    b = box()
    assert rest.write(endpoint, "5/0/11", res(11, 0, "INTEGER"), format="TEXT").code == 204
    assert rest.write(endpoint, "5/0/13", res(13, 3600, "UNSIGNED_INTEGER"), format="TEXT").code == 204
    assert rest.write(endpoint, "5/0/11", res(11, 7, "INTEGER"), format="TEXT").code == 400
    restart(b)
    time.sleep(0.5)
    assert rest.read(endpoint, "5/0/11").content == 0
    assert rest.read(endpoint, "5/0/13").content == 3600


def test_update_and_cancel_refused_when_idle(box, rest, endpoint):
    box()
    assert rest.execute(endpoint, "5/0/2").code == 405
    assert rest.execute(endpoint, "5/0/10").code == 405


@pytest.mark.parametrize("uri,result", [("ftp://127.0.0.1/fw.swu", 9), ("coap+tcp://127.0.0.1/fw", 9),
                                        ("not a uri", 7), ("http://", 7)])
def test_uri_refused_with_result(box, rest, endpoint, uri, result):
    """An unsupported scheme is Update Result 9, something that is no URI 7; the state
    stays Idle.  An empty URI then resets the result."""
    box()
    assert write_uri(rest, endpoint, uri).code == 204
    assert fw_state(rest, endpoint) == (IDLE, result)
    assert write_uri(rest, endpoint, "").code == 204
    assert fw_state(rest, endpoint) == (IDLE, 0)


# --- push ----------------------------------------------------------------------

def test_push_swu_install_reboot_success(box, swupdate, slow_rest, rest, endpoint, events, tmp_path, keys):
    """Push a signed .swu through Leshan (block-wise opaque write), swupdate's dry run
    accepts it, Execute Update installs it through swupdate into the sandbox and runs
    the reboot hook; after the "reboot" the version file says 2.0.0: Update Result 1,
    3/0/3 is the new version, and the observer of 5/0/5 is told."""
    b = box(swupdate=swupdate)
    payload = bytes(range(256)) * 600           # 150 KiB: ~150 blocks
    swu = make_swu(tmp_path / "good.swu", b.root, payload, "2.0.0", keys).read_bytes()
    ev = events(endpoint)
    assert observe(rest, endpoint, "5/0/5").code == 205

    r = push(slow_rest, endpoint, swu)
    assert r.code == 204, r
    wait_state(rest, endpoint, DOWNLOADED)
    assert rest.read(endpoint, "5/0/7").content == "2.0.0"
    assert rest.read(endpoint, "5/0/6").content == "lwm2md-test"
    assert not (b.root / "payload.bin").exists(), "dry run installed something"
    assert rest.read(endpoint, "3/0/3", format="TEXT").content == "1.0.0"

    assert rest.execute(endpoint, "5/0/2").code == 204
    poll(b.flag.exists, 30, "reboot hook after the install")
    assert (b.root / "payload.bin").read_bytes() == payload
    assert (b.root / "version").read_text().strip() == "2.0.0"
    assert fw_state(rest, endpoint)[0] == UPDATING

    restart(b)
    n = ev.wait_for("NOTIFICATION", lambda d: is_notification_of("/5/0/5")(d) and single_value(d) == 1,
                    timeout=30)
    assert single_value(n.data) == 1
    assert fw_state(rest, endpoint) == (IDLE, 1)
    assert rest.read(endpoint, "3/0/3", format="TEXT").content == "2.0.0"
    b.d.wait_log(r"firmware update succeeded: running \"2\.0\.0\" \(was \"1\.0\.0\"\)")
    assert not image_path(b).exists()


def test_push_tlv_install_command_reboot_into_old_version(box, slow_rest, rest, endpoint, tmp_path):
    """Without swupdate: a TLV push, the install command gets the image, the reboot
    hook runs; the box comes back with the old version: Update Result 8."""
    dest = tmp_path / "installed.img"
    b = box(firmware={"install_command": f'cp "$LWM2MD_FW_IMAGE" {dest}'})
    image = bytes((i * 7) & 0xFF for i in range(70000))
    assert push(slow_rest, endpoint, image, fmt="TLV").code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert image_path(b).read_bytes() == image
    assert rest.execute(endpoint, "5/0/2").code == 204
    poll(b.flag.exists, 15, "reboot hook")
    assert dest.read_bytes() == image
    restart(b)
    poll(lambda: fw_state(rest, endpoint) == (IDLE, 8), 20, "Update Result 8 after the reboot")
    assert rest.read(endpoint, "3/0/3", format="TEXT").content == "1.0.0"
    b.d.wait_log(r"firmware update failed: still running \"1\.0\.0\"")
    assert not image_path(b).exists()


def test_push_empty_package_resets(box, slow_rest, rest, endpoint):
    b = box(firmware={"install_command": "true"})
    assert push(slow_rest, endpoint, b"\x01" * 5000).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert push(rest, endpoint, b"").code == 204
    assert fw_state(rest, endpoint) == (IDLE, 0)
    assert not image_path(b).exists()


def test_push_corrupted_swu_refused(box, swupdate, slow_rest, rest, endpoint, tmp_path, keys):
    """A .swu with one payload byte flipped: swupdate's dry run refuses it, Update
    Result 5, the image is removed and nothing was installed."""
    b = box(swupdate=swupdate)
    swu = bytearray(make_swu(tmp_path / "c.swu", b.root, b"A" * 20000, "2.0.0", keys).read_bytes())
    swu[-3000] ^= 0xFF
    assert push(slow_rest, endpoint, bytes(swu)).code == 204
    wait_state(rest, endpoint, IDLE, 5)
    assert not image_path(b).exists()
    assert not (b.root / "payload.bin").exists()
    b.d.wait_log(r"swupdate refused the image")
    assert rest.client(endpoint), "still registered"


def test_push_signed_prefix(box, slow_rest, rest, endpoint, keys, tmp_path):
    """With [firmware] public_key, a pushed Package carries its signature in front
    ("LWM2MSIG", length, DER signature): RSA accepted, another key refused (result 5)."""
    b = box(firmware={"public_key": keys / "rsa.pub.pem", "install_command": "true"})
    image = b"firmware " * 3000
    p = tmp_path / "img"
    p.write_bytes(image)

    def package(key):
        sig = sign(p, key)
        return b"LWM2MSIG" + len(sig).to_bytes(2, "big") + sig + image

    assert push(slow_rest, endpoint, package(keys / "rsa.key.pem")).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert image_path(b).read_bytes() == image
    assert push(rest, endpoint, b"").code == 204
    assert push(slow_rest, endpoint, package(keys / "other.key.pem")).code == 204
    wait_state(rest, endpoint, IDLE, 5)
    assert not image_path(b).exists()


# --- pull ----------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["http", "https", "coap", "coaps"])
def test_pull_install(box, swupdate, nginx, coapfiles, coapsfiles, rest, endpoint, tmp_path, keys, scheme):
    """Pull a signed .swu (http, https with the test CA, coap Block2, coaps with the test
    CA), dry run, install through swupdate: the payload lands in the sandbox."""
    b = box(swupdate=swupdate)
    payload = bytes(range(256)) * 200
    swu = make_swu(tmp_path / "p.swu", b.root, payload, "3.1.0", keys).read_bytes()
    name = f"{endpoint}.swu"
    if scheme == "coap":
        coapfiles.files[name] = swu
        uri = f"{coapfiles.base}/{name}"
    elif scheme == "coaps":
        coapsfiles.put(name, swu)
        uri = coapsfiles.url(name)
    else:
        nginx.put(name, swu)
        uri = nginx.url(name, scheme)
    assert write_uri(rest, endpoint, uri).code == 204
    assert rest.read(endpoint, "5/0/1").content == uri
    wait_state(rest, endpoint, DOWNLOADED)
    assert image_path(b).read_bytes() == swu
    assert rest.read(endpoint, "5/0/7").content == "3.1.0"
    assert rest.execute(endpoint, "5/0/2").code == 204
    poll(b.flag.exists, 30, "reboot hook after the install")
    assert (b.root / "payload.bin").read_bytes() == payload


def test_pull_404(box, nginx, rest, endpoint):
    b = box(firmware={"install_command": "true"})
    assert write_uri(rest, endpoint, nginx.url("no-such-image.swu")).code == 204
    wait_state(rest, endpoint, IDLE, 7)
    b.d.wait_log(r"no-such-image\.swu: HTTP status 404")
    assert not image_path(b).exists()


def test_pull_https_untrusted_certificate(box, nginx, rest, endpoint):
    """Certificate checks are on: without the test CA the pull fails (connection
    lost, after its retries) and nothing is kept."""
    b = box(firmware={"install_command": "true", "ca_file": "/etc/ssl/certs/ca-certificates.crt"})
    nginx.put(f"{endpoint}.bin", b"x" * 1000)
    assert write_uri(rest, endpoint, nginx.url(f"{endpoint}.bin", "https")).code == 204
    wait_state(rest, endpoint, IDLE, 4, timeout=40)
    b.d.wait_log(r"(?i)certificate|TLS")
    assert not image_path(b).exists()


def test_pull_coaps_untrusted_certificate(box, coapsfiles, rest, endpoint):
    """coaps:// checks the server's certificate: without the test CA, the pull fails
    (after its retries) with nothing kept."""
    b = box(firmware={"install_command": "true", "ca_file": "/etc/ssl/certs/ca-certificates.crt"})
    coapsfiles.put(f"{endpoint}.bin", b"y" * 3000)
    assert write_uri(rest, endpoint, coapsfiles.url(f"{endpoint}.bin")).code == 204
    wait_state(rest, endpoint, IDLE, 4, timeout=60)
    b.d.wait_log(r"TLS")
    assert not image_path(b).exists()


@pytest.mark.parametrize("key", ["sign", "rsa"])
def test_pull_detached_signature(box, nginx, rest, endpoint, keys, key):
    """public_key set: URI + ".sig" is fetched and checked (ECDSA P-256, RSA); a
    signature by another key is Update Result 5 and the image is removed."""
    b = box(firmware={"public_key": keys / f"{key}.pub.pem", "install_command": "true"})
    image = bytes(range(256)) * 100
    p = nginx.put(f"{endpoint}.bin", image)
    nginx.put(f"{endpoint}.bin.sig", sign(p, keys / f"{key}.key.pem"))
    assert write_uri(rest, endpoint, nginx.url(f"{endpoint}.bin")).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert write_uri(rest, endpoint, "").code == 204

    nginx.put(f"{endpoint}.bin.sig", sign(p, keys / "other.key.pem"))
    assert write_uri(rest, endpoint, nginx.url(f"{endpoint}.bin")).code == 204
    wait_state(rest, endpoint, IDLE, 5)
    b.d.wait_log(r"signature does not match")
    assert not image_path(b).exists()


def test_pull_disk_full(box, nginx, rest, endpoint, tmp_path):
    """The download folder is a 256 KiB tmpfs and the image 1 MiB: Update Result 2,
    nothing left behind, still registered."""
    dl = tmp_path / "small"
    umount = tmpfs(dl, "256k")
    try:
        b = box(firmware={"download_dir": dl, "install_command": "true"})
        nginx.put(f"{endpoint}.bin", b"\xAA" * (1 << 20))
        assert write_uri(rest, endpoint, nginx.url(f"{endpoint}.bin")).code == 204
        wait_state(rest, endpoint, IDLE, 2)
        assert list(dl.iterdir()) == [], list(dl.iterdir())
        assert rest.client(endpoint)
    finally:
        b.d.kill()
        umount()


def test_pull_resumes_after_sigkill(box, nginx, rest, endpoint):
    """SIGKILL mid-download (nginx sends 256 KiB/s), restart: the pull goes on with a
    Range request (If-Range with the ETag) and the image is complete and intact."""
    b = box(firmware={"install_command": "true"})
    image = bytes((i * 31 + 7) & 0xFF for i in range(900 * 1024))
    name = f"{endpoint}.bin"
    nginx.put(name, image)
    assert write_uri(rest, endpoint, nginx.url(name, slow=True)).code == 204
    img = image_path(b)
    poll(lambda: img.exists() and img.stat().st_size > 200 * 1024, 20, "part of the image on disk")
    b.d.kill()
    have = img.stat().st_size
    assert 0 < have < len(image)
    b.d.start()
    wait_state(rest, endpoint, DOWNLOADED, timeout=30)
    assert sha256(img.read_bytes()) == sha256(image)
    lines = nginx.log_lines(name)
    resumed = [l for l in lines if re.search(r'range="bytes=\d+-"', l) and "status=206" in l]
    assert resumed, "no Range request answered 206:\n" + "\n".join(lines)
    assert 'if_range="\\"' in resumed[0] or 'if_range="' in resumed[0], resumed[0]
    m = re.search(r'range="bytes=(\d+)-"', resumed[0])
    assert int(m.group(1)) > 0


def test_pull_changed_image_restarts(box, nginx, rest, endpoint):
    """The image changes on the server while the daemon is down: the resume's If-Range
    no longer matches, nginx sends the whole new body (200) and the image starts over."""
    b = box(firmware={"install_command": "true"})
    name = f"{endpoint}.bin"
    nginx.put(name, b"\x01" * (700 * 1024))
    assert write_uri(rest, endpoint, nginx.url(name, slow=True)).code == 204
    img = image_path(b)
    poll(lambda: img.exists() and img.stat().st_size > 100 * 1024, 20, "part of the image on disk")
    b.d.kill()
    new = b"\x02" * (300 * 1024)
    time.sleep(1.1)     # a new Last-Modified second, so a new ETag
    nginx.put(name, new)
    b.d.start()
    wait_state(rest, endpoint, DOWNLOADED, timeout=30)
    assert img.read_bytes() == new


def test_pull_coap_resumes_from_next_block(box, coapfiles, rest, endpoint):
    """CoAP pull cut by SIGKILL: after the restart it asks for the block after the last
    one on disk, not block 0."""
    b = box(firmware={"install_command": "true"})
    image = bytes((i * 13) & 0xFF for i in range(400 * 1024))
    name = f"{endpoint}.bin"
    coapfiles.files[name] = image
    gate = {"stop_after": 100}
    serve = coapfiles._serve

    def slow(msg, addr):
        if len(coapfiles.requests) >= gate["stop_after"]:
            return None                         # silence: the client waits
        return serve(msg, addr)
    coapfiles.handler = slow
    assert write_uri(rest, endpoint, f"{coapfiles.base}/{name}").code == 204
    poll(lambda: len(coapfiles.requests) >= 100, 20, "100 blocks asked for")
    img = image_path(b)
    time.sleep(0.3)
    b.d.kill()
    have = img.stat().st_size
    assert have >= 90 * 1024
    n_before = len(coapfiles.requests)
    gate["stop_after"] = 10 ** 9
    b.d.start()
    wait_state(rest, endpoint, DOWNLOADED, timeout=30)
    assert img.read_bytes() == image
    first = coapfiles.requests[n_before][1]
    assert first == have // 1024, f"resumed at block {first}, have {have} bytes"


def test_cancel_download(box, nginx, rest, endpoint):
    b = box(firmware={"install_command": "true"})
    name = f"{endpoint}.bin"
    nginx.put(name, b"\x05" * (2 << 20))
    assert write_uri(rest, endpoint, nginx.url(name, slow=True)).code == 204
    poll(lambda: fw_state(rest, endpoint)[0] == DOWNLOADING, 10, "Downloading")
    assert rest.execute(endpoint, "5/0/10").code == 204
    assert fw_state(rest, endpoint) == (IDLE, 10)
    time.sleep(0.5)
    assert not image_path(b).exists()
    assert rest.execute(endpoint, "5/0/10").code == 405


def test_install_failure_keeps_image(box, swupdate, slow_rest, rest, endpoint, tmp_path, keys):
    """swupdate accepts the image in the dry run but the install fails (post-install
    script exits 3): Update Result 8, back to Downloaded, no reboot."""
    b = box(swupdate=swupdate)
    swu = make_swu(tmp_path / "f.swu", b.root, b"P" * 5000, "2.0.0", keys, postinst_exit=3).read_bytes()
    assert push(slow_rest, endpoint, swu).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert rest.execute(endpoint, "5/0/2").code == 204
    wait_state(rest, endpoint, DOWNLOADED, 8)
    assert not b.flag.exists()


def test_install_command_stopped_after_install_timeout(box, slow_rest, rest, endpoint, tmp_path):
    """An install command that hangs is stopped after [firmware] install_timeout (2 s
    here; the [hooks] timeout is an hour): Update Result 8, the cause in the log, back to
    Downloaded, no reboot, the command's process gone and the device still registered."""
    pidfile = tmp_path / "install.pid"
    b = box(firmware={"install_command": f"echo $$ > {pidfile}; exec sleep 3600", "install_timeout": 2},
            hooks={"timeout": 3600})
    assert push(slow_rest, endpoint, b"\x07" * 3000).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert rest.execute(endpoint, "5/0/2").code == 204
    pid = int(poll(lambda: pidfile.exists() and pidfile.read_text().strip(), 15, "install command started"))
    wait_state(rest, endpoint, DOWNLOADED, 8, timeout=40)
    b.d.wait_log(r"install command did not finish within 2 s \(\[firmware\] install_timeout\)")
    b.d.wait_log(r"install failed: .*Update Result 8")
    poll(lambda: not __import__("os").path.exists(f"/proc/{pid}"), 15, "the install command's process gone")
    assert not b.flag.exists(), "reboot hook ran after a failed install"
    assert rest.client(endpoint)
    assert rest.read(endpoint, "3/0/3", format="TEXT").content == "1.0.0"


# --- the result after the reboot: what runs and the boot loader's update state ---

def install_and_reboot(box, slow_rest, rest, endpoint, tmp_path, firmware):
    """Push an image, Execute Update through an install command that records swupdate's
    "installed" state (ustate=1) in a boot loader environment file, wait for the reboot
    hook.  Returns (box, env file)."""
    env = tmp_path / "bootenv"
    env.write_text("ustate=0\n")
    script = tmp_path / "install.sh"
    script.write_text(f'cp "$LWM2MD_FW_IMAGE" {tmp_path / "installed.img"} && echo ustate=1 > {env}\n')
    b = box(firmware={"install_command": f"sh {script}", "boot_state_command": f"cat {env}", **firmware})
    assert push(slow_rest, endpoint, b"\x42" * 4000).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert rest.execute(endpoint, "5/0/2").code == 204
    poll(b.flag.exists, 15, "reboot hook")
    assert env.read_text() == "ustate=1\n"
    return b, env


@pytest.mark.parametrize("boot_state,result,cause", [
    ("ustate=3", 8, r"the boot loader reports the update failed; boot loader state failed"),
    ("failed", 8, r"reports the update failed"),
    ("7", 8, r"reports the update interrupted"),
    ("ustate=5", 8, r"reports the update failed; boot loader state error"),
    ("no idea", 8, r"boot_state_command printed \"no idea\", not an update state"),
    ("ustate=1", 1, r"firmware update succeeded: running \"2\.0\.0\" \(was \"1\.0\.0\"\); boot loader state installed"),
    ("ustate=0", 1, r"firmware update succeeded: .*boot loader state ok"),
    ("", 1, r"firmware update succeeded: .*boot loader state not_available"),
])
def test_reboot_result_from_version_and_boot_state(box, slow_rest, rest, endpoint, tmp_path,
                                                   boot_state, result, cause):
    """After the "reboot" the new version runs; the boot loader's update state (read by
    [firmware] boot_state_command) decides with it: failed, error, interrupted or
    unreadable is Update Result 8 with the cause logged, anything else 1."""
    b, env = install_and_reboot(box, slow_rest, rest, endpoint, tmp_path, {})
    b.version_file.write_text("2.0.0\n")
    env.write_text(boot_state + "\n" if boot_state else "")
    restart(b)
    wait_state(rest, endpoint, IDLE, result)
    b.d.wait_log(cause)
    assert rest.read(endpoint, "3/0/3", format="TEXT").content == "2.0.0"
    assert rest.client(endpoint)


def test_reboot_old_version_boot_state_ok_is_failure(box, slow_rest, rest, endpoint, tmp_path):
    """The boot loader says all is well, but the old version still runs: 8."""
    b, env = install_and_reboot(box, slow_rest, rest, endpoint, tmp_path, {})
    env.write_text("ustate=0\n")
    restart(b)
    wait_state(rest, endpoint, IDLE, 8)
    b.d.wait_log(r"firmware update failed: still running \"1\.0\.0\" after the install; "
                 r"boot loader state ok")


def test_reboot_boot_state_command_fails(box, slow_rest, rest, endpoint, tmp_path):
    """A boot state command that fails never counts as success, even with the new version."""
    b, env = install_and_reboot(box, slow_rest, rest, endpoint, tmp_path, {})
    b.d.reconfigure(firmware={"boot_state_command": "echo 'fw_printenv: cannot read env' >&2; exit 2"})
    b.version_file.write_text("2.0.0\n")
    restart(b)
    wait_state(rest, endpoint, IDLE, 8)
    b.d.wait_log(r"update state is unknown \(boot_state_command: exit status 2\): Update Result 8")


def test_reboot_testing_state_confirmed(box, slow_rest, rest, endpoint, events, tmp_path):
    """New version, boot loader "testing" (ustate=2): boot_confirm_command marks it good
    (ustate=0 in the environment), then Update Result 1 goes to the observer and 3/0/3
    says 2.0.0.  A confirm command that fails is 8: unconfirmed, the boot loader would
    fall back at the next boot."""
    b, env = install_and_reboot(box, slow_rest, rest, endpoint, tmp_path,
                                {"boot_confirm_command": f"echo ustate=0 > {tmp_path / 'bootenv'}"})
    ev = events(endpoint)
    assert observe(rest, endpoint, "5/0/5").code == 205
    b.version_file.write_text("2.0.0\n")
    env.write_text("ustate=2\n")
    restart(b)
    ev.wait_for("NOTIFICATION", lambda d: is_notification_of("/5/0/5")(d) and single_value(d) == 1,
                timeout=30)
    assert fw_state(rest, endpoint) == (IDLE, 1)
    assert env.read_text() == "ustate=0\n"
    assert rest.read(endpoint, "3/0/3", format="TEXT").content == "2.0.0"
    b.d.wait_log(r"boot loader is testing it: confirming")
    b.d.wait_log(r"confirmed to the boot loader")


def test_reboot_testing_state_confirm_fails(box, slow_rest, rest, endpoint, tmp_path):
    b, env = install_and_reboot(box, slow_rest, rest, endpoint, tmp_path,
                                {"boot_confirm_command": "exit 1"})
    b.version_file.write_text("2.0.0\n")
    env.write_text("ustate=2\n")
    restart(b)
    wait_state(rest, endpoint, IDLE, 8)
    b.d.wait_log(r"could not be confirmed \(boot_confirm_command: exit status 1\)")


# --- deferral (1.2: Update Result 11, Severity, Maximum Defer Period) -----------

def deferring_box(box, tmp_path, answer: int, extra=None):
    """A box whose defer_command records what it was told and answers with its exit
    status (0 install now, 1 defer).  Returns (box, installed image path, record)."""
    dest = tmp_path / "installed.img"
    record = tmp_path / "asked"
    script = tmp_path / "defer.sh"
    script.write_text(f'echo "severity=$LWM2MD_FW_SEVERITY left=$LWM2MD_FW_DEFER_LEFT" >> {record}\n'
                      f"exit {answer}\n")
    b = box(firmware={"install_command": f'cp "$LWM2MD_FW_IMAGE" {dest}', "defer_command": f"sh {script}",
                      **(extra or {})})
    return b, dest, record


def write_defer(rest, ep, seconds: int, severity: int = 1):
    assert rest.write(ep, "5/0/13", res(13, seconds, "UNSIGNED_INTEGER"), format="TEXT").code == 204
    assert rest.write(ep, "5/0/11", res(11, severity, "INTEGER"), format="TEXT").code == 204


def test_update_deferred_then_installed_when_the_period_ends(box, slow_rest, rest, endpoint, events, tmp_path):
    """Maximum Defer Period 6 s, Severity Mandatory, the defer command defers: Execute
    Update is answered 2.04, the state stays Downloaded with Update Result 11 (seen by
    an observer), nothing is installed; a restart keeps the deferral; once the period is
    over the update installs without asking again and the reboot hook runs."""
    b, dest, record = deferring_box(box, tmp_path, 1)
    write_defer(rest, endpoint, 6)
    assert push(slow_rest, endpoint, b"\x11" * 3000).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    ev = events(endpoint)
    assert observe(rest, endpoint, "5/0/5").code == 205
    changed_before = rest.read(endpoint, "5/0/12").content
    assert rest.execute(endpoint, "5/0/2").code == 204
    ev.wait_for("NOTIFICATION", lambda d: is_notification_of("/5/0/5")(d) and single_value(d) == 11,
                timeout=20)
    assert fw_state(rest, endpoint) == (DOWNLOADED, 11)
    assert not dest.exists() and not b.flag.exists()
    asked = record.read_text().splitlines()
    assert len(asked) == 1 and asked[0].startswith("severity=1 left="), asked
    assert 0 < int(asked[0].split("left=")[1]) <= 6
    assert rest.read(endpoint, "5/0/12").content == changed_before, "State did not change"
    b.d.wait_log(r"update deferred by defer_command; .*Update Result 11")
    restart(b)
    assert fw_state(rest, endpoint) in ((DOWNLOADED, 11), (UPDATING, 0), (IDLE, 8)), fw_state(rest, endpoint)
    poll(b.flag.exists, 40, "the deferred update installed and the reboot hook run")
    assert dest.read_bytes() == b"\x11" * 3000
    b.d.wait_log(r"Maximum Defer Period \(6 s\) is over: installing without asking")
    assert len(record.read_text().splitlines()) == 1, "asked again after the period"
    assert fw_state(rest, endpoint)[0] in (UPDATING, IDLE)


def test_update_accepted_by_defer_command(box, slow_rest, rest, endpoint, tmp_path):
    b, dest, record = deferring_box(box, tmp_path, 0)
    write_defer(rest, endpoint, 3600, severity=2)
    assert push(slow_rest, endpoint, b"\x12" * 3000).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert rest.execute(endpoint, "5/0/2").code == 204
    poll(b.flag.exists, 20, "reboot hook")
    assert dest.exists()
    assert record.read_text().startswith("severity=2 left=3600"), record.read_text()
    b.d.wait_log(r"defer_command accepted the update")


@pytest.mark.parametrize("seconds,severity,why", [(3600, 0, "Severity Critical"), (0, 1, "Maximum Defer Period 0")])
def test_update_not_deferrable(box, slow_rest, rest, endpoint, tmp_path, seconds, severity, why):
    """A Critical image, or a Maximum Defer Period of 0: the defer command is not asked
    and the update installs at once."""
    b, dest, record = deferring_box(box, tmp_path, 1)
    write_defer(rest, endpoint, seconds, severity)
    assert push(slow_rest, endpoint, b"\x13" * 3000).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert rest.execute(endpoint, "5/0/2").code == 204
    poll(b.flag.exists, 20, "reboot hook")
    assert not record.exists()
    b.d.wait_log(rf"update not offered for deferral \({why}\)")


def test_deferred_update_cancelled(box, slow_rest, rest, endpoint, tmp_path):
    """Cancel while deferred: Idle, Update Result 10, the image gone, and nothing installs
    when the period would have ended."""
    b, dest, record = deferring_box(box, tmp_path, 1)
    write_defer(rest, endpoint, 3)
    assert push(slow_rest, endpoint, b"\x14" * 3000).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert rest.execute(endpoint, "5/0/2").code == 204
    wait_state(rest, endpoint, DOWNLOADED, 11)
    assert rest.execute(endpoint, "5/0/10").code == 204
    assert fw_state(rest, endpoint) == (IDLE, 10)
    time.sleep(5)
    assert not dest.exists() and not b.flag.exists()
    assert not image_path(b).exists()


def test_last_state_change_time(box, slow_rest, rest, endpoint):
    """12 is the wall-clock time of the last State change (set before the change)."""
    box(firmware={"install_command": "true"})
    t0 = int(time.time())
    assert push(slow_rest, endpoint, b"\x15" * 2000).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    t = rest.read(endpoint, "5/0/12").content.timestamp()
    assert t0 - 5 <= t <= time.time() + 5, t


def test_automatic_upgrade_at_download_asks_to_defer(box, slow_rest, rest, endpoint, tmp_path):
    """Automatic Upgrade at Download (14, 1.2) set: the finished download goes to the
    update by itself, through the same deferral question: deferred (11) first, then an
    Execute Update asks again and the command's new answer installs."""
    b, dest, record = deferring_box(box, tmp_path, 1)
    write_defer(rest, endpoint, 3600)
    assert rest.write(endpoint, "5/0/14", res(14, True, "BOOLEAN"), format="TEXT").code == 204
    assert push(slow_rest, endpoint, b"\x16" * 3000).code == 204
    wait_state(rest, endpoint, DOWNLOADED, 11)
    assert not dest.exists()
    (tmp_path / "defer.sh").write_text(f'echo "again left=$LWM2MD_FW_DEFER_LEFT" >> {record}\nexit 0\n')
    assert rest.execute(endpoint, "5/0/2").code == 204
    poll(b.flag.exists, 20, "reboot hook")
    assert dest.read_bytes() == b"\x16" * 3000
    asked = record.read_text().splitlines()
    assert len(asked) == 2 and asked[1].startswith("again left="), asked
    assert 0 < int(asked[1].split("left=")[1]) <= 3600


def test_pull_coap_block_size(box, coapfiles, rest, endpoint):
    """[firmware] coap_block_size = 512: a CoAP pull asks for 512-byte blocks (one
    request per 512 bytes) and the image is whole."""
    b = box(firmware={"install_command": "true", "coap_block_size": 512})
    image = bytes((i * 7 + 3) & 0xFF for i in range(5000))
    name = f"{endpoint}.bin"
    coapfiles.files[name] = image
    assert write_uri(rest, endpoint, f"{coapfiles.base}/{name}").code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert image_path(b).read_bytes() == image
    assert [n for _, n in coapfiles.requests] == list(range(10)), coapfiles.requests


def test_deferred_update_installs_when_severity_becomes_critical(box, slow_rest, rest, endpoint, tmp_path):
    """A Critical image is never deferred: raising Severity to Critical (0) while an update
    is deferred installs it without asking again."""
    b, dest, record = deferring_box(box, tmp_path, 1)
    write_defer(rest, endpoint, 3600)
    assert push(slow_rest, endpoint, b"\x17" * 3000).code == 204
    wait_state(rest, endpoint, DOWNLOADED)
    assert rest.execute(endpoint, "5/0/2").code == 204
    wait_state(rest, endpoint, DOWNLOADED, 11)
    assert not dest.exists()
    assert rest.write(endpoint, "5/0/11", res(11, 0, "INTEGER"), format="TEXT").code == 204
    poll(b.flag.exists, 20, "reboot hook after Severity became Critical")
    assert dest.read_bytes() == b"\x17" * 3000
    assert len(record.read_text().splitlines()) == 1
    b.d.wait_log(r"Severity is now Critical: the deferred update installs")
