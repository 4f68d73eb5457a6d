#!/usr/bin/env bats
# kiln import: a root filesystem tarball (plain, gzip, zstd, stdin) becomes a
# one-layer image; --change and --message shape its config; a missing or corrupt
# tarball is one error line that leaves the store as it was.
# kiln-test-runs: single-id

load helpers

mk_rootfs() {
  local dir=$BATS_TEST_TMPDIR/rootfs-$1
  mkdir -p "$dir/etc" "$dir/bin" "$dir/var/empty"
  printf '%s\n' "$2" >"$dir/etc/content"
  ln -sf ../etc/content "$dir/bin/link"
  tar -C "$dir" --numeric-owner --owner=0 --group=0 --mtime=@1700000000 --sort=name -cf "$dir.tar" .
  echo "$dir.tar"
}

# The store's blobs, layers and images as one comparable listing.
store_state() {
  "$KILN" unshare sh -c 'cd "$KILN_ROOT" && ls blobs/sha256 layers 2>/dev/null; cat images/index 2>/dev/null' 2>/dev/null
}

config_of() {
  run_kiln image inspect --format '{{json .Config}}' "$1"
}

@test "import: a plain tarball; content, link and the printed id" {
  local tarball
  tarball=$(mk_rootfs plain hello)
  run_kiln import "$tarball" plain
  local id=$KILN_STDOUT
  [[ $id =~ ^[0-9a-f]{64}$ ]] || die "not an id: $id"
  run_kiln images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}'
  assert_output "sha256:$id localhost/plain:latest"
  local layer
  layer=$("$KILN" image inspect --format '{{.GraphDriver.Data.UpperDir}}' plain)
  [[ $layer == "$KILN_ROOT/layers/"*/diff ]] || die "layer directory $layer"
  run "$KILN" unshare cat "$layer/etc/content"
  assert_equal "${lines[-1]}" "hello" "file content in the layer"
  run "$KILN" unshare readlink "$layer/bin/link"
  assert_equal "${lines[-1]}" "../etc/content" "symlink in the layer"
}

@test "import: gzip, zstd and stdin give the same layer" {
  local tarball
  tarball=$(mk_rootfs same content)
  gzip -c "$tarball" >"$tarball.gz"
  zstd -q -c "$tarball" >"$tarball.zst"
  run_kiln import "$tarball" p
  run_kiln import "$tarball.gz" g
  run_kiln import "$tarball.zst" z
  "$KILN" import - s <"$tarball" >"$BATS_TEST_TMPDIR/stdin-id" || die "import from stdin failed"
  [[ $(<"$BATS_TEST_TMPDIR/stdin-id") =~ ^[0-9a-f]{64}$ ]] || die "stdin import printed $(<"$BATS_TEST_TMPDIR/stdin-id")"
  local name layers=()
  for name in p g z s; do
    layers+=("$("$KILN" image inspect --format '{{.RootFS.Layers}}' "$name")")
  done
  assert_equal "${layers[1]}" "${layers[0]}" "gzip layer"
  assert_equal "${layers[2]}" "${layers[0]}" "zstd layer"
  assert_equal "${layers[3]}" "${layers[0]}" "stdin layer"
  run "$KILN" unshare sh -c 'ls "$KILN_ROOT/layers" | grep -c "^[0-9a-f]\{64\}$"'
  assert_equal "${lines[-1]}" 1 "layers stored"
}

@test "import: --change and --message shape the config and history" {
  local tarball
  tarball=$(mk_rootfs changes x)
  run_kiln import -c 'CMD ["/bin/sh", "-c", "echo hi"]' --change 'ENTRYPOINT /bin/env' \
    --change 'ENV A=1 B="two words"' -c 'EXPOSE 8080/tcp' -c 'LABEL org.test=yes' -c 'USER 1000' \
    -c 'VOLUME /data' -c 'WORKDIR /srv' -c 'STOPSIGNAL SIGINT' -m 'my message' "$tarball" changed
  config_of changed
  python3 - "$KILN_STDOUT" <<'PY'
import json, sys
c = json.loads(sys.argv[1])
assert c["Cmd"] == ["/bin/sh", "-c", "echo hi"], c
assert c["Entrypoint"] == ["/bin/sh", "-c", "/bin/env"], c
assert "A=1" in c["Env"] and "B=two words" in c["Env"], c
assert "8080/tcp" in c["ExposedPorts"], c
assert c["Labels"] == {"org.test": "yes"}, c
assert c["User"] == "1000" and c["WorkingDir"] == "/srv" and c["StopSignal"] == "SIGINT", c
assert "/data" in c["Volumes"], c
PY
  run_kiln history --format '{{.Comment}}' changed
  assert_output "my message"
  run_kiln 125 import -c 'FROM busybox' "$tarball" bad
  assert_output_contains "FROM busybox"
  run_kiln images --format '{{.Repository}}'
  assert_output "localhost/changed"
}

@test "import: -q prints only the id; no name gives a dangling image" {
  local tarball
  tarball=$(mk_rootfs quiet q)
  run_kiln import -q "$tarball"
  [[ $KILN_STDOUT =~ ^[0-9a-f]{64}$ ]] || die "stdout: $KILN_STDOUT"
  run_kiln images --format '{{.Repository}}:{{.Tag}}'
  assert_output "<none>:<none>"
}

@test "import: busybox from the test images" {
  import_busybox
  run_kiln images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
  [[ $KILN_STDOUT =~ ^localhost/busybox:latest\ [0-9.]+\ MB$ ]] || die "$KILN_STDOUT"
}

@test "import: missing file, corrupt tarball, junk: one line naming it, store unchanged" {
  local tarball
  tarball=$(mk_rootfs good g)
  run_kiln import "$tarball" good
  local before
  before=$(store_state)

  run_kiln 125 import "$BATS_TEST_TMPDIR/nosuch.tar" x
  assert_equal "$KILN_STDOUT" "" "stdout"
  assert_output_contains "nosuch.tar"

  # A gzip stream cut in half, and a file that is no archive at all.
  dd if=/dev/urandom of="$BATS_TEST_TMPDIR/fill" bs=1k count=200 status=none
  tar -C "$BATS_TEST_TMPDIR" -czf "$BATS_TEST_TMPDIR/big.tar.gz" fill
  head -c 60000 "$BATS_TEST_TMPDIR/big.tar.gz" >"$BATS_TEST_TMPDIR/cut.tar.gz"
  run_kiln 125 import "$BATS_TEST_TMPDIR/cut.tar.gz" cut
  assert_output_contains "cut.tar.gz"
  head -c 5000 /dev/urandom >"$BATS_TEST_TMPDIR/junk.tar"
  run_kiln 125 import "$BATS_TEST_TMPDIR/junk.tar" junk
  assert_output_contains "junk.tar"
  local rc=0
  "$KILN" import - stdin-junk <"$BATS_TEST_TMPDIR/junk.tar" 2>/dev/null || rc=$?
  assert_equal "$rc" 125 "exit status of kiln import - with junk"

  assert_equal "$(store_state)" "$before" "store content"
  run "$KILN" unshare sh -c 'ls -A "$KILN_ROOT/tmp"'
  assert_equal "$(grep -v '^kiln: warning' <<<"$output")" "" "tmp/ after failed imports"
  run_kiln system check
  assert_line "store ok"
}

@test "import: a bad reference is refused before reading" {
  local tarball
  tarball=$(mk_rootfs ref r)
  run_kiln 125 import "$tarball" 'Bad:Name'
  assert_output_contains '"Bad:Name"'
  run_kiln images -q
  assert_output ""
}
