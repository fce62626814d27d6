"""The VM: Debian's own kernel (from tests/hwsim/setup.sh's cache) booted under qemu with a
busybox initramfs, and a command channel to a shell inside it.

* The initramfs is two concatenated gzip'd cpio archives (the kernel unpacks both): a base one
  (busybox, the libgpiod/libiio/i2c-tools command-line tools with their libraries, the kernel
  modules and /init), cached in the setup cache under a hash of what went into it, and a small
  per-run one with the files of this run (build/lwm2md, its libraries, helpers).
* ttyS0 is the console, read on a thread into console.log. ttyS1 is the command channel: qemu
  listens on a Unix socket, the guest runs hwsim-agent on the tty in raw mode. A request is one
  line "ID BASE64(script)"; the answer is "BEGIN ID", the base64 of the script's stdout+stderr,
  "END ID RC". Scripts run one at a time with `sh`, stdin from /dev/null; what they start in the
  background keeps running (give it its own log file).
* Networking (optional): a tap device that already exists in the caller's network namespace
  (tests/hwsim/run.sh makes it), virtio-net in the guest with a static address. Never qemu's
  user-mode network.
* An extra ACPI table (guest/thermal.asl) gives the guest a thermal zone the tests can set.
* No KVM: TCG is the default (HWSIM_ACCEL=kvm on hosts where KVM works).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[1]

# Stock modules (with their dependencies) put into the guest. Debian's kernel builds these
# as modules; nothing auto-loads them (no udev/mdev, UEVENT_HELPER unset): the tests modprobe.
STOCK_MODULES = """
    configfs i2c-stub i2c-dev industrialio kfifo_buf industrialio-triggered-buffer
    tmp006 bmp280 bmp280-i2c opt3001 lm75 tmp102
    mma7660 hmc5843_i2c bmg160_i2c
    virtio_pci virtio_net
    mac80211_hwsim
""".split()

# Host tools copied into the guest (with the shared libraries ldd names).
GUEST_TOOLS = """
    gpiodetect gpioinfo gpioget gpioset gpiomon gpiofind
    iio_info iio_attr iio_readdev iio_writedev iio_reg
    i2cset i2cget i2cdump i2cdetect
    iw hostapd
""".split()

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/opt/bin:/usr/bin:/usr/sbin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run /var/lib /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t debugfs none /sys/kernel/debug
modprobe configfs && mount -t configfs none /sys/kernel/config
hostname hwsim
ip link set lo up
for a in $(cat /proc/cmdline); do
    case $a in hwsim.ip=*) IP=${a#hwsim.ip=} ;; esac
done
if [ -n "$IP" ]; then
    modprobe virtio_pci; modprobe virtio_net
    i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    ip addr add "$IP" dev eth0 && ip link set eth0 up || echo "HWSIM_NET_FAILED"
fi
echo "HWSIM_INIT uptime=$(cut -d' ' -f1 /proc/uptime)"
exec /bin/sh /hwsim-agent < /dev/null
"""

AGENT = r"""# the command channel on ttyS1 (see vm.py)
T=/dev/ttyS1
stty -F $T raw -echo -ixon -ixoff -crtscts clocal 115200 || echo "HWSIM_AGENT stty failed"
exec 3<>$T
echo "HWSIM_READY" >&3
while read -r id b64 <&3; do
    echo "$b64" | base64 -d > /run/cmd.sh 2>/dev/null
    # a fresh output file per command: what a script leaves running keeps its own
    (cd /tmp && exec sh /run/cmd.sh) </dev/null >/run/out.$id 2>&1
    rc=$?
    { echo "BEGIN $id"; base64 /run/out.$id; echo "END $id $rc"; } >&3
    rm -f /run/out.$id
done
echo "HWSIM_AGENT exiting"
poweroff -f
"""


class VMError(AssertionError):
    pass


def log(msg: str):
    print(f"[hwsim] {msg}", flush=True)


def setup_cache() -> Path:
    """Runs setup.sh (fast when done) and returns the kernel's cache folder."""
    out = subprocess.run(["sh", str(HERE / "setup.sh")], check=True, stdout=subprocess.PIPE,
                         text=True).stdout.strip().splitlines()
    return Path(out[-1])


def _elf(p: Path) -> bool:
    with open(p, "rb") as f:
        return f.read(4) == b"\x7fELF"


