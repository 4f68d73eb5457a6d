#!/usr/bin/env bats
# Crash safety: kiln dies (KILN_STORE_FAILPOINT's _exit at named points between
# the steps of a publication, or kill -9 in the middle of an extraction) during
# import, rmi and load; afterwards `kiln system check` accepts the store and the
# next writer sweeps the leftovers from tmp/.
# Failpoints (src/store): blob-before-rename, layer-extracted, layer-before-rename,
# layer-after-rename, file-before-rename, image-record-removed, unpublished,
# container-before-rename.
# kiln-test-runs: single-id

load helpers

mk_rootfs() {
  local dir=$BATS_TEST_TMPDIR/rootfs-$1
  mkdir -p "$dir/etc"
  printf '%s\n' "$2" >"$dir/etc/content"
  tar -C "$dir" --numeric-owner --owner=0 --group=0 --mtime=@1700000000 -cf "$dir.tar" .
  echo "$dir.tar"
}

tmp_entries() {
  "$KILN" unshare sh -c 'ls -A "$KILN_ROOT/tmp"' 2>/dev/null
}

# After a crash: the store checks clean (without sweeping first: check reports, it does
# not need tmp/ empty), the next import succeeds and leaves tmp/ empty, check again.
assert_recovers() {
  run_kiln system check
  assert_line "store ok"
  local tarball
  tarball=$(mk_rootfs "next-$RANDOM" "next $RANDOM")
  run_kiln import "$tarball" localhost/next
  assert_equal "$(tmp_entries)" "" "tmp/ after the next writer"
  run_kiln system check
  assert_line "store ok"
}

# crash_import POINT: import dies at POINT with status 99.
crash_import() {
  local tarball
  tarball=$(mk_rootfs "crash-$1" "crash at $1")
  status=0
  KILN_STORE_FAILPOINT=$1 "$KILN" import "$tarball" "localhost/crash-$1" >/dev/null 2>&1 || status=$?
  assert_equal "$status" 99 "exit status of import dying at $1"
}

@test "crash: import dies before a blob is renamed into place" {
  crash_import blob-before-rename
  [[ -n $(tmp_entries) ]] || die "the crash left nothing in tmp/ (did the failpoint fire?)"
  run_kiln images -q
  assert_output ""
  assert_recovers
}

@test "crash: import dies before and after the layer is renamed into place" {
  crash_import layer-before-rename
  assert_recovers
  crash_import layer-after-rename
  assert_recovers
  # The published layer is reused by the same import done again.
  run_kiln import "$BATS_TEST_TMPDIR/rootfs-crash-layer-after-rename.tar" localhost/again
  run_kiln system check
  assert_line "store ok"
}

@test "crash: import dies before the image index is replaced" {
  crash_import file-before-rename
  run_kiln images -q
  assert_output ""
  assert_recovers
}

@test "crash: kill -9 in the middle of extracting a big tarball" {
  local dir=$BATS_TEST_TMPDIR/big
  mkdir -p "$dir"
  local i
  for i in $(seq 1 40); do head -c 1000000 /dev/urandom >"$dir/file$i"; done
  tar -C "$dir" -cf "$BATS_TEST_TMPDIR/big.tar" .
  "$KILN" import "$BATS_TEST_TMPDIR/big.tar" localhost/big >/dev/null 2>&1 &
  local pid=$!
  sleep 0.4
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  assert_recovers
}

@test "crash: rmi dies after the record is removed, before the layers go" {
  local tarball
  tarball=$(mk_rootfs rmi x)
  run_kiln import "$tarball" localhost/victim
  status=0
  KILN_STORE_FAILPOINT=image-record-removed "$KILN" rmi victim >/dev/null 2>&1 || status=$?
  assert_equal "$status" 99 "exit status of rmi dying"
  run_kiln images -q
  assert_output ""
  assert_recovers
}

@test "crash: load dies at each failpoint" {
  "$KILN" help | grep -qE '^  (image )?load ' || skip "kiln load does not exist yet"
  local tarball
  tarball=$(mk_rootfs load x)
  run_kiln import "$tarball" localhost/saved
  run_kiln save -o "$BATS_TEST_TMPDIR/saved.tar" localhost/saved:latest
  run_kiln rmi localhost/saved
  local point
  for point in blob-before-rename layer-extracted layer-before-rename layer-after-rename file-before-rename; do
    status=0
    KILN_STORE_FAILPOINT=$point "$KILN" load -i "$BATS_TEST_TMPDIR/saved.tar" >/dev/null 2>&1 || status=$?
    assert_equal "$status" 99 "exit status of load dying at $point"
    run_kiln system check
    assert_line "store ok"
  done
  run_kiln load -i "$BATS_TEST_TMPDIR/saved.tar"
  assert_equal "$(tmp_entries)" "" "tmp/ after a good load"
  run_kiln images --format '{{.Repository}}'
  assert_output "localhost/saved"
}
