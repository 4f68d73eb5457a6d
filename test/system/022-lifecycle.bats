#!/usr/bin/env bats
# Containers another kiln process runs: run -d, logs (-f, --tail, -t, streams),
# stop (the image's STOPSIGNAL, SIGKILL after the timeout, no-op when exited),
# kill -s, wait, and exec (same pid namespace and host name, exit codes, -e,
# -w, -u, the container's capabilities; refused for a stopped container).
# kiln-test-runs: single-id drivers

load helpers

teardown() {
  # Detached containers still running would keep their monitors alive.
  # Only those are waited for: wait on a created container blocks until it has run.
  local id ids
  ids=$("$KILN" ps -q 2>/dev/null || true)
  for id in $ids; do "$KILN" kill "$id" >/dev/null 2>&1 || true; done
  for id in $ids; do timeout 30 "$KILN" wait "$id" >/dev/null 2>&1 || true; done
  kiln_teardown
}

# wait_for_log CONTAINER TEXT: polls the log until it contains TEXT (10 s at most).
wait_for_log() {
  local i
  for i in $(seq 100); do
    [[ $("$KILN" logs "$1" 2>&1) == *"$2"* ]] && return 0
    sleep 0.1
  done
  die "log of $1 never showed \"$2\": $("$KILN" logs "$1" 2>&1)"
}

@test "stop sends the image's STOPSIGNAL; logs show the trap ran; wait prints its code" {
  run_kiln import --change 'STOPSIGNAL SIGUSR1' "$(busybox_tarball)" localhost/trap
  run_kiln run -d --name trap localhost/trap \
    sh -c 'trap "echo trapped; exit 3" USR1; echo started; while :; do sleep 0.1; done'
  [[ $output =~ ^[0-9a-f]{64}$ ]] || die "run -d printed \"$output\", not an id"
  wait_for_log trap started
  local start=$SECONDS
  run_kiln stop -t 30 trap
  assert_output trap
  (( SECONDS - start < 10 )) || die "stop took $((SECONDS - start)) s: the stop signal was not honoured"
  run_kiln logs trap
  assert_output $'started\ntrapped'
  run_kiln wait trap
  assert_output 3
  run_kiln ps -a --format '{{.Status}}'
  assert_output_contains "Exited (3)"
}

@test "stop kills a container that ignores its signal once the timeout passes" {
  import_busybox
  run_kiln run -d --name sleeper localhost/busybox sleep 100
  local start=$SECONDS
  run_kiln stop -t 1 sleeper
  assert_line sleeper
  (( SECONDS - start < 8 )) || die "stop -t 1 took $((SECONDS - start)) s"
  run_kiln wait sleeper
  assert_output 137
  # Stopping it again, or an exited container, is a no-op success.
  run_kiln stop sleeper
  assert_output sleeper
}

@test "logs: --follow until exit, stdout and stderr apart, --tail, --timestamps" {
  import_busybox
  run_kiln run -d --name talker localhost/busybox sh -c 'echo one; echo oops >&2; sleep 1; echo two; printf last'
  run_kiln logs -f talker
  assert_equal "$KILN_STDOUT" $'one\ntwo\nlast' "stdout of logs -f"
  assert_equal "$KILN_STDERR" oops "stderr of logs -f"
  run_kiln logs --tail 2 talker
  assert_equal "$KILN_STDOUT" $'two\nlast'
  run_kiln logs --tail 0 talker
  assert_output ""
  run_kiln logs -t talker
  [[ ${lines[0]} =~ ^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]+(Z|[+-][0-9:]+)\ one$ ]] ||
    die "no timestamp: ${lines[0]}"
  run_kiln logs --since 1h talker
  assert_output_contains one
  run_kiln logs --since "$(date -d '+1 hour' +%s)" talker
  assert_output ""
}

