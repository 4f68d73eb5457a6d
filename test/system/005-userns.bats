#!/usr/bin/env bats
# kiln's user namespace as `kiln unshare` shows it: 0 is the invoking user, 1..N its
# /etc/subuid range (or a single id with one warning when it has none), and the
# command's exit status comes back unchanged.

# kiln-test-runs: single-id

load helpers

@test "unshare: uid 0 maps to the invoking user, 1 to the subuid range" {
  skip_unless_subuid
  run_kiln unshare cat /proc/self/uid_map
  read -r start count <<<"$(subuid_range)"
  read -r c0 h0 s0 <<<"${lines[0]}"
  read -r c1 h1 s1 <<<"${lines[1]}"
  assert_equal "$c0 $h0 $s0" "0 $(id -u) 1" "first uid_map line"
  assert_equal "$c1 $h1 $s1" "1 $start $count" "second uid_map line"
  assert_equal "$KILN_STDERR" "" "stderr"

  run_kiln unshare cat /proc/self/gid_map
  read -r c0 h0 s0 <<<"${lines[0]}"
  assert_equal "$c0 $h0 $s0" "0 $(id -g) 1" "first gid_map line"
  assert_equal "${#lines[@]}" 2 "gid_map lines"
}

@test "unshare: a user without subuid range gets one id and one warning" {
  skip_unless_single_id
  run_kiln unshare cat /proc/self/uid_map
  assert_equal "$(wc -l <<<"$KILN_STDOUT")" 1 "lines of standard output (the map line; the warning is on stderr)"
  read -r c0 h0 s0 <<<"$KILN_STDOUT"
  assert_equal "$c0 $h0 $s0" "0 $(id -u) 1" "uid_map"
  assert_equal "$KILN_STDERR" \
    "kiln: warning: no subuid range for $(id -un) in /etc/subuid: running with a single id (files owned by other ids cannot be created)" \
    "stderr"
}

@test "unshare: id -u is 0 and KILN_ROOT names the store" {
  skip_if_root "root keeps the host ids"
  run_kiln unshare id -u
  assert_equal "$KILN_STDOUT" 0 "id -u"
  run_kiln unshare sh -c 'echo $KILN_ROOT'
  assert_equal "$KILN_STDOUT" "$KILN_ROOT" "KILN_ROOT"
}

@test "unshare: KILN_ROOT is the user's default store when nothing selects one" {
  skip_if_root "root's store is /var/lib/kiln"
  unset KILN_ROOT KILN_RUNROOT
  export XDG_DATA_HOME=$BATS_TEST_TMPDIR/data
  run_kiln unshare sh -c 'echo $KILN_ROOT'
  if [[ $KILN_STDOUT == /var/lib/kiln ]]; then
    skip "Context::resolve takes uid 0 inside the namespace for root (src/cli/context.cpp)"
  fi
  assert_equal "$KILN_STDOUT" "$XDG_DATA_HOME/kiln" "KILN_ROOT"
}

@test "unshare: files owned by a subordinate id can be created" {
  skip_unless_subuid
  run_kiln unshare sh -c "touch $BATS_TEST_TMPDIR/f && chown 1:1 $BATS_TEST_TMPDIR/f && stat -c %u:%g $BATS_TEST_TMPDIR/f"
  assert_equal "$KILN_STDOUT" "1:1" "owner inside"
  read -r start _ <<<"$(subuid_range)"
  assert_equal "$(stat -c %u "$BATS_TEST_TMPDIR/f")" "$start" "owner on the host"
  run_kiln unshare rm -f "$BATS_TEST_TMPDIR/f"
}

@test "unshare: exit status of the command comes back" {
  run_kiln 3 unshare sh -c 'exit 3'
  run_kiln 0 unshare true
  run_kiln 1 unshare false
}

@test "unshare: 127 for a missing command, 126 for one that cannot run" {
  run_kiln 127 unshare kiln-no-such-command
  assert_output_contains "kiln-no-such-command"
  assert_equal "$(grep -vc '^kiln: warning:' <<<"$KILN_STDERR")" 1 "stderr lines besides warnings"
  run_kiln 126 unshare /etc/passwd
  assert_output_contains "/etc/passwd"
}

@test "unshare: flags after the command belong to it" {
  run_kiln unshare echo --help -x
  assert_equal "$KILN_STDOUT" "--help -x" "echo's output"
}

@test "unshare: nested kiln does not enter again" {
  skip_if_root "root has no user namespace to nest"
  run_kiln unshare "$KILN" unshare cat /proc/self/uid_map
  local nested=$KILN_STDOUT
  run_kiln unshare cat /proc/self/uid_map
  assert_equal "$nested" "$KILN_STDOUT" "uid_map seen by a nested kiln"
}

@test "unshare: mounts made inside do not show on the host" {
  skip_if_root "needs a rootless namespace"
  mkdir -p "$BATS_TEST_TMPDIR/m"
  run_kiln unshare sh -c "mount -t tmpfs none $BATS_TEST_TMPDIR/m && touch $BATS_TEST_TMPDIR/m/x && ls $BATS_TEST_TMPDIR/m"
  assert_equal "$KILN_STDOUT" "x" "listing inside"
  [[ ! -e $BATS_TEST_TMPDIR/m/x ]] || die "the tmpfs mount leaked to the host"
}

