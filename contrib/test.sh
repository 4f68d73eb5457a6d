#!/usr/bin/env bash
# kiln's test command: run as root on a fresh Debian 12 machine (CI runs it with
# CI=true). It installs the dependencies, creates the test users, copies the
# checkout (and ../shared, where the conformance corpus lives) into a directory the
# test user owns, builds there as that user, runs every doctest unit-test binary (and
# the pure-logic ones again, built with AddressSanitizer and UBSan, as asan-NAME) and
# every bats system test as the unprivileged user, and ends with ONE line:
#   N passed, N failed, N skipped
# counting test cases. The exit status is non-zero on any failure or when no test ran.
#
#   contrib/test.sh [PATTERN...]   only unit binaries / bats files whose name contains
#                                  one of the patterns (e.g. "userns", "asan" or "005")
#
# Extra runs of a bats file are asked for by a marker line in the file itself:
#   # kiln-test-runs: single-id drivers
#     single-id  also run it as kilnsolo (no /etc/subuid entry: single-id mode)
#     drivers    also run it with KILN_STORAGE_DRIVER=vfs and =fuse-overlayfs
#
# Environment: CI=true (warnings are errors), KILN_TEST_KEEP=1 (keep the work
# directory), KILN_TEST_WORKDIR=DIR (use and keep DIR as the work directory: a
# second run refreshes the copy and rebuilds incrementally), KILN_TEST_FILE_TIMEOUT
# (seconds per bats file, default 900).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly src
readonly test_user=kilntest solo_user=kilnsolo
readonly extra_drivers=(vfs fuse-overlayfs)
readonly file_timeout=${KILN_TEST_FILE_TIMEOUT:-900}
readonly started=$SECONDS
patterns=("$@")

passed=0 failed=0 skipped=0
failed_names=()

say() { printf '[%4ds] %s\n' $((SECONDS - started)) "$*"; }

