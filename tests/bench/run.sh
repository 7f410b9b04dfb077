#!/bin/sh
# Runs livetrade's benchmarks: each bench binary given as an argument, then
# the pipeline benchmark (tests/bench/pipeline.py, real processes) and the
# polygon warm-up (tests/bench/warmup.py, the feeder against the mock).
# Benchmarks print figures and never fail on time; the exit status is
# non-zero only if one of them broke (crashed, hung past its limit, or
# reported that nothing arrived).
#
#   LIVETRADE_BIN=$PWD/bin sh tests/bench/run.sh build/rel/bench/bench_*
#
# With BENCH_BRIEF=1 (make test) every benchmark runs once, on
# smaller inputs: the figures are rougher, and a broken benchmark still
# fails.

root=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
cd "$root" || exit 1
: "${LIVETRADE_BIN:=$root/bin}"
export LIVETRADE_BIN

# An upper bound on each program, so a hang cannot stall `make bench`.
limit() {
    secs=$1; shift
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 10 "$secs" "$@"
    else
        "$@"
    fi
}

echo "== livetrade benchmarks"
echo "   $(date -u '+%Y-%m-%dT%H:%M:%SZ'), $(uname -sm), $(nproc 2>/dev/null || echo '?') CPU(s)," \
     "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "   figures only: nothing here fails because of a time"

status=0
failed=""
for b in "$@"; do
    name=$(basename "$b")
    echo
    echo "== $name"
    if [ ! -x "$b" ]; then
        echo "$name: not found or not executable: $b"
        status=1; failed="$failed $name"
        continue
    fi
    limit 120 "$b"
    rc=$?
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "$name: did not finish within 120 s"
        echo "$name: exit status $rc"
        status=1; failed="$failed $name"
    fi
done

# The pipeline benchmark runs bench_bus and bench_engine for the physical
# limits it sets its figures beside.
for b in "$@"; do
    BENCH_BIN_DIR=$(cd "$(dirname "$b")" && pwd)
    export BENCH_BIN_DIR
    break
done

echo
echo "== pipeline (feeder -> engine -> sink over ipc://)"
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import zmq, msgpack' 2>/dev/null; then
    if [ -n "$BENCH_BRIEF" ]; then
        secs=150
        limit $secs /usr/bin/python3 tests/bench/pipeline.py --bars 20000 \
            --symbols 100 --bars-per-symbol 50 --runs 2 --raw-msgs 100000 \
            --latency-secs 1 --burst 500
    else
        secs=400
        limit $secs /usr/bin/python3 tests/bench/pipeline.py
    fi
    rc=$?
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "pipeline: did not finish within $secs s"
        echo "pipeline: exit status $rc"
        status=1; failed="$failed pipeline"
    fi
else
    echo "pipeline: skipped (needs /usr/bin/python3 with python3-zmq and python3-msgpack)"
fi

echo
echo "== polygon warm-up (feeder <- mock Polygon REST, 500 bars a symbol)"
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import zmq, msgpack' 2>/dev/null; then
    if [ -n "$BENCH_BRIEF" ]; then
        limit 120 /usr/bin/python3 tests/bench/warmup.py --symbols 100 \
            --concurrency 4
    else
        limit 300 /usr/bin/python3 tests/bench/warmup.py
    fi
    rc=$?
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "warmup: did not finish in time"
        echo "warmup: exit status $rc"
        status=1; failed="$failed warmup"
    fi
else
    echo "warmup: skipped (needs /usr/bin/python3 with python3-zmq and python3-msgpack)"
fi

echo
if [ $status -eq 0 ]; then
    echo "== benchmarks done"
else
    echo "== benchmarks done; broken:$failed"
fi
exit $status
