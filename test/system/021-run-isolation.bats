#!/usr/bin/env bats
# What a container cannot see or do: its own pid namespace, Docker's default
# capabilities and seccomp profile (and the flags that change them), and no way
# to write outside its root.

# kiln-test-runs: single-id drivers

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

@test "isolation: the command is pid 1 and host processes are invisible" {
  run_kiln run --rm $IMG sh -c 'echo $$'
  assert_equal "$KILN_STDOUT" "1"
  run_kiln run --rm $IMG sh -c 'ls /proc | grep -c "^[0-9]"'
  [[ $KILN_STDOUT -le 3 ]] || die "the container sees $KILN_STDOUT processes"
  run_kiln run --rm $IMG probe pid
  assert_equal "$KILN_STDOUT" "1"
}

@test "isolation: Docker's default capabilities; --cap-add and --cap-drop change them" {
  run_kiln run --rm $IMG probe caps
  assert_output_contains "00000000a80425fb"
  run_kiln run --rm --cap-add SYS_ADMIN $IMG probe caps
  assert_output_contains "00000000a82425fb"
  run_kiln run --rm --cap-drop chown $IMG probe caps
  assert_output_contains "00000000a80425fa"
  if ! is_single_id_user; then  # single-id mode maps no uid but 0
    run_kiln run --rm -u app $IMG probe caps
    assert_output_contains "0000000000000000"
  fi
}

@test "isolation: seccomp refuses keyctl and unshare(CLONE_NEWUSER) unless unconfined" {
  run_kiln run --rm $IMG probe syscall keyctl
  assert_equal "$KILN_STDOUT" "EPERM"
  run_kiln run --rm --security-opt seccomp=unconfined $IMG probe syscall keyctl
  [[ $KILN_STDOUT != EPERM ]] || die "keyctl still refused when unconfined"
  run_kiln run --rm $IMG probe syscall unshare-user
  assert_equal "$KILN_STDOUT" "EPERM"
  run_kiln run --rm --security-opt seccomp=unconfined $IMG probe syscall unshare-user
  [[ $KILN_STDOUT != EPERM ]] || die "unshare still refused when unconfined"
}

@test "isolation: the compiled seccomp filter is cached in the store and a bad entry is rebuilt" {
  rm -rf "$KILN_ROOT/cache/seccomp"  # earlier tests of this file share the store
  run_kiln run --rm $IMG probe syscall keyctl
  assert_equal "$KILN_STDOUT" "EPERM"
  local entries=("$KILN_ROOT"/cache/seccomp/*.bpf)
  [[ -f ${entries[0]} ]] || die "no compiled filter in $KILN_ROOT/cache/seccomp"
  assert_equal "${#entries[@]}" 1
  local count=1 sum
  sum=$(sha256sum "${entries[@]}")
  run_kiln run --rm $IMG probe syscall unshare-user
  assert_equal "$KILN_STDOUT" "EPERM"
  entries=("$KILN_ROOT"/cache/seccomp/*.bpf)
  assert_equal "${#entries[@]}" "$count"
  assert_equal "$(sha256sum "${entries[@]}")" "$sum"
  # A torn or tampered entry is never loaded: it is compiled and written again.
  local entry
  for entry in "${entries[@]}"; do truncate -s 100 "$entry"; done
  run_kiln run --rm $IMG probe syscall keyctl
  assert_equal "$KILN_STDOUT" "EPERM"
  assert_equal "$(sha256sum "${entries[@]}")" "$sum"
  for entry in "${entries[@]}"; do printf 'garbage' >"$entry"; done
  run_kiln run --rm $IMG probe syscall unshare-user
  assert_equal "$KILN_STDOUT" "EPERM"
  assert_equal "$(sha256sum "${entries[@]}")" "$sum"
  # --cap-add changes the plan, so it gets an entry of its own.
  run_kiln run --rm --cap-add SYS_ADMIN $IMG probe syscall keyctl
  entries=("$KILN_ROOT"/cache/seccomp/*.bpf)
  assert_equal "${#entries[@]}" "$((count + 1))"
}

@test "isolation: no_new_privs only with --security-opt no-new-privileges, as Docker" {
  run_kiln run --rm $IMG sh -c 'grep NoNewPrivs /proc/self/status | tr -d "[:space:]"'
  assert_equal "$KILN_STDOUT" "NoNewPrivs:0"
  run_kiln run --rm --security-opt no-new-privileges $IMG sh -c 'grep NoNewPrivs /proc/self/status | tr -d "[:space:]"'
  assert_equal "$KILN_STDOUT" "NoNewPrivs:1"
  # The default profile still applies with it (loaded after no_new_privs, last).
  run_kiln run --rm --security-opt no-new-privileges $IMG probe syscall keyctl
  assert_equal "$KILN_STDOUT" "EPERM"
  # exec into such a container gets no_new_privs too; into a plain one it does not.
  run_kiln run -d --name nnp --security-opt no-new-privileges $IMG sleep 60
  run_kiln exec nnp sh -c 'grep NoNewPrivs /proc/self/status | tr -d "[:space:]"'
  assert_equal "$KILN_STDOUT" "NoNewPrivs:1"
  run_kiln rm -f nnp
  run_kiln run -d --name plain $IMG sleep 60
  run_kiln exec plain sh -c 'grep NoNewPrivs /proc/self/status | tr -d "[:space:]"'
  assert_equal "$KILN_STDOUT" "NoNewPrivs:0"
  run_kiln exec plain probe syscall keyctl
  assert_equal "$KILN_STDOUT" "EPERM"
  run_kiln rm -f plain
}

@test "isolation: --security-opt seccomp=PROFILE.json loads a Docker-format profile" {
  local profile=$BATS_TEST_TMPDIR/no-mkdir.json
  cat >"$profile" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
JSON
  run_kiln 1 run --rm --security-opt seccomp="$profile" $IMG mkdir /tmp/refused
  assert_output_contains "Operation not permitted"
  # What Docker's default refuses, this profile allows.
  run_kiln run --rm --security-opt seccomp="$profile" $IMG probe syscall keyctl
  [[ $KILN_STDOUT != EPERM ]] || die "keyctl refused under a profile that allows it"
  run_kiln run --rm $IMG mkdir /tmp/allowed
  # A broken or missing profile: one line naming the file, 125, no container left.
  printf '{"defaultAction": ' >"$BATS_TEST_TMPDIR/broken.json"
  run_kiln 125 run --rm --security-opt seccomp="$BATS_TEST_TMPDIR/broken.json" $IMG true
  assert_equal "${#lines[@]}" 1
  assert_output_contains "$BATS_TEST_TMPDIR/broken.json"
  run_kiln 125 run --rm --security-opt seccomp="$BATS_TEST_TMPDIR/missing.json" $IMG true
  assert_output_contains "missing.json"
  run_kiln ps -aq
  assert_equal "$KILN_STDOUT" ""
}

@test "isolation: writes outside the root file system are impossible" {
  local marker=$BATS_TEST_TMPDIR/outside
  run_kiln '?' run --rm $IMG sh -c "touch $marker; touch /../../outside-$$; ls /proc/1/root/ >/dev/null"
  [[ ! -e $marker ]] || die "the container wrote to the host"
  [[ ! -e /outside-$$ ]] || die "the container escaped with .."
  run_kiln run --rm $IMG sh -c 'mount -t tmpfs none /mnt 2>&1 || echo refused'
  assert_output_contains "refused"
}

@test "isolation: in single-id mode chown succeeds as a no-op" {
  skip_unless_single_id
  run_kiln run --rm $IMG probe syscall chown
  assert_equal "$KILN_STDOUT" "ok"
}
