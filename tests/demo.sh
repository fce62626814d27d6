#!/bin/sh
# `make demo`: a local LwM2M server (Leshan's libraries, tests/leshan-server)
# on loopback and lwm2md registered with it, using etc/lwm2md.ini as shipped.
# Ctrl-C stops both.
set -eu
cd "$(dirname "$0")/.."
WEB_PORT=${WEB_PORT:-8080}
work=.cache/demo
mkdir -p "$work"
jar=$(pwd)/tests/leshan-server/target/lwm2md-test-server.jar
models=$(pwd)/objects/xml

(cd "$work" && exec java -jar "$jar" -lh 127.0.0.1 -lp 5683 -wh 127.0.0.1 -wp "$WEB_PORT" \
	-m "$models") > "$work/server.log" 2>&1 &
server=$!
agent=""
cleanup() {
	[ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
	kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	exit 0
}
trap cleanup INT TERM

i=0
until curl -sf "http://127.0.0.1:$WEB_PORT/api/server/endpoint" >/dev/null; do
	i=$((i + 1))
	if [ $i -gt 120 ] || ! kill -0 $server 2>/dev/null; then
		echo "demo: the LwM2M server did not start; see $work/server.log" >&2
		cat "$work/server.log" >&2
		exit 1
	fi
	sleep 0.5
done

build/lwm2md --foreground -c etc/lwm2md.ini &
agent=$!
ep=$(hostname)
echo
echo "demo: lwm2md is registering with the local LwM2M server as \"$ep\"."
echo "demo: open http://127.0.0.1:$WEB_PORT/ to see the device and read its objects."
echo "demo: Ctrl-C stops the demo."
wait "$agent" || true
cleanup
