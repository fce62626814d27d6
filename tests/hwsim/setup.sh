#!/bin/sh
# tests/hwsim/setup.sh - everything the VM harness needs, installed and built once.
#
#   sh tests/hwsim/setup.sh        (as root, on Debian bookworm; `make hwsim` runs it)
#
# What it does:
#  * apt: qemu-system-x86, busybox-static, cpio, kmod, gcc/make, the libgpiod 1.6 / libiio 0.24 /
#    i2c-tools command-line tools and iw and hostapd (the Wi-Fi case) copied into the guest, iasl
#    (acpica-tools, for the guest's ACPI
#    thermal zone) and linux-headers-$KV;
#  * downloads (never installs) Debian's kernel image linux-image-$KV and extracts it;
#  * builds the drivers Debian's kernel does not ship (CONFIG_GPIO_SIM, CONFIG_IRQ_SIM,
#    CONFIG_IIO_SIMPLE_DUMMY, CONFIG_IIO_CONFIGFS, CONFIG_IIO_SW_DEVICE ... are not set) from
#    linux-source-6.1 of the same version, against linux-headers-$KV, as out-of-tree modules.
#
# $KV is the ABI linux-image-amd64 points to (override: HWSIM_KVER=6.1.0-56-amd64).
# Everything lands in $HWSIM_CACHE (default: .cache/hwsim at the top of the tree), one folder per
# ABI, so a security update of the kernel builds a new folder next to the old one. A second run
# checks a stamp and the installed packages and exits in well under a second; after the first
# run nothing needs the network.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CACHE=${HWSIM_CACHE:-$TOP/.cache/hwsim}
# bump when the module set or the way it is built changes: the stamp then no longer matches
SETUP_REV=3

