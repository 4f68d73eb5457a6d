#!/usr/bin/env bats
# Hostile tarballs (test/helpers/mktar.py) through kiln import: each is rejected,
# or extracted with everything inside the layer. Nothing outside the store may
# change: not a sentinel directory beside the store, not /tmp, not $HOME, not
# /etc/passwd's link count.
# kiln-test-runs: single-id

load helpers

setup() {
  kiln_setup
  sentinel=$BATS_TEST_TMPDIR/sentinel
  mkdir -p "$sentinel/inside"
  echo original >"$sentinel/file"
  sentinel_before=$(sentinel_state)
  passwd_links=$(stat -c %h /etc/passwd)
  escapes_before=$(outside_escapes)
}

sentinel_state() {
  find "$sentinel" -printf '%p %y %s %m\n' | sort
  cat "$sentinel/file"
}

# kiln-escape-* names anywhere kiln could reach outside its layer trees.
outside_escapes() {
  {
    find /tmp /var/tmp "$HOME" -maxdepth 3 -name 'kiln-escape-*' 2>/dev/null
    "$KILN" unshare find "$BATS_TEST_TMPDIR" -name 'kiln-escape-*' 2>/dev/null |
      grep -v "^$KILN_ROOT/layers/[0-9a-f]\{64\}/diff/" || true
  } | sort
}

# try_kind KIND: imports the hostile tarball; sets $status and $layer (the layer
# directory when it was accepted, empty otherwise).
try_kind() {
  local tarball=$BATS_TEST_TMPDIR/$1.tar
  python3 "$KILN_SOURCE_ROOT/test/helpers/mktar.py" "$1" "$tarball" || die "mktar.py $1 failed"
  run_kiln '?' import "$tarball" "hostile-$1"
  layer=
  if [[ $status == 0 ]]; then
    layer=$("$KILN" image inspect --format '{{.GraphDriver.Data.UpperDir}}' "hostile-$1")
  else
    assert_equal "$status" 125 "exit status of a rejected import"
    assert_equal "$(wc -l <<<"$KILN_STDERR" | tr -d ' ')" "$(grep -c . <<<"$KILN_STDERR")" "stderr"
  fi
}

# Nothing outside the store changed, the store is consistent, tmp/ is clean.
assert_contained() {
  assert_equal "$(sentinel_state)" "$sentinel_before" "the sentinel directory"
  assert_equal "$(stat -c %h /etc/passwd)" "$passwd_links" "/etc/passwd link count"
  assert_equal "$(outside_escapes)" "$escapes_before" "kiln-escape-* files outside the layers"
  run_kiln system check
  assert_line "store ok"
  run "$KILN" unshare sh -c 'ls -A "$KILN_ROOT/tmp"'
  assert_equal "$(grep -v '^kiln: warning' <<<"$output")" "" "tmp/ after the import"
}

in_layer() {
  "$KILN" unshare sh -c "$1" 2>/dev/null
}

@test "hostile: .. names are rejected" {
  try_kind dotdot
  assert_equal "$status" 125 "exit status"
  assert_output_contains "escapes the layer"
  assert_contained
  run_kiln images -q
  assert_output ""
}

@test "hostile: absolute names land inside the layer" {
  try_kind absolute
  if [[ -n $layer ]]; then
    in_layer "test -f '$layer/tmp/kiln-escape-absolute'" || die "absolute entry not under the layer's tmp/"
  fi
  assert_contained
}

@test "hostile: writes through planted symlinks stay inside the layer" {
  try_kind symlink-escape
  if [[ -n $layer ]]; then
    in_layer "test -L '$layer/escape'" || die "symlink 'escape' missing from the layer"
    in_layer "test ! -e '$layer/../kiln-escape-symlink'" || die "a file landed beside the layer"
  fi
  assert_contained
}

@test "hostile: hardlinks to host files are rejected" {
  try_kind hardlink-escape
  assert_equal "$status" 125 "exit status"
  assert_contained
}

@test "hostile: device nodes are skipped or kept inside the layer" {
  try_kind device
  if [[ -n $layer ]]; then
    in_layer "test ! -b '$layer/dev-sda'" || die "a block device was created without privilege"
  fi
  assert_contained
}

@test "hostile: the same tarballs through stdin" {
  local kind
  for kind in dotdot hardlink-escape; do
    python3 "$KILN_SOURCE_ROOT/test/helpers/mktar.py" "$kind" "$BATS_TEST_TMPDIR/$kind.tar"
    # run_kiln reads /dev/null: call kiln directly to feed stdin.
    local rc=0
    "$KILN" import - "stdin-$kind" <"$BATS_TEST_TMPDIR/$kind.tar" 2>/dev/null || rc=$?
    assert_equal "$rc" 125 "exit status of kiln import - ($kind)"
  done
  assert_contained
}
