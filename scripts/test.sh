#!/bin/sh
# Installs what is missing, builds puljed, and runs every test twice: a
# normal build and an AddressSanitizer + UndefinedBehaviorSanitizer build;
# the threaded suites also under ThreadSanitizer.
# Ends with one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

sh scripts/install-deps.sh || exit 1

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

passed=0
failed=0
count() { # testlog.json -> adds to passed/failed
  counts=$(/usr/bin/python3 - "$1" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    else:
        bad += 1
print(ok, bad)
PY
)
  set -- $counts
  passed=$((passed + $1)); failed=$((failed + $2))
}
build() { # name, build dir, meson options...
  name=$1; dir=$2; shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; failed=$((failed + 1)); return 1; }
  fi
  if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
    cat "$dir.build.log"; failed=$((failed + 1)); return 1
  fi
  if grep -q "warning:" "$dir.build.log"; then
    echo "$name: the build printed warnings:"; grep "warning:" "$dir.build.log"
    failed=$((failed + 1))
  fi
}
run_suite() { # name, build dir, meson options...
  name=$1; dir=$2
  build "$@" || return
  echo "== $name"
  meson test -C "$dir" --print-errorlogs --num-processes 2
  count "$dir/meson-logs/testlog.json"
}

run_suite "build" build

# The same binaries under valgrind (meson test setup): every unit test, and
# one integration suite with puljed and puljectl themselves under memcheck.
echo "== valgrind"
meson test -C build --setup valgrind --print-errorlogs --num-processes 2 --suite unit
count build/meson-logs/testlog-valgrind.json
meson test -C build --setup valgrind --print-errorlogs integration-reconcile
count build/meson-logs/testlog-valgrind.json

# Under the sanitizers the crash sweep tests every third step (the normal
# build tests every one).
export PULJED_CRASH_STRIDE=3
run_suite "asan+ubsan" build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
unset PULJED_CRASH_STRIDE

# ThreadSanitizer over the suites where the fetcher thread and the
# recorder share a poll: one-shot runs, kill -9, the daemon (IDLE, reloads,
# SIGTERM), after-ingest actions, and the scripted server's faults (its
# address-space cap is left off under TSan, as under ASan).
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:report_signal_unsafe=0"
if build "tsan" build-tsan -Db_sanitize=thread -Dbuildtype=debug; then
  echo "== tsan"
  meson test -C build-tsan --print-errorlogs integration-ingest integration-daemon integration-actions integration-faults
  count build-tsan/meson-logs/testlog.json
fi
unset TSAN_OPTIONS

# libFuzzer (clang) with every library instrumented: the six targets
# (ingest, pdfsig, tnef, frame, receipt, config), each a short run from
# its seeds that prints the coverage reached (about 6 minutes in all);
# tests/README.md, "Fuzzing", has the long runs.
export CC=clang
fuzz_built=0
build "fuzz" build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false && fuzz_built=1
unset CC
if [ "$fuzz_built" -eq 1 ]; then
  echo "== fuzz"
  meson test -C build-fuzz --print-errorlogs --suite fuzz
  count build-fuzz/meson-logs/testlog.json
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
