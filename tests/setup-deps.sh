#!/bin/sh
# Installs what building and testing lwm2md needs on a Debian bookworm machine
# (run as root): Debian packages, Python test modules, Java and Maven for the
# LwM2M test server.  Safe to run again: it skips what is there already.
set -eu

need_apt=""
for p in build-essential pkg-config libcoap3-dev libcoap3-bin libmbedtls-dev libgpiod-dev \
	 libiio-dev libinih-dev libcbor-dev libjansson-dev libsystemd-dev libcmocka-dev libmnl-dev \
	 strace procps iproute2 nftables curl \
	 libcurl4-openssl-dev openssl swupdate libswupdate-dev cpio nginx-light \
	 debhelper lintian groff-base modemmanager polkitd dbus-daemon; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need_apt="$need_apt $p"
done
command -v java >/dev/null 2>&1 || need_apt="$need_apt openjdk-17-jdk-headless"
command -v mvn >/dev/null 2>&1 || need_apt="$need_apt maven"
if ! python3 -c 'import pytest, requests, pytest_timeout, cbor2' 2>/dev/null; then
	# Debian's own python3 is "externally managed": use its packages;
	# a pyenv/venv python takes pip
	if python3 -m pip --version >/dev/null 2>&1 &&
	   ! python3 -c 'import sys; sys.exit(sys.prefix == "/usr")'; then
		for r in tests/integration/requirements*.txt; do
			python3 -m pip install -q -r "$r"
		done
	else
		need_apt="$need_apt python3-pytest python3-requests python3-pytest-timeout python3-cbor2"
	fi
fi
if [ -n "$need_apt" ]; then
	echo "setup: installing Debian packages:$need_apt"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $need_apt
fi
