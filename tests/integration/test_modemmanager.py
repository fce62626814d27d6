"""Connectivity Monitoring (4) of a cellular interface, from the real
ModemManager.

ModemManager (Debian's, 1.20) runs in its test mode on a private system bus
(a dbus-daemon of this file's, with polkitd on it, since ModemManager asks
polkit before enabling a modem; root is always allowed).  Its Test interface
(SetProfile) adds a virtual modem whose two AT ports are Unix sockets served
by atmodem.py, a generic 3GPP modem: LTE, operator 262 01, LAC 0x1A2B,
cell 0x1C3D4E5, signal from a file the test writes.  The test enables the
modem and connects it (Simple.Connect, APN internet.test): ModemManager dials
on one AT port (PPP) and reports a connected bearer whose Interface is that
port's name.  A virtual modem has no network device, so the interface that
reaches the server is a veth in a network namespace given that name: the
route to the server goes through "the modem's" interface, as it would
through a real modem's wwan0.  lwm2md runs in that namespace with
DBUS_SYSTEM_BUS_ADDRESS pointing at the private bus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import _SERVERS, unique_endpoint, wait_registered
from daemon import die_with_parent, stop_all_checked
from leshan import EventStream, Rest
from reporting_util import is_notification_of, observe, single_value
from test_connectivity import BEARER_ETHERNET, values
from util import Netns, NsDaemon, NsLeshan

HERE = Path(__file__).resolve().parent
MM = "org.freedesktop.ModemManager1"
MM_PATH = "/org/freedesktop/ModemManager1"
BEARER_LTE_FDD = 6
SERVER, NET_SIDE, GW_ADDR = "10.212.0.1", "10.211.0.1", "10.211.0.2"
PORTS = ("wwan0", "wwan1")      # socket names = port names = a bearer's Interface
POLKITD = Path("/usr/lib/polkit-1/polkitd")

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


def wait_until(what: str, fn, timeout: float = 60):
    """fn() until it returns something true; a deadline, not a timing check."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


class Bus:
    """A private dbus-daemon configured as a system bus."""

    def __init__(self, folder: Path, procs: list):
        self.socket = folder / "bus.sock"
        (folder / "bus.conf").write_text(BUS_CONFIG.format(socket=self.socket))
        self.address = f"unix:path={self.socket}"
        procs.append(spawn(["dbus-daemon", f"--config-file={folder / 'bus.conf'}", "--nofork"],
                           folder / "dbus.log", folder))
        wait_until("dbus-daemon's socket", self.socket.exists, 20)

    def busctl(self, *args, check=True, timeout=60):
        cp = subprocess.run(["busctl", f"--address={self.address}", "--json=short",
                             f"--timeout={timeout}", *map(str, args)],
                            capture_output=True, text=True, timeout=timeout + 10)
        if check and cp.returncode:
            raise AssertionError(f"busctl {' '.join(map(str, args))}: {cp.stderr.strip()}")
        return json.loads(cp.stdout)["data"] if cp.returncode == 0 and cp.stdout.strip() else None

    def get(self, path, iface, prop, check=True):
        return self.busctl("get-property", MM, path, iface, prop, check=check)


def spawn(cmd, log: Path, cwd: Path, env: dict = None) -> subprocess.Popen:
    with open(log, "ab") as f:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                cwd=cwd, env=env, preexec_fn=die_with_parent)


def run_modemmanager(bus: Bus, folder: Path, procs: list) -> str:
    """polkitd, the AT modem and ModemManager on bus, the modem added,
    enabled and connected; the bearer's Interface."""
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus.address}
    procs.append(spawn([str(POLKITD), "--no-debug"], folder / "polkitd.log", folder, env))
    (folder / "csq").write_text("20\n")
    procs.append(spawn(["python3", str(HERE / "atmodem.py"), str(folder), *PORTS],
                       folder / "modem.log", folder))
    wait_until("the modem's sockets", lambda: all((folder / p).exists() for p in PORTS), 20)
    mm = spawn(["ModemManager", "--test-enable", "--test-no-udev", "--debug",
                "--log-level=DEBUG"], folder / "mm.log", folder, env)
    procs.append(mm)
    for name in (MM, "org.freedesktop.PolicyKit1"):
        wait_until(f"{name} on the bus", lambda: bus.busctl(
            "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
            "NameHasOwner", "s", name)[0], 30)
    # the port names are relative: ModemManager's folder is this one
    bus.busctl("call", MM, MM_PATH, f"{MM}.Test", "SetProfile", "ssas", "lwm2md-test",
               "generic", len(PORTS), *PORTS)
    modem = f"{MM_PATH}/Modem/0"
    wait_until("the modem", lambda: bus.get(modem, f"{MM}.Modem", "State", check=False)
               is not None, 60)
    bus.busctl("call", MM, modem, f"{MM}.Modem", "Enable", "b", "true")
    wait_until("the modem registered", lambda: bus.get(modem, f"{MM}.Modem", "State") >= 8, 60)
    bearer = bus.busctl("call", MM, modem, f"{MM}.Modem.Simple", "Connect", "a{sv}", 1,
                        "apn", "s", "internet.test")[0]
    assert bus.get(bearer, f"{MM}.Bearer", "Connected") is True
    iface = bus.get(bearer, f"{MM}.Bearer", "Interface")
    assert iface in PORTS, iface
    return iface


