"""Figures, not checks (`tests/hwsim/run.sh --bench`, or `make hwsim HWSIM_ARGS=--bench`): the time
from a GPIO edge to lwm2md's notification on the wire, measured inside the VM, written to
tests/hwsim/RESULTS.md. The VM is emulated (qemu TCG, one vCPU): the figure says how the path
behaves relative to other runs here, not what a Raspberry Pi does."""

from __future__ import annotations

import datetime
import os
import re
import subprocess

import pytest

from conftest import COAP_PORT, ENDPOINT, LINE_BUTTON, TOP, daemon_bin
from reporting_util import cancel_observe, observe, write_attributes

SAMPLES = int(os.environ.get("HWSIM_BENCH_SAMPLES", "40"))
GAP_MS = 250
RESULTS = TOP / "tests" / "hwsim" / "RESULTS.md"


def _host(cmd: list) -> str:
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=TOP).stdout.strip()
    except OSError:
        return "?"


@pytest.mark.bench
def test_gpio_edge_to_notification(lwm2md, rest, hw, vm):
    path = "/3200/0/5500"
    hw.pull(LINE_BUTTON, False)
    r = write_attributes(rest, ENDPOINT, path, "pmin=0")
    assert r.code == 204, r
    r = observe(rest, ENDPOINT, path)
    assert r.code == 205, r
    try:
        cmd = f"hwsim-edgelat {hw.gpiosim}/sim_gpio{LINE_BUTTON}/pull {COAP_PORT} {SAMPLES} {GAP_MS}"
        rc, out = vm.run(cmd, timeout=SAMPLES * 6 + 30)
    finally:
        cancel_observe(rest, ENDPOINT, path, active=True)
        write_attributes(rest, ENDPOINT, path, "pmin")
    m = re.search(r"EDGELAT n=(\d+) lost=(\d+) min=(\d+) p50=(\d+) p90=(\d+) max=(\d+)", out)
    assert m, f"no summary from hwsim-edgelat (exit {rc}):\n{out}"
    n, lost, mn, p50, p90, mx = (int(x) for x in m.groups())

    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    commit = _host(["git", "rev-parse", "--short", "HEAD"])
    if _host(["git", "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    binary = daemon_bin()
    binary = binary.relative_to(TOP) if binary.is_relative_to(TOP) else binary
    qemu = _host(["qemu-system-x86_64", "--version"]).splitlines()[0]
    ms = lambda us: f"{us / 1000:.2f} ms"  # noqa: E731
    text = f"""# tests/hwsim: figures (EMULATED)

Measured inside a qemu **TCG-emulated** x86-64 VM (no KVM, one vCPU, {vm.mem} RAM) running
Debian's kernel {vm.kv}, on a {os.cpu_count()}-core {cpu} host. Emulation slows the guest down
many times over and unevenly: compare these figures with other runs of this harness, not with
hardware.

Command: `make hwsim HWSIM_ARGS=--bench` (that is `tests/hwsim/run.sh --bench`).
lwm2md: {binary}, tree at {commit}; {qemu}; {datetime.date.today().isoformat()}.

## GPIO edge to notification on the wire

| | |
|---|---|
| samples | {n} ({lost} lost), {GAP_MS} ms apart, alternating rising and falling |
| min | {ms(mn)} |
| median | {ms(p50)} |
| p90 | {ms(p90)} |
| max | {ms(mx)} |

Method: lwm2md maps gpio-sim line "button" as /3200/0; the test server observes
/3200/0/5500 (Digital Input State) with pmin=0. `hwsim-edgelat` (guest/edgelat.c), inside the VM,
flips the line's pull through gpio-sim's `sim_gpio{LINE_BUTTON}/pull` (the kernel turns that into
an edge on the line), reading CLOCK_REALTIME just before the write; an AF_PACKET socket on eth0
time-stamps (SO_TIMESTAMPNS, taken as the packet is handed to the NIC) the first outgoing CoAP
2.05 to the server's port after it. The span covers gpio-sim's simulated interrupt, the GPIO
character device's event, lwm2md's wake-up, debounce (0), the observation logic, encoding and the
guest's UDP/IP stack.

Raw output:

```
{out.strip()}
```
"""
    RESULTS.write_text(text)
    print(f"\nGPIO edge -> notification (emulated): median {ms(p50)}, p90 {ms(p90)}, "
          f"n={n}, lost={lost}; written to {RESULTS}")
    assert lost == 0, out
