#!/usr/bin/env bats
# Signals sent to a foreground `kiln run` reach the container, and --init reaps
# orphaned children; SIGKILL of kiln or of a detached container's monitor leaves
# nothing mounted and the next command records the container exited; -t under a
# real terminal gives the container a terminal.

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

@test "signals: SIGHUP to kiln reaches the container" {
  signal_run HUP
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

# wait_for_text FILE TEXT: polls FILE until it contains TEXT (10 s at most).
wait_for_text() {
  local i
  for i in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$1 never showed \"$2\": $(cat "$1" 2>/dev/null)"
}

# assert_nothing_mounted ID: no process of ours still holds a mount of the container's
# directory (the mounts live in kiln's private mount namespaces; these must be gone).
assert_nothing_mounted() {
  local i holders
  for i in $(seq 50); do
    holders=$(grep -ls "containers/$1" /proc/[0-9]*/mountinfo 2>/dev/null || true)
    [[ -z $holders ]] && return 0
    sleep 0.1
  done
  die "mounts of container $1 are still held by: $holders"
}

# run_then_kill9 NAME [RUN FLAGS...]: starts a foreground container NAME that loops,
# kills kiln with SIGKILL once it runs, and sets id to the container's full id.
run_then_kill9() {
  local name=$1 out=$BATS_TEST_TMPDIR/out
  shift
  "$KILN" run "$@" --name "$name" $IMG sh -c 'echo ready; while :; do sleep 0.1; done' >"$out" 2>&1 &
  local pid=$!
  wait_for_text "$out" ready
  run_kiln ps -q --no-trunc --filter "name=$name"
  id=$output
  [[ $id =~ ^[0-9a-f]{64}$ ]] || die "no running container $name: $id"
  kill -9 "$pid"
  wait "$pid" || true
}

@test "signals: SIGKILL of a foreground run leaves nothing mounted; the next command records it exited" {
  local id
  run_then_kill9 fg9
  run_kiln ps -a --format '{{.Names}} {{.Status}}'
  assert_output_contains "fg9 Exited (137)"
  assert_nothing_mounted "$id"
  run_kiln rm fg9
  run_kiln system check
}

@test "signals: SIGKILL of a foreground run --rm: the next command removes the record and its tree" {
  local id
  run_then_kill9 rm9 --rm
  run_kiln ps -a --format '{{.Names}}'
  assert_output_not_contains "rm9"
  assert_nothing_mounted "$id"
  run "$KILN" unshare ls -A "$KILN_ROOT/containers"
  assert_output_not_contains "$id"
  run_kiln system check
}

@test "signals: kill -9 of a detached container's monitor: ps records it exited, rm cleans it" {
  run_kiln run -d --name mon9 $IMG sh -c 'while :; do sleep 0.1; done'
  local id=$output monitor
  # The oldest match: the monitor's guard child has the same command line, and it must
  # live to kill the container and unmount.
  monitor=$(pgrep -o -u "$(id -u)" -f "container-monitor .*$id") || die "no monitor process for $id"
  kill -9 $monitor
  # At once: the next command must not trust a record whose monitor is dead.
  run_kiln ps -a --format '{{.Names}} {{.Status}}'
  assert_output_contains "mon9 Exited (137)"
  run_kiln ps -q
  assert_output ""
  run_kiln wait mon9
  assert_output 137
  assert_nothing_mounted "$id"
  run_kiln rm mon9
  run_kiln system check
}

@test "signals: run -t under a real terminal gives the container one" {
  command -v script >/dev/null || skip "script (util-linux) is not installed"
  local out=$BATS_TEST_TMPDIR/out status=0
  timeout -k 5 60 script -qec "$KILN run --rm -t $IMG sh -c 'test -t 0 && test -t 1 && echo is-a-tty; tty'" /dev/null \
    >"$out" 2>&1 </dev/null || status=$?
  cat "$out" >&2
  assert_equal "$status" 0 "exit status of run -t under script"
  grep -q is-a-tty "$out" || die "the container saw no terminal: $(cat "$out")"
  grep -q '^/dev/\(pts/[0-9]*\|console\)' "$out" || die "tty printed no terminal name: $(cat "$out")"
}

# tmux_start COLS ROWS COMMAND: COMMAND in a detached tmux session of that size on a server
# of this test's own, followed by "exit=STATUS" when it ends.
tmux_start() {
  command -v tmux >/dev/null || die "tmux is not installed (contrib/install-deps.sh --test installs it)"
  TMUX_SERVER=kiln-$$-$BATS_TEST_NUMBER
  tmux -L "$TMUX_SERVER" -f /dev/null new-session -d -x "$1" -y "$2" "$3; echo exit=\$?; sleep 60"
}
tmux_screen() { tmux -L "$TMUX_SERVER" capture-pane -p; }
# tmux_wait_for PATTERN [TRIES]: waits TRIES tenths of a second (default 100) for a line
# matching PATTERN (grep) on the screen.
tmux_wait_for() {
  local i
  for i in $(seq "${2:-100}"); do tmux_screen | grep -q "$1" && return 0; sleep 0.1; done
}
# tmux_finish: the screen in $screen (and the test's log), then the server stops.
tmux_finish() {
  screen=$(tmux_screen)
  tmux -L "$TMUX_SERVER" kill-server || true
  echo "$screen" >&2
}

@test "signals: run -it in tmux: the window size, a resize, and Ctrl-C reach the container" {
  local screen=
  # The container prints its size at start and on SIGWINCH, and exits 5 on SIGINT.
  tmux_start 91 27 "$KILN run --rm -it $IMG sh -c 'stty size; trap \"stty size\" WINCH; trap \"echo got-int; exit 5\" INT; echo ready; while :; do sleep 0.1; done'"
  tmux_wait_for ready
  tmux -L "$TMUX_SERVER" resize-window -x 100 -y 30
  tmux_wait_for '^30 100$' 50
  tmux -L "$TMUX_SERVER" send-keys C-c
  tmux_wait_for 'exit='
  tmux_finish
  grep -qx '27 91' <<<"$screen" || die "the container did not start with the window's size"
  grep -qx '30 100' <<<"$screen" || die "the resize did not reach the container"
  grep -q 'got-int' <<<"$screen" || die "Ctrl-C did not reach the container"
  grep -qx 'exit=5' <<<"$screen" || die "kiln did not exit with the container's status 5"
}

@test "signals: exec -it in tmux: a terminal of the window's size, and Ctrl-C reaches the exec'd command" {
  local screen=
  run_kiln run -d --name tty-target $IMG sleep 120
  tmux_start 83 21 "$KILN exec -it tty-target sh -c 'stty size; tty; trap \"echo got-int; exit 6\" INT; echo ready; while :; do sleep 0.1; done'"
  tmux_wait_for ready
  tmux -L "$TMUX_SERVER" send-keys C-c
  tmux_wait_for 'exit='
  tmux_finish
  run_kiln rm -f tty-target
  grep -qx '21 83' <<<"$screen" || die "exec -t did not get the window's size"
  grep -q '^/dev/pts/[0-9]' <<<"$screen" || die "exec -t gave no terminal"
  grep -q 'got-int' <<<"$screen" || die "Ctrl-C did not reach the exec'd command"
  grep -qx 'exit=6' <<<"$screen" || die "kiln exec did not exit with the command's status 6"
}