log() { echo "[hwsim-setup] $*" >&2; }
die() { echo "[hwsim-setup] error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages)"

# ---- which kernel -----------------------------------------------------------------------------
kver() {
	if [ -n "${HWSIM_KVER:-}" ]; then echo "$HWSIM_KVER"; return; fi
	k=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: linux-image-\(.*\)$/\1/p' | head -1)
	if [ -z "$k" ]; then
		# no apt lists (offline, cleaned image): the newest complete cache folder will do
		k=$(ls -1d "$CACHE"/*/.done 2>/dev/null | sed 's|/\.done$||; s|.*/||' | sort -V | tail -1)
	fi
	[ -n "$k" ] || die "cannot tell which kernel to use: apt-get update, or set HWSIM_KVER"
	echo "$k"
}
KV=$(kver)
W=$CACHE/$KV
STAMP="rev=$SETUP_REV kv=$KV"

# the host tools the harness and the guest need (libs of the copied tools come with them)
HOST_PKGS="qemu-system-x86 busybox-static cpio kmod make gcc libc6-dev iproute2 gpiod libiio-utils
	i2c-tools xz-utils acpica-tools iw hostapd linux-headers-$KV"

missing_pkgs() {
	for p in $HOST_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || printf ' %s' "$p"
	done
}

# ---- fast path --------------------------------------------------------------------------------
if [ -f "$W/.done" ] && [ "$(cat "$W/.done")" = "$STAMP" ] && [ -z "$(missing_pkgs)" ]; then
	echo "$W"
	exit 0
fi

t0=$(date +%s)
log "kernel $KV, cache $W"
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$CACHE"
need=$(missing_pkgs)
if [ -n "$need" ]; then
	log "installing:$need"
	# shellcheck disable=SC2086
	if ! apt-get install -y -q --no-install-recommends $need >"$CACHE/apt.log" 2>&1; then
		log "apt-get install failed; apt-get update and retry"
		apt-get update -q >>"$CACHE/apt.log" 2>&1 || true
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $need >>"$CACHE/apt.log" 2>&1 ||
			{ tail -20 "$CACHE/apt.log" >&2; die "apt-get install$need failed"; }
	fi
fi
[ -d "/usr/src/linux-headers-$KV" ] || die "/usr/src/linux-headers-$KV missing after install"

mkdir -p "$W"
rm -f "$W/.done"
DL=$CACHE/download
mkdir -p "$DL"

# version of the image package: the source package must be the same upload
VER=$(dpkg-query -W -f='${Version}' "linux-headers-$KV")

# ---- kernel image and modules (extracted, not installed) ---------------------------------------
if [ ! -f "$W/kpkg/boot/vmlinuz-$KV" ]; then
	log "downloading linux-image-$KV $VER"
	rm -rf "$W/kpkg" "$DL"/linux-image-*.deb
	(cd "$DL" && apt-get download -q "linux-image-$KV=$VER" >/dev/null 2>&1) ||
		die "apt-get download linux-image-$KV=$VER failed"
	dpkg -x "$DL"/linux-image-"$KV"_*.deb "$W/kpkg.tmp"
	mv "$W/kpkg.tmp" "$W/kpkg"
	rm -f "$DL"/linux-image-*.deb
fi

# ---- sources of the drivers Debian does not build ---------------------------------------------
MM=$(echo "$KV" | cut -d. -f1-2)
S=$W/src/linux-source-$MM
SRC_FILES="drivers/gpio/gpio-sim.c drivers/gpio/gpiolib.h kernel/irq/irq_sim.c drivers/iio/dummy
	drivers/iio/industrialio-configfs.c drivers/iio/industrialio-sw-device.c
	drivers/iio/industrialio-sw-trigger.c drivers/iio/trigger/iio-trig-hrtimer.c"
if [ ! -f "$S/.complete" ]; then
	rm -rf "$W/src" "$DL"/linux-source-*.deb
	if (cd "$DL" && apt-get download -q "linux-source-$MM=$VER" >/dev/null 2>&1); then
		log "downloaded linux-source-$MM $VER"
	else
		# the archive keeps only a few uploads; another 6.1 upload has the same drivers
		log "warning: linux-source-$MM=$VER is not downloadable; using the candidate version"
		(cd "$DL" && apt-get download -q "linux-source-$MM" >/dev/null) ||
			die "apt-get download linux-source-$MM failed"
	fi
	mkdir -p "$W/src"
	dpkg --fsys-tarfile "$DL"/linux-source-"$MM"_*.deb |
		tar -xO "./usr/src/linux-source-$MM.tar.xz" |
		xz -dc -T0 | tar -C "$W/src" -x $(for f in $SRC_FILES; do printf ' linux-source-%s/%s' "$MM" "$f"; done)
	dpkg-deb -f "$DL"/linux-source-"$MM"_*.deb Version > "$S/.complete"
	rm -f "$DL"/linux-source-*.deb
fi

# ---- out-of-tree build ------------------------------------------------------------------------
log "building modules against linux-headers-$KV (source $(cat "$S/.complete"))"
B=$W/kmod.build
rm -rf "$B"; mkdir -p "$B"
cp "$S"/drivers/gpio/gpio-sim.c "$S"/drivers/gpio/gpiolib.h "$S"/kernel/irq/irq_sim.c \
   "$S"/drivers/iio/dummy/*.[ch] "$S"/drivers/iio/industrialio-configfs.c \
   "$S"/drivers/iio/industrialio-sw-device.c "$S"/drivers/iio/industrialio-sw-trigger.c \
   "$S"/drivers/iio/trigger/iio-trig-hrtimer.c "$B/"
# CONFIG_IRQ_SIM is a bool that Debian leaves unset, so irq_sim.c is built here as a module.
# It calls handle_simple_irq(irq_to_desc(irq)), and irq_to_desc() is not exported to modules;
# generic_handle_irq(irq) does the same (the sim irq's flow handler is handle_simple_irq).
sed -i 's/handle_simple_irq(irq_to_desc(\(.*\)));/generic_handle_irq(\1);/' "$B/irq_sim.c"
grep -q 'generic_handle_irq(' "$B/irq_sim.c" || die "irq_sim.c patch did not apply"
printf '\n#include <linux/module.h>\nMODULE_LICENSE("GPL");\n' >> "$B/irq_sim.c"
cat > "$B/Kbuild" <<'EOF'
obj-m += irq_sim.o gpio-sim.o
obj-m += industrialio-configfs.o industrialio-sw-device.o industrialio-sw-trigger.o
obj-m += iio-trig-hrtimer.o iio_dummy_evgen.o iio_dummy.o
# with events and a triggered buffer, like the upstream Kconfig's IIO_SIMPLE_DUMMY_{EVENTS,BUFFER}
iio_dummy-y := iio_simple_dummy.o iio_simple_dummy_events.o iio_simple_dummy_buffer.o
ccflags-y += -DCONFIG_IIO_SIMPLE_DUMMY_EVENTS=1 -DCONFIG_IIO_SIMPLE_DUMMY_BUFFER=1
EOF
make -s -j"$(nproc)" -C "/usr/src/linux-headers-$KV" M="$B" modules >"$B/build.log" 2>&1 ||
	{ tail -30 "$B/build.log" >&2; die "module build failed (log: $B/build.log)"; }
for m in "$B"/*.ko; do
	vm=$(/sbin/modinfo -F vermagic "$m" | cut -d' ' -f1)
	[ "$vm" = "$KV" ] || die "$m has vermagic $vm, not $KV"
done
rm -rf "$W/kmod"; mkdir -p "$W/kmod"
cp "$B"/*.ko "$W/kmod/"
rm -rf "$B"
echo "$STAMP" > "$W/.done"
log "done in $(( $(date +%s) - t0 )) s: $(cd "$W/kmod" && echo *.ko)"
echo "$W"