# The closing line; nothing may be printed after it.
finish() {
  local total=$((passed + failed + skipped))
  if ((${#failed_names[@]})); then
    echo
    echo "Failed:"
    printf '  %s\n' "${failed_names[@]}"
  fi
  echo
  if [[ ${KILN_TEST_KEEP:-} == 1 ]]; then say "work directory kept: $work"; fi
  ((total > 0)) || say "no test ran"
  say "done"
  echo "$passed passed, $failed failed, $skipped skipped"
  if ((failed > 0 || passed + failed == 0)); then exit 1; fi
  exit 0
}

selected() {
  ((${#patterns[@]} == 0)) && return 0
  local p
  for p in "${patterns[@]}"; do [[ $1 == *"$p"* ]] && return 0; done
  return 1
}

if [[ $(id -u) != 0 ]]; then
  echo "contrib/test.sh: run it as root (it installs packages and creates the test users)" >&2
  exit 1
fi

say "installing dependencies"
"$src/contrib/install-deps.sh" --test </dev/null
say "creating test users"
"$src/contrib/setup-test-users.sh" </dev/null

# as_user USER [VAR=VALUE...] -- COMMAND...: runs COMMAND as USER with a clean
# environment of its own (HOME, XDG_RUNTIME_DIR) plus the given variables.
as_user() {
  local user=$1
  shift
  local vars=()
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  local uid home
  uid=$(id -u "$user")
  home=$(getent passwd "$user" | cut -d: -f6)
  runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    XDG_RUNTIME_DIR="/run/user/$uid" CI="${CI:-}" "${vars[@]}" "$@" </dev/null
}

# A work directory the test user owns and everyone may read (kilnsolo runs the same
# binary): <work>/src is the checkout, <work>/shared sits beside it as ../shared.
if [[ -n ${KILN_TEST_WORKDIR:-} ]]; then
  work=$KILN_TEST_WORKDIR
  KILN_TEST_KEEP=1
  mkdir -p "$work"
  rm -rf "$work/src" "$work/shared" "$work/logs" "$work/images"
else
  work=$(mktemp -d /var/tmp/kiln-test.XXXXXX)
fi
cleanup() {
  # Each test user's user namespace holder (kiln system migrate) must not outlive the run,
  # however it ends.
  if [[ -x ${work:-}/build/kiln ]]; then
    local user
    for user in "$test_user" "$solo_user"; do
      as_user "$user" -- timeout -k 5 30 "$work/build/kiln" system migrate >/dev/null 2>&1 || true
    done
  fi
  [[ ${KILN_TEST_KEEP:-} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"
mkdir "$work/src" "$work/logs"
say "copying the checkout to $work"
tar -C "$src" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$work/src" -xf -
if [[ -d $src/../shared ]]; then
  mkdir "$work/shared"
  tar -C "$src/../shared" -cf - . | tar -C "$work/shared" -xf -
else
  say "warning: no ../shared beside the checkout: tests that need the conformance corpus will fail"
fi
chown -R "$test_user:$test_user" "$work"
chmod -R a+rX "$work"

build=$work/build
logs=$work/logs
werror=()
[[ ${CI:-} == true ]] && werror=(-Dwerror=true)
say "building as $test_user (meson setup -Doptimization=1 -Ddebug=false ${werror[*]}, ninja -j2)"
if ! as_user "$test_user" -- meson setup "$build" "$work/src" -Doptimization=1 -Ddebug=false "${werror[@]}" >"$logs/build.log" 2>&1 ||
  ! as_user "$test_user" -- ninja -C "$build" -j2 >>"$logs/build.log" 2>&1; then
  tail -n 60 "$logs/build.log"
  say "build FAILED"
  failed=$((failed + 1))
  failed_names+=("build")
  finish
fi
say "build ok"

# ---- unit tests: every *_test binary; doctest prints its own counts ----------------
# run_unit USER NAME BINARY [ARGS...]
run_unit() {
  local user=$1 name=$2 binary=$3
  shift 3
  local log=$logs/unit-$name-$user.log rc=0 t0=$SECONDS
  as_user "$user" -- timeout -k 10 600 "$binary" "$@" >"$log" 2>&1 || rc=$?
  local summary p=0 f=0 s=0
  summary=$(grep -E '^\[doctest\] test cases:' "$log" | tail -n 1 || true)
  if [[ -n $summary ]]; then
    p=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$summary")
    f=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$summary")
    s=$(sed -E 's/.*\| *([0-9]+) skipped.*/\1/' <<<"$summary")
  fi
  # A crash or a non-zero exit without failed cases still counts as one failure.
  if ((rc != 0 && f == 0)); then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  say "unit   $name [$user]: $p passed, $f failed, $s skipped ($((SECONDS - t0))s)"
  if ((f > 0)); then
    failed_names+=("unit $name [$user]")
    echo "---- output of $name (exit $rc) ----"
    tail -n 150 "$log"
    echo "----"
  fi
}

mapfile -t unit_binaries < <(find "$build/test" -maxdepth 1 -type f -name '*_test' -perm -u+x | sort)
for binary in "${unit_binaries[@]}"; do
  name=$(basename "$binary")
  selected "$name" || continue
  run_unit "$test_user" "$name" "$binary"
done
# userns again in single-id mode (the whole binary: doctest counts cases a filter
# leaves out as skipped).
if [[ -x $build/test/userns_test ]] && selected userns_test; then
  run_unit "$solo_user" userns_test "$build/test/userns_test"
fi

# ---- the pure-logic unit tests again under AddressSanitizer and UBSan -----------------
# Parsers, references, tar path safety, whiteouts, the store's records and locks: the
# code that reads untrusted input. A second build (shared libraries: the sanitizers do
# not mix with the static libstdc++), only these test binaries; any report fails.
readonly sanitized=(util image dockerfile conformance layer store archive archive_formats)
san_selected=()
for name in "${sanitized[@]}"; do selected "asan-${name}_test" && san_selected+=("$name"); done
if ((${#san_selected[@]})); then
  san_build=$work/build-san
  san_targets=()
  for name in "${san_selected[@]}"; do san_targets+=("test/${name}_test"); done
  say "building ${#san_targets[@]} unit tests with -Db_sanitize=address,undefined"
  if as_user "$test_user" -- meson setup "$san_build" "$work/src" \
       -Db_sanitize=address,undefined -Db_lundef=false -Dstatic_deps=false -Dsystem_tests=false \
       -Doptimization=1 -Ddebug=true "${werror[@]}" >"$logs/build-san.log" 2>&1 &&
     as_user "$test_user" -- ninja -C "$san_build" -j2 "${san_targets[@]}" >>"$logs/build-san.log" 2>&1; then
    for name in "${san_selected[@]}"; do
      run_unit "$test_user" "asan-${name}_test" env ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$san_build/test/${name}_test"
    done
  else
    tail -n 60 "$logs/build-san.log"
    say "sanitizer build FAILED"
    failed=$((failed + 1))
    failed_names+=("build-san")
  fi
fi

# ---- system tests: bats files as the unprivileged users ----------------------------
export_vars=(KILN="$build/kiln" PROBE="$build/test/helpers/probe" KILN_SOURCE_ROOT="$work/src"
             KILN_TEST_IMAGES="$work/images")
say "building test images"
if ! as_user "$test_user" -- "$work/src/contrib/make-test-images.sh" "$work/images" \
  "$build/test/helpers/probe" >"$logs/images.log" 2>&1; then
  cat "$logs/images.log"
  say "warning: test images could not be built; tests that import them will fail"
fi

# run_bats USER LABEL FILE [VAR=VALUE...]
run_bats() {
  local user=$1 label=$2 file=$3
  shift 3
  local log=$logs/system-$(basename "$file" .bats)-$label.log rc=0 t0=$SECONDS
  as_user "$user" "${export_vars[@]}" "$@" -- timeout -k 10 "$file_timeout" bats --tap "$file" >"$log" 2>&1 || rc=$?
  local p s f planned
  p=$(grep -E '^ok [0-9]+' "$log" | grep -viEc '^ok [0-9]+ .*# skip' || true)
  s=$(grep -iEc '^ok [0-9]+ .*# skip' "$log" || true)
  f=$(grep -Ec '^not ok [0-9]+' "$log" || true)
  planned=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$log" | head -n 1)
  local note=""
  # Tests bats never reported (a timeout, a crash) are failures too.
  if [[ -n $planned ]] && ((p + s + f < planned)); then
    note=" ($((planned - p - s - f)) never reported)"
    f=$((planned - p - s))
  fi
  if ((rc != 0 && f == 0)); then
    f=1
    note=" (bats exited $rc)"
  fi
  ((rc == 124)) && note+=" (timed out after ${file_timeout}s)"
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  say "system $(basename "$file" .bats) [$label]: $p passed, $f failed, $s skipped ($((SECONDS - t0))s)$note"
  if ((f > 0)); then
    failed_names+=("system $(basename "$file" .bats) [$label]")
    echo "---- failures in $(basename "$file") [$label] ----"
    # Each "not ok" line and the diagnostics after it; everything if none is marked.
    if grep -qE '^not ok' "$log"; then
      awk '/^not ok/ { on = 1; print; next } /^ok / { on = 0 } on' "$log" | head -n 400
    else
      tail -n 100 "$log"
    fi
    echo "----"
  fi
}

# The words of a file's "# kiln-test-runs:" marker line.
runs_of() {
  sed -nE 's/^# kiln-test-runs:(.*)$/\1/p' "$1" | head -n 1
}

mapfile -t bats_files < <(find "$work/src/test/system" -maxdepth 1 -name '[0-9]*.bats' | sort)
for file in "${bats_files[@]}"; do
  selected "$(basename "$file")" || continue
  runs=" $(runs_of "$file") "
  run_bats "$test_user" "$test_user" "$file"
  if [[ $runs == *" single-id "* ]]; then
    run_bats "$solo_user" "$solo_user" "$file"
  fi
  if [[ $runs == *" drivers "* ]]; then
    for driver in "${extra_drivers[@]}"; do
      run_bats "$test_user" "$driver" "$file" KILN_STORAGE_DRIVER="$driver"
    done
  fi
done

finish
