#!/bin/sh
# Installs the Debian packages livetrade needs when pkg-config (or the
# interpreter, for the integration tests) cannot find them.
set -e
need=""
check() { pkg-config --exists "$1" 2>/dev/null || need="$need $2"; }
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
check libzmq libzmq3-dev
check msgpack libmsgpack-dev
check lua5.4 liblua5.4-dev
check cmocka libcmocka-dev
check jansson libjansson-dev
check libcurl libcurl4-openssl-dev
check libwebsockets libwebsockets-dev
command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v make >/dev/null 2>&1 || need="$need make"
[ -x /usr/bin/python3 ] || need="$need python3"
/usr/bin/python3 -c 'import zmq' 2>/dev/null || need="$need python3-zmq"
/usr/bin/python3 -c 'import msgpack' 2>/dev/null || need="$need python3-msgpack"
/usr/bin/python3 -c 'import numpy' 2>/dev/null || need="$need python3-numpy"
/usr/bin/python3 -c 'import pandas' 2>/dev/null || need="$need python3-pandas"
/usr/bin/python3 -c 'import websockets' 2>/dev/null || need="$need python3-websockets"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# The mock Polygon server keeps New York market hours.
[ -e /usr/share/zoneinfo/America/New_York ] || need="$need tzdata"
# deploy/: the supervisor config runs under supervisord in the tests,
# and the compose file is checked with docker-compose config.
command -v supervisord >/dev/null 2>&1 || need="$need supervisor"
command -v docker-compose >/dev/null 2>&1 || need="$need docker-compose"
# The web sink's page: npm fetches its chart library at build time;
# its tests drive the page in headless Chromium.
command -v npm >/dev/null 2>&1 || need="$need npm"
[ -x /usr/bin/chromium ] || need="$need chromium fonts-dejavu-core"
# make fuzz: libFuzzer harnesses built with clang.
command -v clang >/dev/null 2>&1 || need="$need clang"
dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || need="$need libclang-rt-14-dev"
if [ -n "$need" ]; then
    echo "deps: installing$need"
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing packages:$need (run 'make deps' as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
for p in libzmq msgpack lua5.4 cmocka jansson libcurl libwebsockets; do
    pkg-config --exists $p || { echo "deps: $p still missing" >&2; exit 1; }
done
command -v npm >/dev/null 2>&1 || { echo "deps: npm still missing" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "deps: chromium still missing" >&2; exit 1; }