def _libs(binary: Path) -> list[str]:
    """Absolute paths of the shared libraries (and the loader) a binary needs."""
    out = subprocess.run(["ldd", str(binary)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    return re.findall(r"(/\S+) \(0x", out)


class Root:
    """A folder that becomes one cpio archive."""

    def __init__(self, path: Path):
        self.path = path
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)

    def put(self, src: Path, dst: str, mode: int = None):
        d = self.path / dst.lstrip("/")
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, d, follow_symlinks=True)
        if mode is not None:
            d.chmod(mode)

    def text(self, dst: str, text: str, mode: int = 0o644):
        d = self.path / dst.lstrip("/")
        d.parent.mkdir(parents=True, exist_ok=True)
        d.write_text(text)
        d.chmod(mode)

    def binary(self, src: Path, dst: str, skip_libs: set = frozenset()):
        """A program and every library it needs (at the same absolute paths as on the host)."""
        self.put(src, dst, 0o755)
        for lib in _libs(src):
            if lib in skip_libs:
                continue
            d = self.path / lib.lstrip("/")
            if not d.exists():
                d.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(lib, d, follow_symlinks=True)

    def cpio_gz(self, out: Path):
        tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
        files = subprocess.run("find . | sort", shell=True, cwd=self.path, check=True,
                               stdout=subprocess.PIPE).stdout
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=self.path,
                              input=files, stdout=subprocess.PIPE, check=True).stdout
        with open(tmp, "wb") as f:
            f.write(gzip.compress(cpio, compresslevel=1))
        tmp.replace(out)


def kernel_version(cache: Path) -> str:
    return cache.name


