#!/usr/bin/env bats
# Signals sent to a foreground `kiln run` reach the container, and --init reaps
# orphaned children.

load helpers

setup_file() {
  export KILN_ROOT=$BATS_FILE_TMPDIR/root KILN_RUNROOT=$BATS_FILE_TMPDIR/run
  mkdir -p "$KILN_RUNROOT"
  "$KILN" import "$(busybox_tarball)" localhost/busybox >/dev/null
}
setup() {
  export KILN_ROOT=$BATS_FILE_TMPDIR/root KILN_RUNROOT=$BATS_FILE_TMPDIR/run
}
teardown() { :; }
teardown_file() {
  export KILN_ROOT=$BATS_FILE_TMPDIR/root KILN_RUNROOT=$BATS_FILE_TMPDIR/run
  kiln_teardown
}

IMG=localhost/busybox

# signal_run SIGNAL: runs a container that traps SIGNAL, sends it to kiln, checks the trap ran.
signal_run() {
  local out=$BATS_TEST_TMPDIR/out
  "$KILN" run --rm $IMG sh -c "trap 'echo got-$1; exit 7' $1; echo ready; while :; do sleep 0.1; done" >"$out" 2>&1 &
  local pid=$! i
  for i in $(seq 100); do
    grep -q ready "$out" 2>/dev/null && break
    sleep 0.1
  done
  kill -s "$1" "$pid"
  local status=0
  wait "$pid" || status=$?
  assert_equal "$status" 7 "exit status after SIG$1"
  grep -q "got-$1" "$out" || die "trap did not run: $(cat "$out")"
}

@test "signals: SIGTERM to kiln reaches the container" {
  signal_run TERM
}

@test "signals: SIGINT to kiln reaches the container" {
  signal_run INT
}

@test "signals: --init is pid 1 and reaps orphans" {
  run_kiln run --rm --init $IMG sh -c 'echo $$; (sleep 0.2 &) ; sleep 0.5; ps -o stat,comm | grep -c "^Z" || true'
  assert_line 0 "2"
  assert_line 1 "0"
}

@test "signals: --stop-signal is recorded" {
  run_kiln create --name stopper --stop-signal SIGUSR1 $IMG true
  run_kiln container inspect --format '{{.Config.StopSignal}}' stopper
  assert_equal "$KILN_STDOUT" "SIGUSR1"
  run_kiln rm stopper
}
