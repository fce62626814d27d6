"""Figures, not checks (`tests/hwsim/run.sh --bench`, or `make hwsim HWSIM_ARGS=--bench`): the time
from a GPIO edge to lwm2md's notification on the wire, measured inside the VM, written to
tests/hwsim/RESULTS.md (HWSIM_BENCH_SAMPLES, default 40; HWSIM_BUILT_FROM describes a binary
not built from this tree). The VM is emulated (qemu TCG, one vCPU): the figure says how the path
behaves relative to other runs here, not what a Raspberry Pi does."""

from __future__ import annotations

import datetime
import os
import re
import subprocess

import pytest

from conftest import COAP_PORT, ENDPOINT, LINE_BUTTON, LINE_PROBE_IN, TOP, daemon_bin
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
    # the baseline: the emulated kernel alone, from the pull write to a woken edge reader
    rc, base_out = vm.run(f"hwsim-edgelat --event /dev/{hw.gpiochip} {LINE_PROBE_IN} "
                          f"{hw.gpiosim}/sim_gpio{LINE_PROBE_IN}/pull {SAMPLES} {GAP_MS}",
                          timeout=SAMPLES * 6 + 30)
    b = re.search(r"EDGELAT n=(\d+) lost=(\d+) min=(\d+) p50=(\d+) p90=(\d+) max=(\d+)", base_out)
    assert b, f"no summary from hwsim-edgelat --event (exit {rc}):\n{base_out}"
    bn, blost, bmn, bp50, bp90, bmx = (int(x) for x in b.groups())

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
    # what the binary was built from: HWSIM_BUILT_FROM when it was not built from this tree
    commit = os.environ.get("HWSIM_BUILT_FROM")
    if not commit:
        commit = "tree at " + _host(["git", "rev-parse", "--short", "HEAD"])
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
lwm2md: {binary}, {commit}; {qemu}; {datetime.date.today().isoformat()}.

## GPIO edge to notification on the wire

| | edge to notification on the wire (lwm2md) | baseline: edge to a woken reader (kernel alone) |
|---|---|---|
| samples | {n} ({lost} lost) | {bn} ({blost} lost) |
| min | {ms(mn)} | {ms(bmn)} |
| median | **{ms(p50)}** | {ms(bp50)} |
| p90 | {ms(p90)} | {ms(bp90)} |
| max | {ms(mx)} | {ms(bmx)} |

Samples {GAP_MS} ms apart, alternating rising and falling edges.

Method: lwm2md maps gpio-sim line "button" as /3200/0; the test server observes
/3200/0/5500 (Digital Input State) with pmin=0. `hwsim-edgelat` (guest/edgelat.c), inside the VM,
flips the line's pull through gpio-sim's `sim_gpio{LINE_BUTTON}/pull` (the kernel turns that into
an edge on the line), reading CLOCK_REALTIME just before the write; an AF_PACKET socket on eth0
time-stamps (SO_TIMESTAMPNS, taken as the packet is handed to the NIC) the first outgoing CoAP
2.05 to the server's port after it. The span covers gpio-sim's simulated interrupt, the GPIO
character device's event, lwm2md's wake-up, debounce (0), the observation logic, encoding and the
guest's UDP/IP stack. The baseline flips another line of the same chip with this program
itself holding it for edge events (`hwsim-edgelat --event`, GPIO v1 uAPI as libgpiod 1.6 uses):
the part of the figure the emulated kernel takes before any user-space code runs.

Raw output (lwm2md):

```
{out.strip()}
```

Raw output (baseline):

```
{base_out.strip()}
```
"""
    RESULTS.write_text(text)
    print(f"\nGPIO edge -> notification (emulated): median {ms(p50)}, p90 {ms(p90)}, "
          f"n={n}, lost={lost} (kernel-only baseline: median {ms(bp50)}); written to {RESULTS}")
    assert lost == 0, out
