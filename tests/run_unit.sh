#!/bin/sh
# Runs every cmocka unit-test binary given and sums up their results.
# cmocka prints "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)..." /
# "[  SKIPPED ] N test(s)..." per binary (a skipped test checked nothing
# and is not counted as passed); the last line here is the total for the
# whole unit suite.
pass=0; fail=0; skip=0; status=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -1)
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
    if [ $rc -ne 0 ]; then
        status=1
        [ -z "$f" ] && fail=$((fail + 1))   # crashed before reporting
    fi
done
echo "unit: $pass passed, $fail failed, $skip skipped"
exit $status