def build_base(cache: Path) -> Path:
    """The cached base archive (busybox, tools, modules, /init)."""
    kv = kernel_version(cache)
    mods = cache / "kpkg" / "lib" / "modules" / kv
    extra = sorted((cache / "kmod").glob("*.ko"))
    tools = [shutil.which(t) for t in GUEST_TOOLS]
    missing = [t for t, p in zip(GUEST_TOOLS, tools) if p is None]
    if missing:
        raise VMError(f"tools missing on the host: {missing} (tests/hwsim/setup.sh installs them)")
    h = hashlib.sha256()
    for part in [INIT, AGENT, " ".join(STOCK_MODULES), kv, Path("/bin/busybox").read_bytes().hex()[:64]]:
        h.update(part.encode())
    for p in extra + [Path(t) for t in tools]:
        st = p.stat()
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    out = cache / f"base-{h.hexdigest()[:16]}.cpio.gz"
    if out.exists():
        return out
    t0 = time.monotonic()
    root = Root(cache / f"base.root.{os.getpid()}")
    r = root.path
    for d in ["bin", "sbin", "proc", "sys", "dev", "tmp", "run", "opt/bin", "etc", "root",
              f"lib/modules/{kv}/extra"]:
        (r / d).mkdir(parents=True, exist_ok=True)
    root.put(Path("/bin/busybox"), "/bin/busybox", 0o755)
    for t in tools:
        root.binary(Path(t), t)
    # stock modules and what they depend on (modinfo -F depends), then depmod
    for f in ["modules.builtin", "modules.builtin.modinfo", "modules.order"]:
        if (mods / f).exists():
            root.put(mods / f, f"/lib/modules/{kv}/{f}")
    index = {}
    for p in (mods / "kernel").rglob("*.ko"):
        index[p.stem.replace("-", "_")] = p
    queue, seen = list(STOCK_MODULES), set()
    while queue:
        m = queue.pop(0).replace("-", "_")
        if m in seen:
            continue
        seen.add(m)
        p = index.get(m)
        if p is None:
            continue   # built in
        root.put(p, "/" + str(p.relative_to(cache / "kpkg")))
        deps = subprocess.run(["/sbin/modinfo", "-F", "depends", str(p)], check=True,
                              stdout=subprocess.PIPE, text=True).stdout.strip()
        queue += [d for d in deps.split(",") if d]
    for p in extra:
        root.put(p, f"/lib/modules/{kv}/extra/{p.name}")
    subprocess.run(["/sbin/depmod", "-b", str(r), kv], check=True)
    root.text("/init", INIT, 0o755)
    root.text("/hwsim-agent", AGENT, 0o755)
    root.text("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    root.text("/etc/group", "root:x:0:\n")
    root.text("/etc/os-release", 'PRETTY_NAME="lwm2md hwsim (busybox initramfs)"\nID=hwsim\n')
    root.cpio_gz(out)
    shutil.rmtree(r)
    for old in cache.glob("base-*.cpio.gz"):
        if old != out:
            old.unlink(missing_ok=True)
    log(f"base initramfs {out.name}: {out.stat().st_size // 1024} KiB in {time.monotonic() - t0:.1f} s")
    return out


def build_acpi_table(cache: Path) -> Path:
    """guest/thermal.asl compiled (iasl) into the SSDT qemu adds: an ACPI thermal zone."""
    src = HERE / "guest" / "thermal.asl"
    h = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    out = cache / f"thermal-{h}.aml"
    if not out.exists():
        tmp = cache / f"thermal.{os.getpid()}"
        r = subprocess.run(["iasl", "-p", str(tmp), str(src)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise VMError(f"iasl {src} failed:\n{r.stdout}")
        tmp.with_suffix(".aml").replace(out)
    return out


def build_overlay(workdir: Path, files: dict) -> Path:
    """The per-run archive: files = {guest path: host path}; ELF files come with their libraries.
    A library the base archive already has is copied again: harmless, later archives win."""
    root = Root(workdir / "overlay.root")
    for dst, src in files.items():
        src = Path(src)
        if _elf(src):
            root.binary(src, dst)
        else:
            root.put(src, dst, 0o755 if os.access(src, os.X_OK) else 0o644)
    out = workdir / "overlay.cpio.gz"
    root.cpio_gz(out)
    shutil.rmtree(root.path)
    return out


class VM:
    """One qemu process. start() boots and waits for the agent; sh() runs a script inside."""

    def __init__(self, workdir: Path, files: dict = None, tap: str = None, guest_ip: str = None,
                 mem: str = None, accel: str = None, boot_timeout: float = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.files = dict(files or {})
        self.tap = tap
        self.guest_ip = guest_ip
        self.mem = mem or os.environ.get("HWSIM_MEM", "384M")
        self.accel = accel or os.environ.get("HWSIM_ACCEL", "tcg")
        self.boot_timeout = boot_timeout or float(os.environ.get("HWSIM_BOOT_TIMEOUT", "120"))
        self.console_path = self.workdir / "console.log"
        self.proc = None
        self.sock = None
        self._buf = b""
        self._seq = 0
        self._console_lines = []
        self._console_cond = threading.Condition()
        self.timings = {}

    # -- boot -------------------------------------------------------------------------------------
    def build(self):
        t0 = time.monotonic()
        self.cache = setup_cache()
        self.kv = kernel_version(self.cache)
        base = build_base(self.cache)
        overlay = build_overlay(self.workdir, self.files)
        self.acpi_table = build_acpi_table(self.cache)
        self.initrd = self.workdir / "initrd.gz"
        with open(self.initrd, "wb") as out:
            for part in (base, overlay):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        self.timings["initramfs_s"] = time.monotonic() - t0

    def command(self) -> list:
        if self.accel == "kvm":
            accel = ["-enable-kvm", "-cpu", os.environ.get("HWSIM_KVM_CPU", "host,-arch-capabilities")]
        else:
            accel = ["-accel", "tcg", "-cpu", "max"]
        append = "console=ttyS0 panic=-1 quiet loglevel=4 " + os.environ.get("HWSIM_APPEND", "")
        if self.guest_ip:
            append += f" hwsim.ip={self.guest_ip}"
        cmd = ["qemu-system-x86_64", *accel, "-m", self.mem, "-smp", "1", "-nodefaults",
               "-no-user-config", "-display", "none", "-no-reboot",
               "-kernel", str(self.cache / "kpkg" / "boot" / f"vmlinuz-{self.kv}"),
               "-initrd", str(self.initrd), "-append", append.strip(),
               "-acpitable", f"file={self.acpi_table}",
               "-serial", "stdio",
               "-chardev", f"socket,id=ctl,path={self.ctl_path},server=on,wait=off",
               "-serial", "chardev:ctl"]
        if self.tap:
            cmd += ["-netdev", f"tap,id=n0,ifname={self.tap},script=no,downscript=no",
                    "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:4c:57:4d"]
        return cmd

    def start(self):
        self.build()
        self.ctl_path = self.workdir / "ctl.sock"
        self.ctl_path.unlink(missing_ok=True)
        t0 = time.monotonic()
        from_pdeath = _die_with_parent
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=from_pdeath)
        threading.Thread(target=self._read_console, daemon=True, name="console").start()
        deadline = t0 + self.boot_timeout
        while True:
            if self.proc.poll() is not None:
                raise VMError(f"qemu exited with {self.proc.returncode} while booting:\n{self.console_tail()}")
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(self.ctl_path))
                self.sock = s
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise VMError("qemu's command socket did not appear")
                time.sleep(0.05)
        self._read_until(b"HWSIM_READY\n", deadline)
        self.timings["boot_s"] = time.monotonic() - t0
        if self.guest_ip and "HWSIM_NET_FAILED" in self.console_text():
            raise VMError(f"guest network set-up failed:\n{self.console_tail()}")
        return self

    def _read_console(self):
        with open(self.console_path, "wb") as f:
            for line in self.proc.stdout:
                f.write(line)
                f.flush()
                with self._console_cond:
                    self._console_lines.append(line.decode(errors="replace").rstrip("\r\n"))
                    self._console_cond.notify_all()

    def console_text(self) -> str:
        with self._console_cond:
            return "\n".join(self._console_lines)

    def console_tail(self, n: int = 40) -> str:
        with self._console_cond:
            return "\n".join(self._console_lines[-n:])

    # -- command channel ---------------------------------------------------------------------------
    def _read_until(self, marker: bytes, deadline: float) -> bytes:
        while marker not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise VMError(f"no {marker!r} from the guest in time; console:\n{self.console_tail()}")
            if self.proc.poll() is not None:
                raise VMError(f"qemu exited ({self.proc.returncode}); console:\n{self.console_tail()}")
            self.sock.settimeout(min(left, 0.5))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise VMError(f"command channel closed; console:\n{self.console_tail()}")
            self._buf += chunk.replace(b"\r", b"")
        i = self._buf.index(marker) + len(marker)
        out, self._buf = self._buf[:i], self._buf[i:]
        return out

    def run(self, script: str, timeout: float = 60) -> tuple[int, str]:
        """Runs script with sh in the guest; returns (exit status, stdout+stderr)."""
        if self.sock is None:
            raise VMError("the VM is not running")
        self._seq += 1
        sid = self._seq
        self.sock.sendall(f"{sid} {base64.b64encode(script.encode()).decode()}\n".encode())
        data = self._read_until(f"\nEND {sid} ".encode(), time.monotonic() + timeout)
        rest = self._read_until(b"\n", time.monotonic() + 5)
        rc = int(rest.strip())
        begin = f"BEGIN {sid}\n".encode()
        if begin not in data:
            raise VMError(f"garbled answer to command {sid}: {data[:200]!r}")
        body = data[data.index(begin) + len(begin):-len(f"\nEND {sid} ")]
        return rc, base64.b64decode(body).decode(errors="replace")

    def sh(self, script: str, timeout: float = 60) -> str:
        """Like run(), but a non-zero exit status fails with the script and its output."""
        rc, out = self.run(script, timeout)
        if rc != 0:
            raise VMError(f"guest command failed (exit {rc}):\n$ {script.strip()}\n{out}")
        return out.strip()

    def write_file(self, path: str, data: str | bytes, mode: str = "644"):
        if isinstance(data, str):
            data = data.encode()
        b64 = base64.b64encode(data).decode()
        q = shlex.quote(path)
        self.sh(f": > {q}.b64")
        for i in range(0, len(b64), 3000):   # keep each line well below the tty buffer
            self.sh(f"echo {b64[i:i + 3000]} >> {q}.b64")
        self.sh(f"base64 -d {q}.b64 > {q} && rm {q}.b64 && chmod {mode} {q}")

    def read_file(self, path: str) -> str:
        return self.sh(f"cat {shlex.quote(path)}")

    # -- end ----------------------------------------------------------------------------------------
    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None and self.sock is not None:
            try:
                self.sock.sendall(f"0 {base64.b64encode(b'sync; poweroff -f').decode()}\n".encode())
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.sock:
            self.sock.close()
            self.sock = None
        self.proc = None


def _die_with_parent():
    """preexec_fn: qemu gets SIGKILL when the test process dies, so no VM outlives a run."""
    import ctypes
    import signal
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
