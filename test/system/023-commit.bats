#!/usr/bin/env bats
# A container's changes read back: diff (A/C/D, sorted, parents as C, no
# runtime mount points), export (a tar of the whole file system), commit (a
# new image that runs with the change; --change, -m, -a, names; vfs too).
# kiln-test-runs: single-id drivers

load helpers

change_fs='echo hello > /new; rm /etc/group; echo x >> /etc/passwd'

@test "diff lists added, changed and deleted paths as docker diff does" {
  import_busybox
  run_kiln run --name d localhost/busybox sh -c "$change_fs"
  run_kiln diff d
  assert_output $'C /etc\nD /etc/group\nC /etc/passwd\nA /new'
  # A container that changed nothing has nothing to list.
  run_kiln run --name clean localhost/busybox true
  run_kiln diff clean
  assert_output ""
  run_kiln 125 diff nothere
}

@test "diff: a new directory lists its contents; a replaced directory its deletions" {
  import_busybox
  run_kiln run --name dirs localhost/busybox sh -c 'mkdir -p /a/b; touch /a/b/c; rm -rf /home; mkdir /home; touch /home/x'
  run_kiln diff dirs
  assert_line "A /a"
  assert_line "A /a/b"
  assert_line "A /a/b/c"
  assert_line "C /home"
  assert_line "D /home/app"
  assert_line "A /home/x"
}

@test "export writes the container's file system as a tar" {
  import_busybox
  run_kiln run --name e localhost/busybox sh -c "$change_fs"
  run_kiln export -o "$BATS_TEST_TMPDIR/e.tar" e
  tar -tf "$BATS_TEST_TMPDIR/e.tar" | sed 's|^\./||' >"$BATS_TEST_TMPDIR/list"
  grep -qx 'new' "$BATS_TEST_TMPDIR/list" || die "no /new in the export"
  grep -qx 'bin/busybox' "$BATS_TEST_TMPDIR/list" || die "no /bin/busybox in the export"
  ! grep -qx 'etc/group' "$BATS_TEST_TMPDIR/list" || die "/etc/group is still in the export"
  local member
  member=$(tar -tf "$BATS_TEST_TMPDIR/e.tar" | grep -E '^(\./)?new$')
  assert_equal "$(tar -xOf "$BATS_TEST_TMPDIR/e.tar" "$member")" hello "content of /new"
  # To standard output, when it is not a terminal.
  "$KILN" export e | tar -t | grep -qE '^(\./)?new$' || die "export to stdout lacks /new"
}

@test "commit makes an image that runs with the container's changes" {
  import_busybox
  run_kiln run --name c localhost/busybox sh -c "$change_fs"
  run_kiln commit c localhost/committed
  [[ $output =~ ^[0-9a-f]{64}$ ]] || die "commit printed \"$output\", not an image id"
  local id=$output
  run_kiln image inspect --format '{{.Id}}' localhost/committed:latest
  assert_output_contains "$id"
  run_kiln run --rm localhost/committed sh -c 'cat /new; tail -n 1 /etc/passwd; test -e /etc/group || echo nogroup'
  assert_output $'hello\nx\nnogroup'
  # Its history has one more entry than the image's.
  run_kiln history -q localhost/busybox
  local before=${#lines[@]}
  run_kiln history -q localhost/committed
  assert_equal "${#lines[@]}" "$((before + 1))" "history length"
}

@test "commit --change, --message, --author and --format docker" {
  import_busybox
  run_kiln run --name cc localhost/busybox sh -c "$change_fs"
  run_kiln commit -c 'CMD ["cat","/new"]' -c 'ENV GREETING=hi' -m 'added new' -a 'Some One' --format docker cc localhost/cmd
  run_kiln image inspect --format '{{json .Config.Cmd}}' localhost/cmd
  assert_output '["cat","/new"]'
  run_kiln image inspect --format '{{.Author}}' localhost/cmd
  assert_output 'Some One'
  run_kiln history --format '{{.Comment}}' localhost/cmd
  assert_line 0 'added new'
  run_kiln run --rm localhost/cmd
  assert_output hello
  run_kiln run --rm localhost/cmd sh -c 'echo $GREETING'
  assert_output hi
  run_kiln 125 commit -c 'BOGUS x' cc localhost/bad
  assert_output_contains 'BOGUS'
}

@test "commit of a container without a name gives a dangling image; commit of a commit stacks" {
  import_busybox
  run_kiln run --name one localhost/busybox sh -c 'echo 1 > /one'
  run_kiln commit one localhost/one
  run_kiln run --name two localhost/one sh -c 'echo 2 > /two'
  run_kiln commit -q two
  local id=$output
  run_kiln run --rm "$id" cat /one /two
  assert_output $'1\n2'
}

@test "diff and commit work for a vfs container" {
  import_busybox
  run_kiln --storage-driver vfs run --name v localhost/busybox sh -c "$change_fs"
  run_kiln --storage-driver vfs diff v
  assert_output $'C /etc\nD /etc/group\nC /etc/passwd\nA /new'
  run_kiln --storage-driver vfs commit v localhost/fromvfs
  run_kiln --storage-driver vfs run --rm localhost/fromvfs sh -c 'cat /new; test -e /etc/group || echo nogroup'
  assert_output $'hello\nnogroup'
  run_kiln --storage-driver vfs export -o "$BATS_TEST_TMPDIR/v.tar" v
  tar -tf "$BATS_TEST_TMPDIR/v.tar" | grep -qE '^(\./)?new$' || die "vfs export lacks /new"
}

@test "commit keeps a chown made inside (single-id: the chown succeeds, the file stays root's)" {
  import_busybox
  run_kiln run --name own localhost/busybox sh -c 'echo x >/owned; chown 1000:1000 /owned && echo chowned'
  assert_equal "$KILN_STDOUT" "chowned"
  run_kiln commit own localhost/owned
  run_kiln run --rm localhost/owned stat -c '%u:%g' /owned
  if is_single_id_user; then
    assert_equal "$KILN_STDOUT" "0:0"
  else
    assert_equal "$KILN_STDOUT" "1000:1000"
  fi
}
