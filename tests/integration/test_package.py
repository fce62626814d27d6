"""What the Debian package and the shipped hooks do for a user: `make deb`
builds a lintian-clean package; installed with dpkg it creates the lwm2md
user, gives it its folders and enables the unit; the installed daemon runs as
that unprivileged user and registers with the server; purge removes the state.
The factory-reset hook the package ships writes the factory configuration back
when the server executes 3/0/5."""

import grp
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from daemon import REPO, die_with_parent, ini_text
from util import poll

HOOK = REPO / "packaging" / "hooks" / "factory-reset"


def run(cmd, check=True, timeout=600, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


# ---- the factory-reset hook ---------------------------------------------------

def test_factory_reset_restores_factory_config(daemon, leshan, rest, endpoint, tmp_path):
    """3/0/5 with the shipped hook: the config beside factory.ini is replaced by
    it; started again, the daemon uses it (here: another endpoint name)."""
    d = daemon(hooks={"factory_reset": str(HOOK)})
    factory_ep = endpoint + "-factory"
    sections = {k: dict(v) for k, v in d.sections.items()}
    sections["server"]["endpoint"] = factory_ep
    sections["hooks"] = {"factory_reset": str(HOOK)}
    factory = d.cfg_path.parent / "factory.ini"
    factory.write_text(ini_text(sections))
    assert rest.execute(endpoint, "3/0/5").code == 204
    assert d.wait(15) == 75
    assert d.cfg_path.read_text() == factory.read_text()
    assert oct(d.cfg_path.stat().st_mode & 0o777) == "0o640"
    assert f"{d.cfg_path} restored from {factory}" in d.log()
    d.sections = sections
    d.start()
    rest.wait_client(factory_ep, timeout=20)


def test_factory_reset_hook_falls_back_to_packaged_default(tmp_path):
    """No factory.ini: the packaged default is written back; neither: exit 1
    with a message that names both, and the config left as it was."""
    conf = tmp_path / "lwm2md.ini"
    conf.write_text("[server]\nuri = coap://192.0.2.1\n")
    default = tmp_path / "default.ini"
    default.write_text("[server]\nuri = coap://127.0.0.1\n")
    env = dict(os.environ, LWM2MD_CONFIG=str(conf), LWM2MD_DEFAULT_CONFIG=str(default))
    r = run([str(HOOK)], env=env)
    assert conf.read_text() == default.read_text()
    assert "restored from " + str(default) in r.stdout

    conf.write_text("kept\n")
    env["LWM2MD_DEFAULT_CONFIG"] = str(tmp_path / "missing.ini")
    r = run([str(HOOK)], env=env, check=False)
    assert r.returncode == 1
    assert f"{tmp_path}/factory.ini" in r.stderr and "missing.ini" in r.stderr, r.stderr
    assert conf.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.ini", "lwm2md.ini"]


# ---- the Debian package -------------------------------------------------------

@pytest.fixture(scope="module")
def deb():
    if os.geteuid() != 0:
        pytest.fail("the package tests install with dpkg: run them as root (make check does)")
    run(["make", "-C", str(REPO), "deb"])
    debs = [p for p in (REPO / "build" / "deb").glob("lwm2md_*.deb")]
    assert len(debs) == 1, debs
    return debs[0]


def test_package_contents_and_lintian(deb):
    names = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in ("./usr/bin/lwm2md", "./usr/bin/lwm2mctl", "./etc/lwm2md/lwm2md.ini",
                 "./lib/systemd/system/lwm2md.service", "./usr/lib/sysusers.d/lwm2md.conf",
                 "./usr/lib/tmpfiles.d/lwm2md.conf", "./usr/lib/lwm2md/reboot",
                 "./usr/lib/lwm2md/factory-reset", "./usr/share/lwm2md/lwm2md.ini",
                 "./usr/share/polkit-1/rules.d/lwm2md.rules", "./lib/udev/rules.d/60-lwm2md.rules",
                 "./usr/share/man/man8/lwm2md.8.gz", "./usr/share/man/man1/lwm2mctl.1.gz"):
        assert path in names, f"{path} missing from {deb.name}:\n{names}"
    conffiles = run(["dpkg-deb", "-f", str(deb)]).stdout  # control fields, for the message
    ctl = run(["sh", "-c", f"dpkg-deb --ctrl-tarfile {deb} | tar -xO ./conffiles"]).stdout
    assert "/etc/lwm2md/lwm2md.ini" in ctl.split(), f"config is not a conffile:\n{ctl}\n{conffiles}"
    r = run(["lintian", "--allow-root", "--fail-on", "error,warning", str(deb)], check=False)
    assert r.returncode == 0, f"lintian:\n{r.stdout}{r.stderr}"
    for page in ("packaging/man/lwm2md.8", "packaging/man/lwm2mctl.1"):
        r = run(["groff", "-man", "-ww", "-z", str(REPO / page)], env=dict(os.environ, LC_ALL="C.UTF-8"))
        assert r.stderr == "", f"{page}: {r.stderr}"


@pytest.fixture
def installed(deb):
    run(["dpkg", "--purge", "lwm2md"], check=False)
    run(["dpkg", "-i", str(deb)])
    yield
    run(["dpkg", "--purge", "lwm2md"])


def test_installed_daemon_runs_unprivileged(installed, leshan, rest, endpoint, tmp_path):
    """dpkg -i: the user and its folders; the unit verifies; the installed
    binary, run as lwm2md with the installed config pointed at the test server,
    registers and answers a read; purge removes its state."""
    user = pwd.getpwnam("lwm2md")
    assert user.pw_uid != 0 and user.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
    etc, ini, state = Path("/etc/lwm2md"), Path("/etc/lwm2md/lwm2md.ini"), Path("/var/lib/lwm2md")
    assert (etc.stat().st_gid, oct(etc.stat().st_mode & 0o777)) == (user.pw_gid, "0o770")
    assert (ini.stat().st_uid, ini.stat().st_gid, oct(ini.stat().st_mode & 0o777)) == (0, user.pw_gid, "0o640")
    assert state.stat().st_uid == user.pw_uid
    for g in ("swupdate", "gpio", "i2c"):
        try:
            members = grp.getgrnam(g).gr_mem
        except KeyError:
            continue
        assert "lwm2md" in members, f"lwm2md not in group {g}: {members}"
    r = run(["runuser", "-u", "lwm2md", "--", "/usr/bin/lwm2md", "--check-config", "-c", str(ini)])
    assert "configuration is valid" in r.stdout
    r = run(["systemd-analyze", "verify", "/lib/systemd/system/lwm2md.service"], check=False)
    assert r.returncode == 0, r.stderr
    assert Path("/etc/systemd/system/multi-user.target.wants/lwm2md.service").is_symlink()

    # the shipped file, pointed at the test server; the control socket where the user may write
    text = ini.read_text().replace("uri = coap://127.0.0.1:5683", f"uri = {leshan.uri}", 1)
    assert leshan.uri in text
    text += f"\n[control]\nsocket = {state}/ctl.sock\n"
    text = text.replace("[server]\n", f"[server]\nendpoint = {endpoint}\n", 1)
    ini.write_text(text)
    log = tmp_path / "lwm2md.log"
    with open(log, "wb") as out:
        # as systemd would start it: the user, its group and supplementary groups
        # (setpriv execs the daemon itself, so the SIGTERM below reaches it)
        p = subprocess.Popen(["setpriv", "--reuid=lwm2md", "--regid=lwm2md", "--init-groups",
                              "/usr/bin/lwm2md", "--foreground", "-c", str(ini)],
                             stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd="/",
                             preexec_fn=die_with_parent)
    try:
        rest.wait_client(endpoint, timeout=30)
        assert rest.read(endpoint, "3/0/0", format="TEXT").code == 205
        poll(lambda: (state / "registration.json").exists(), 10, "state written as lwm2md")
        assert (state / "registration.json").stat().st_uid == user.pw_uid
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0, log.read_text()
    assert "permission" not in log.read_text().lower(), log.read_text()
    run(["dpkg", "--purge", "lwm2md"])
    assert not state.exists() and not Path("/usr/bin/lwm2md").exists()
    assert shutil.which("lwm2mctl") is None or not shutil.which("lwm2mctl").startswith("/usr/bin")