@test "info: says whether containers run single-id (chown as a fakeroot) and names the storage driver" {
  KILN_STORAGE_DRIVER= run_kiln info
  if is_single_id_user; then
    assert_output_contains "singleIdMode: true"
    assert_output_contains "idMode: single-id"
    assert_output_contains "chown"
    assert_output_contains "fakeroot"
  else
    assert_output_contains "singleIdMode: false"
    assert_output_contains "idMode: subuid range"
  fi
  assert_output_contains "driver: not probed yet"
  # A chosen driver is the one shown; else the one the first run probes and remembers.
  run_kiln --storage-driver vfs info --format '{{.store.driver}} {{.store.driverSource}}'
  assert_output_contains "vfs chosen"
  import_busybox
  KILN_STORAGE_DRIVER= run_kiln run --rm localhost/busybox true
  KILN_STORAGE_DRIVER= run_kiln info --format '{{.store.driver}}'
  [[ $KILN_STDOUT =~ ^(overlay|fuse-overlayfs|vfs)$ ]] || die "info names no driver: \"$KILN_STDOUT\""
  KILN_STORAGE_DRIVER= run_kiln info
  assert_output_contains "driverSource: probed and remembered in the store"
}

# The holder tests use a runtime directory of their own, so they neither see nor
# disturb the user's shared holder, and stop theirs at the end.
holder_setup() {
  export XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/xdg
  mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
  HOLDER_RECORD=$XDG_RUNTIME_DIR/kiln/userns-holder
}
holder_pid() { sed -n 's/^pid //p' "$HOLDER_RECORD"; }
holder_teardown() { "$KILN" system migrate >/dev/null 2>&1 || true; }

@test "holder: one process holds the user namespace; every command joins it" {
  skip_unless_subuid
  holder_setup
  run_kiln unshare readlink /proc/self/ns/user
  local first_ns=$KILN_STDOUT pid
  [[ -f $HOLDER_RECORD ]] || { holder_teardown; die "no holder record in $HOLDER_RECORD"; }
  pid=$(holder_pid)
  assert_equal "$(cat /proc/$pid/comm)" "kiln-userns"
  assert_equal "$(readlink /proc/$pid/ns/user)" "$first_ns"
  # Its map is kiln's map, and it holds no mount namespace of kiln's.
  assert_equal "$(cat /proc/$pid/uid_map)" "$("$KILN" unshare cat /proc/self/uid_map)"
  assert_equal "$(readlink /proc/$pid/ns/mnt)" "$(readlink /proc/self/ns/mnt)"
  run_kiln unshare readlink /proc/self/ns/user
  assert_equal "$KILN_STDOUT" "$first_ns"
  assert_equal "$(holder_pid)" "$pid"
  # Each command still gets a private mount namespace of its own.
  local a b
  "$KILN" unshare sh -c 'readlink /proc/self/ns/mnt; sleep 1' >"$BATS_TEST_TMPDIR/mnt-a" &
  b=$("$KILN" unshare readlink /proc/self/ns/mnt)
  wait
  a=$(<"$BATS_TEST_TMPDIR/mnt-a")
  [[ $a != "$b" && $b != "$(readlink /proc/self/ns/mnt)" ]] ||
    { holder_teardown; die "commands shared mount namespace $a / $b"; }
  run_kiln system migrate
  assert_equal "$KILN_STDOUT" "stopped the user namespace holder"
  local i
  gone() { [[ ! -e /proc/$pid ]] || [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) == Z ]]; }
  for i in $(seq 50); do gone && break; sleep 0.1; done
  gone || die "holder $pid still runs after system migrate"
  [[ ! -e $HOLDER_RECORD ]] || die "the holder record remained"
  run_kiln system migrate
  assert_equal "$KILN_STDOUT" ""
}

@test "holder: a stale or foreign record is replaced, and its pid is never signalled" {
  skip_unless_subuid
  holder_setup
  mkdir -p "$XDG_RUNTIME_DIR/kiln"
  sleep 300 &
  local foreign=$!
  printf 'pid %s\nstart 1\nuserns 1\n' "$foreign" >"$HOLDER_RECORD"
  run_kiln unshare true
  [[ -e /proc/$foreign ]] || die "kiln signalled process $foreign named by a stale record"
  local pid
  pid=$(holder_pid)
  [[ $pid != "$foreign" ]] || { holder_teardown; die "the stale record was trusted"; }
  assert_equal "$(cat /proc/$pid/comm)" "kiln-userns"
  run_kiln system migrate
  [[ -e /proc/$foreign ]] || die "system migrate signalled a foreign process"
  printf 'garbage\n' >"$HOLDER_RECORD"
  run_kiln unshare true
  [[ $(holder_pid) =~ ^[0-9]+$ ]] || { holder_teardown; die "a garbage record was not replaced"; }
  holder_teardown
  kill "$foreign"
}

@test "holder: KILN_USERNS_HOLDER=0 starts none and joins none; single-id mode needs none" {
  holder_setup
  export KILN_USERNS_HOLDER=0
  # At the same time: a namespace's inode number is reused once it is gone.
  "$KILN" unshare sh -c 'readlink /proc/self/ns/user; sleep 1' >"$BATS_TEST_TMPDIR/ns-a" 2>/dev/null &
  run_kiln unshare readlink /proc/self/ns/user
  wait
  local a
  a=$(<"$BATS_TEST_TMPDIR/ns-a")
  [[ -n $a && $a != "$KILN_STDOUT" ]] || die "two commands shared user namespace $a without a holder"
  [[ ! -e $HOLDER_RECORD ]] || die "a holder was started with KILN_USERNS_HOLDER=0"
  unset KILN_USERNS_HOLDER
  if is_single_id_user; then
    run_kiln unshare true
    [[ ! -e $HOLDER_RECORD ]] || { holder_teardown; die "a holder was started in single-id mode"; }
  fi
}