@test "kill -s sends a signal by name or number; kill defaults to SIGKILL" {
  import_busybox
  run_kiln run -d --name k1 localhost/busybox sh -c 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done'
  wait_for_log k1 ready
  run_kiln kill -s TERM k1
  assert_output k1
  run_kiln wait k1
  assert_output 42
  run_kiln run -d --name k2 localhost/busybox sh -c 'trap "exit 12" USR2; echo ready; while :; do sleep 0.1; done'
  wait_for_log k2 ready
  run_kiln kill --signal 12 k2
  run_kiln wait k2
  assert_output 12
  run_kiln run -d --name k3 localhost/busybox sleep 100
  run_kiln kill k3
  run_kiln wait k3
  assert_output 137
  run_kiln 125 kill k3
  assert_output_contains "not running"
  run_kiln 125 kill -s NOPE k3
}

@test "exec joins the container: pid namespace, host name, exit codes, -e -w" {
  import_busybox
  run_kiln run -d --name ex --hostname exhost -e FROM_RUN=yes localhost/busybox sleep 100
  # The NULs become spaces inside: the shell drops them from captured output.
  run_kiln exec ex sh -c "tr '\\0' ' ' </proc/1/cmdline"
  assert_equal "$(xargs <<<"$output")" "sleep 100"
  run_kiln exec ex hostname
  assert_output exhost
  run_kiln exec ex sh -c 'echo $FROM_RUN'
  assert_output yes
  run_kiln exec -e FROM_RUN=no -e EXTRA=1 ex sh -c 'echo $FROM_RUN$EXTRA'
  assert_output no1
  run_kiln exec -w /tmp ex pwd
  assert_output /tmp
  run_kiln 7 exec ex sh -c 'exit 7'
  run_kiln 127 exec ex no-such-command
  run_kiln 126 exec ex /etc
  # What exec created is visible to the container's own processes.
  run_kiln exec ex sh -c 'echo shared > /tmp/mark'
  run_kiln exec ex cat /tmp/mark
  assert_output shared
  # -d returns at once; the process runs on in the container.
  run_kiln exec -d ex sh -c 'sleep 0.3; echo bg > /tmp/bg'
  sleep 1
  run_kiln exec ex cat /tmp/bg
  assert_output bg
}

@test "exec -i passes stdin; without -i stdin is empty" {
  import_busybox
  run_kiln run -d --name exin localhost/busybox sleep 100
  local got
  got=$(printf 'one\ntwo\n' | timeout 60 "$KILN" exec -i exin sh -c 'wc -l; cat' 2>/dev/null)
  assert_equal "$got" "2" "lines seen by exec -i"
  got=$(printf 'one\n' | timeout 60 "$KILN" exec exin sh -c 'wc -l' 2>/dev/null)
  assert_equal "$got" "0" "lines seen by exec without -i"
  run_kiln rm -f exin
}

@test "exec has the container's capabilities and user; -u switches user" {
  import_busybox
  run_kiln run -d --name capped --cap-drop NET_RAW localhost/busybox sh -c 'probe caps > /tmp/caps; sleep 100'
  wait_for_file() { for _ in $(seq 50); do "$KILN" exec capped test -s /tmp/caps && return 0; sleep 0.1; done; }
  wait_for_file
  run_kiln exec capped cat /tmp/caps
  local container_caps=$output
  run_kiln exec capped probe caps
  assert_output "$container_caps"
  run_kiln exec capped probe uid
  assert_output_contains "uid=0 gid=0"
  if ! is_single_id_user && [[ $(id -u) != 0 ]]; then
    run_kiln exec -u app capped probe uid
    assert_output_contains "uid=1000 gid=1000"
    run_kiln exec -u app capped probe caps
    assert_output_contains "0000000000000000"
  fi
}

@test "exec into a container that is not running fails with 125" {
  import_busybox
  run_kiln create --name idle localhost/busybox true
  run_kiln 125 exec idle true
  assert_output "kiln: exec: container idle is not running"
  run_kiln run --name done localhost/busybox true
  run_kiln 125 exec done true
  assert_output "kiln: exec: container done is not running"
  run_kiln 125 exec nothere true
  assert_output_contains "no such container"
}
