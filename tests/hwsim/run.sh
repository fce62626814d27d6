#!/bin/sh
# tests/hwsim/run.sh - the VM tests: lwm2md and its drivers against real kernel drivers.
#
#   tests/hwsim/run.sh [--bench] [PYTEST ARGS...]       (as root; `make hwsim` runs it)
#
# 1. tests/hwsim/setup.sh installs/builds what is missing (once; then < 1 s);
# 2. a network namespace is created for this run, with loopback and a tap device (10.77.0.1/24)
#    and nothing else; the whole test runs inside it: pytest, the LwM2M test server (a copy of
#    tests/leshan-server/target/lwm2md-test-server.jar) and qemu, whose guest (10.77.0.2) reaches
#    only that namespace. No address is added outside it, and qemu's user-mode network is not used;
# 3. pytest runs tests/hwsim/test_*.py in ONE boot of Debian's kernel (qemu, TCG: no KVM needed).
#
# --bench also measures the time from a GPIO edge to the notification on the wire inside the VM
# and writes tests/hwsim/RESULTS.md.
# Env: LWM2MD_BIN (default build/lwm2md), LWM2MD_ASAN_BIN (if set, the end-to-end cases run
#      again, in a second boot, with this sanitizer build), LESHAN_JAR, HWSIM_ACCEL (tcg|kvm), HWSIM_MEM,
#      HWSIM_CACHE (default .cache/hwsim), HWSIM_KEEP=1 (keep the run folder).
# Exit status: pytest's (0 = every case passed).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
cd "$TOP"

[ "$(id -u)" = 0 ] || { echo "hwsim: run as root (network namespace, tap device, apt)" >&2; exit 2; }

BENCH=0
if [ "${1:-}" = "--bench" ]; then BENCH=1; shift; fi

t0=$(date +%s)
sh "$HERE/setup.sh" >/dev/null

NS=lwm2md-hwsim-$$
TAP=hwsim0
RUN=$(mktemp -d /tmp/lwm2md-hwsim.XXXXXX)
cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	if [ "${HWSIM_KEEP:-0}" = 1 ]; then echo "hwsim: run folder kept: $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev "$TAP" mode tap
ip -n "$NS" addr add 10.77.0.1/24 dev "$TAP"
ip -n "$NS" link set "$TAP" up

export HWSIM_NETNS="$NS" HWSIM_TAP="$TAP" HWSIM_HOST_IP=10.77.0.1 HWSIM_GUEST_IP=10.77.0.2/24
export HWSIM_RUN="$RUN" HWSIM_BENCH="$BENCH" PYTHONDONTWRITEBYTECODE=1
set +e
if [ "$BENCH" = 1 ]; then
	ip netns exec "$NS" python3 -m pytest -c "$HERE/pytest.ini" --rootdir "$HERE" -m bench "$HERE" "$@"
	rc=$?
else
	ip netns exec "$NS" python3 -m pytest -c "$HERE/pytest.ini" --rootdir "$HERE" -m "not bench" "$HERE" "$@"
	rc=$?
	if [ -n "${LWM2MD_ASAN_BIN:-}" ]; then
		# the sanitizer build, in a second boot: the end-to-end cases only (the kernel-side
		# checks do not involve lwm2md)
		echo "hwsim: again with $LWM2MD_ASAN_BIN (ASan+UBSan)" >&2
		ip netns exec "$NS" env HWSIM_RUN="$RUN/asan" LWM2MD_BIN="$LWM2MD_ASAN_BIN" \
			python3 -m pytest -c "$HERE/pytest.ini" --rootdir "$HERE" -m "not bench" \
			"$HERE/test_connectivity.py" "$HERE/test_sensors.py" "$@"
		rc2=$?
		[ $rc2 -ne 5 ] || rc2=0      # 5: -k left none of them
		[ $rc -ne 0 ] || rc=$rc2
	fi
fi
set -e
echo "hwsim: exit $rc, $(( $(date +%s) - t0 )) s in all" >&2
exit $rc