def private_folder() -> Path:
    # polkitd drops to its own user: the bus socket must be reachable
    folder = Path(tempfile.mkdtemp(prefix="lwm2md-mm-"))
    folder.chmod(0o755)
    return folder


def stop_all(procs: list) -> None:
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """The namespaces with the server, the bus with polkitd and
    ModemManager, the modem enabled and connected; yields (net, gw, srv,
    bus, iface, folder)."""
    if os.geteuid() != 0:
        pytest.fail("these tests need root (ip netns, ModemManager)")
    for tool in ("ModemManager", "dbus-daemon", "busctl"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: tests/setup-deps.sh installs it (modemmanager, dbus)")
    if not POLKITD.exists():
        pytest.fail("polkitd is missing: tests/setup-deps.sh installs it (polkitd)")
    folder = private_folder()
    procs, net, gw, srv = [], None, None, None
    tag = uuid.uuid4().hex[:6]
    try:
        bus = Bus(folder, procs)
        iface = run_modemmanager(bus, folder, procs)

        # the network: the server in "net", the modem's interface in "gw"
        net = Netns(f"lwm2md-mmnet-{tag}")
        gw = Netns(f"lwm2md-mmgw-{tag}")
        for ns in (net, gw):
            ns.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
            ns.sysctl("net.ipv6.conf.default.disable_ipv6", 1)
        net.ip("link", "add", "nm0", "type", "veth", "peer", "name", iface, "netns", gw.name)
        net.ip("addr", "add", f"{NET_SIDE}/24", "dev", "nm0")
        net.ip("link", "set", "nm0", "up")
        net.ip("addr", "add", f"{SERVER}/32", "dev", "lo")
        gw.ip("addr", "add", f"{GW_ADDR}/24", "dev", iface)
        gw.ip("link", "set", iface, "up")
        gw.ip("route", "replace", "10.212.0.0/24", "via", NET_SIDE, "dev", iface)
        srv = NsLeshan(tmp_path_factory.mktemp("leshan-mm"), net, SERVER)
        _SERVERS.append(srv)
        with net.entered():
            srv.start()
        yield net, gw, srv, bus, iface, folder
    finally:
        if srv:
            srv.stop()
        for ns in (gw, net):
            if ns:
                ns.delete()
        stop_all(procs)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def start_in_gw(cell, tmp_path, request):
    """Starts lwm2md in "gw" with DBUS_SYSTEM_BUS_ADDRESS as given; this
    thread in "net" for the REST API; teardown: exit 0, no sanitizer report."""
    net, gw, srv, bus, iface, folder = cell
    started = []
    request.node._lwm2md_daemons = started

    def start(bus_address: str) -> NsDaemon:
        ep = unique_endpoint(request.node.name)
        d_dir = tmp_path / f"d{len(started)}"
        (d_dir / "state").mkdir(parents=True)
        secs = {"server": {"uri": srv.uri, "endpoint": ep, "lifetime": 300},
                "state": {"dir": str(d_dir / "state")},
                "control": {"socket": str(d_dir / "ctl.sock")}, "log": {"level": "debug"}}
        d = NsDaemon(gw, d_dir / "daemon", secs, ep, env={"DBUS_SYSTEM_BUS_ADDRESS": bus_address})
        started.append(d)
        d.start()
        wait_registered(d, srv)
        return d

    with net.entered():
        try:
            yield start, Rest(srv.api), srv
        finally:
            stop_all_checked(started)


def test_cellular_interface_reported_from_modemmanager(cell, start_in_gw):
    """The route to the server leaves by the modem's interface: 4/0 shows
    what ModemManager says of the modem.  LTE is LTE-FDD (6); CSQ 20 is
    ModemManager's 64 %, -73 dBm; operator 262 01; the bearer's APN; the
    cell and LAC of the modem's registration.  The addresses are the
    kernel's, as for any interface."""
    start, rest, srv = start_in_gw
    d = start(cell[3].address)
    d.wait_log(r"4/0: ModemManager: 1 modem")
    r = rest.read(d.endpoint, "4/0")
    assert r.code == 205, r
    c = r.content
    assert c[0] == BEARER_LTE_FDD, c
    assert values(c[1]) == [BEARER_LTE_FDD], c
    assert c[2] == -73 and c[3] == 64, c
    assert values(c[4]) == [GW_ADDR] and values(c[5]) == [NET_SIDE], c
    assert values(c[7]) == ["internet.test"], c
    assert c[8] == 0x1C3D4E5 and c[12] == 0x1A2B, c
    assert c[9] == 1 and c[10] == 262, c


def test_signal_change_is_notified(cell, start_in_gw):
    """The modem answers another CSQ; ModemManager polls it and says so on
    the bus; the observer of 4/0/2 gets the new strength without lwm2md
    polling anything (ModemManager polls the modem every 30 s)."""
    start, rest, srv = start_in_gw
    folder = cell[5]
    (folder / "csq").write_text("20\n")
    d = start(cell[3].address)
    d.wait_log(r"4/0: ModemManager: 1 modem")
    ev = EventStream(srv.api, d.endpoint)
    try:
        r = observe(rest, d.endpoint, "4/0/2")
        assert r.code == 205 and r.content == -73, r
        (folder / "csq").write_text("25\n")
        # 25 on the CSQ scale: ModemManager's 80 %, -63 dBm
        ev.wait_for("NOTIFICATION", lambda e: is_notification_of("/4/0/2")(e) and
                    single_value(e) == -63, timeout=120)
        assert rest.read(d.endpoint, "4/0/3").content == 80
    finally:
        ev.close()
        (folder / "csq").write_text("20\n")


def test_without_modemmanager_nothing_changes(cell, start_in_gw, tmp_path):
    """A system bus without ModemManager, and no system bus at all: the same
    interface is plain Ethernet (it is a veth), no cellular resources, and
    one info line says why."""
    start, rest, srv = start_in_gw
    empty = tmp_path / "bus"
    empty.mkdir()
    empty.chmod(0o755)
    procs = []
    try:
        bus = Bus(empty, procs)
        for address, line in ((bus.address, "no ModemManager on the system bus"),
                              (f"unix:path={tmp_path}/none.sock", "no system bus")):
            d = start(address)
            d.wait_log(line)
            r = rest.read(d.endpoint, "4/0")
            assert r.code == 205, r
            c = r.content
            assert c[0] == BEARER_ETHERNET and values(c[1]) == [BEARER_ETHERNET], c
            for absent in (2, 3, 7, 8, 9, 10, 12):
                assert absent not in c, f"4/0/{absent} in {c}"
            assert rest.read(d.endpoint, "4/0/2").code == 404
            log = d.log_path.read_text()
            assert log.count(line) == 1, log
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def test_bearer_disconnect_and_connect_notified(cell, start_in_gw):
    """The modem's bearer disconnects: the interface is no longer the
    modem's (a veth: Ethernet), observers of 4/0/0 hear of it; connected
    again: LTE-FDD again, with its APN."""
    start, rest, srv = start_in_gw
    bus, iface = cell[3], cell[4]
    modem = f"{MM_PATH}/Modem/0"
    d = start(bus.address)
    d.wait_log(r"4/0: ModemManager: 1 modem")
    ev = EventStream(srv.api, d.endpoint)
    try:
        r = observe(rest, d.endpoint, "4/0/0")
        assert r.code == 205 and r.content == BEARER_LTE_FDD, r
        bus.busctl("call", MM, modem, f"{MM}.Modem.Simple", "Disconnect", "o", "/")
        ev.wait_for("NOTIFICATION", lambda e: is_notification_of("/4/0/0")(e) and
                    single_value(e) == BEARER_ETHERNET, timeout=60)
        assert rest.read(d.endpoint, "4/0/7").code == 404
        bearer = bus.busctl("call", MM, modem, f"{MM}.Modem.Simple", "Connect", "a{sv}", 1,
                            "apn", "s", "internet.test")[0]
        assert bus.get(bearer, f"{MM}.Bearer", "Interface") == iface
        ev.wait_for("NOTIFICATION", lambda e: is_notification_of("/4/0/0")(e) and
                    single_value(e) == BEARER_LTE_FDD, timeout=60)
        assert values(rest.read(d.endpoint, "4/0/7").content) == ["internet.test"]
    finally:
        ev.close()


def test_modemmanager_started_and_stopped_later(cell, start_in_gw):
    """lwm2md first sees a bus without ModemManager (Ethernet, one info
    line); ModemManager starts there and connects its modem: observers of
    4/0/0 hear LTE-FDD; ModemManager stops: Ethernet again, and the info
    line once more."""
    start, rest, srv = start_in_gw
    folder = private_folder()
    procs = []
    try:
        bus = Bus(folder, procs)
        d = start(bus.address)
        d.wait_log("no ModemManager on the system bus")
        ev = EventStream(srv.api, d.endpoint)
        try:
            r = observe(rest, d.endpoint, "4/0/0")
            assert r.code == 205 and r.content == BEARER_ETHERNET, r
            assert run_modemmanager(bus, folder, procs) == cell[4]
            ev.wait_for("NOTIFICATION", lambda e: is_notification_of("/4/0/0")(e) and
                        single_value(e) == BEARER_LTE_FDD, timeout=60)
            mm = procs.pop()
            mm.terminate()
            mm.wait(20)
            ev.wait_for("NOTIFICATION", lambda e: is_notification_of("/4/0/0")(e) and
                        single_value(e) == BEARER_ETHERNET, timeout=60)
            d.wait_log(r"(?s)no ModemManager on the system bus.*no ModemManager on the system bus")
        finally:
            ev.close()
    finally:
        stop_all(procs)
        shutil.rmtree(folder, ignore_errors=True)
