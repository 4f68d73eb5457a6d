#!/usr/bin/env bats
# Many kiln processes on one store at once: imports (distinct and identical
# content), tags and rmi in parallel all succeed, and the store checks clean.
# kiln-test-runs: single-id

load helpers

mk_rootfs() {
  local dir=$BATS_TEST_TMPDIR/rootfs-$1
  mkdir -p "$dir/etc"
  printf '%s\n' "$2" >"$dir/etc/content"
  head -c 200000 /dev/urandom >"$dir/etc/noise"
  tar -C "$dir" --numeric-owner --owner=0 --group=0 --mtime=@1700000000 -cf "$dir.tar" .
  echo "$dir.tar"
}

# parallel CMD...: each argument is a shell command line run in the background with
# kiln as $KILN; waits for all and fails naming those that failed.
parallel() {
  local i pids=() failed=()
  for i in "$@"; do
    bash -c "$i" >"$BATS_TEST_TMPDIR/par-${#pids[@]}.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${*:$((i + 1)):1} ($(tail -n 3 "$BATS_TEST_TMPDIR/par-$i.log"))")
  done
  ((${#failed[@]} == 0)) || die "failed in parallel: ${failed[*]}"
}

@test "concurrency: 8 parallel imports, half of them of the same tarball" {
  export KILN
  local cmds=() i same
  same=$(mk_rootfs same same)
  for i in 1 2 3 4; do
    cmds+=("\"\$KILN\" import $(mk_rootfs "d$i" "distinct $i") localhost/d$i")
    cmds+=("\"\$KILN\" import $same localhost/same$i")
  done
  parallel "${cmds[@]}"
  run_kiln images --format '{{.Repository}}' --sort repository
  assert_equal "${#lines[@]}" 8 "images"
  run "$KILN" unshare sh -c 'ls "$KILN_ROOT/layers" | grep -c "^[0-9a-f]\{64\}$"'
  assert_equal "${lines[-1]}" 5 "layers (4 distinct + 1 shared)"
  run_kiln system check
  assert_line "store ok"
}

@test "concurrency: imports, tags and rmi at once" {
  export KILN
  local i
  for i in 1 2 3 4; do run_kiln import "$(mk_rootfs "r$i" "old $i")" "localhost/old$i"; done
  local cmds=()
  for i in 1 2 3 4; do
    cmds+=("\"\$KILN\" rmi localhost/old$i")
    cmds+=("\"\$KILN\" import $(mk_rootfs "n$i" "new $i") localhost/new$i && \"\$KILN\" tag localhost/new$i localhost/tag$i")
  done
  parallel "${cmds[@]}"
  run_kiln images --format '{{.Repository}}' --sort repository
  assert_equal "$output" "$(printf 'localhost/new%s\n' 1 2 3 4; printf 'localhost/tag%s\n' 1 2 3 4)" "names after the race"
  run_kiln system check
  assert_line "store ok"
  run_kiln unshare sh -c 'ls -A "$KILN_ROOT/tmp"'
  assert_equal "${lines[*]-}" "" "tmp/"
}
