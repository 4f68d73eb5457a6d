#!/usr/bin/env bats
# kiln save / kiln load between kiln stores: the three formats, pipes and gzip,
# several images in one archive, images without a name, and archives load must
# refuse (truncated, bad manifest.json, a layer that is not what the config says,
# a missing member) with one line, exit 125 and no new image.
# kiln-test-runs: single-id

load helpers

# Another store for this test: roots made here are removed by teardown.
other_root() {
  echo "$BATS_TEST_TMPDIR/root-$1"
}

teardown() {
  local dir
  for dir in "$BATS_TEST_TMPDIR"/root-*; do
    [[ -e $dir ]] && { "$KILN" --root "$dir" unshare rm -rf "$dir" 2>/dev/null || chmod -R u+rwX "$dir" 2>/dev/null || true; }
  done
  kiln_teardown
}

# kiln_in ROOT [EXPECTED] ARGS...: run_kiln against another store.
kiln_in() {
  local root=$1
  shift
  local saved=$KILN_ROOT
  KILN_ROOT=$root
  run_kiln "$@"
  KILN_ROOT=$saved
}

# The busybox image with a CMD, as localhost/busybox:latest; sets $image_id.
make_busybox() {
  local tarball
  tarball=$(busybox_tarball)
  run_kiln import --change 'CMD ["/bin/sh"]' "$tarball" localhost/busybox
  run_kiln image inspect --format '{{.Id}}' localhost/busybox
  image_id=$output
}

# history_of ROOT IMAGE: the created_by lines, one per history entry.
history_of() {
  kiln_in "$1" history --no-trunc --format '{{.CreatedBy}}' "$2"
  echo "$output"
}

@test "save: docker-archive has manifest.json, the config and uncompressed layers named by diff id" {
  make_busybox
  run_kiln save -o "$BATS_TEST_TMPDIR/bb.tar" localhost/busybox
  assert_equal "$output" "" "save output"
  cd "$BATS_TEST_TMPDIR"
  mkdir x && tar -C x -xf bb.tar
  run python3 - "$image_id" <<'PY'
import hashlib, json, sys
image_id = "sha256:" + sys.argv[1].split(":")[-1]
m = json.load(open("x/manifest.json"))
assert len(m) == 1, m
e = m[0]
assert e["Config"] == image_id.split(":")[1] + ".json", e
assert e["RepoTags"] == ["localhost/busybox:latest"], e
config = open("x/" + e["Config"], "rb").read()
assert "sha256:" + hashlib.sha256(config).hexdigest() == image_id
diff_ids = json.loads(config)["rootfs"]["diff_ids"]
assert len(e["Layers"]) == len(diff_ids) == 1
for member, diff_id in zip(e["Layers"], diff_ids):
    assert member == diff_id.split(":")[1] + ".tar", member
    assert "sha256:" + hashlib.sha256(open("x/" + member, "rb").read()).hexdigest() == diff_id
repos = json.load(open("x/repositories"))
assert list(repos) == ["localhost/busybox"], repos
print("ok")
PY
  assert_equal "$status" 0 "manifest check ($output)"
  # No temporary file (".<name>.kiln-XXXXXX") is left beside the output; run_kiln's own
  # .kiln-stdout/.kiln-stderr live in the same directory, so match save's pattern only.
  run ls -A "$BATS_TEST_TMPDIR"
  assert_output_not_contains ".bb.tar.kiln-"
}

@test "save and load: each format keeps id, names and history in a fresh store" {
  make_busybox
  run_kiln tag localhost/busybox localhost/busybox:v2
  local want_history
  want_history=$(history_of "$KILN_ROOT" localhost/busybox)
  local format
  for format in docker-archive oci-archive oci-dir; do
    run_kiln save --format "$format" -o "$BATS_TEST_TMPDIR/out-$format" localhost/busybox localhost/busybox:v2
    local root
    root=$(other_root "$format")
    kiln_in "$root" load -i "$BATS_TEST_TMPDIR/out-$format"
    assert_line "Loaded image: localhost/busybox:latest"
    assert_line "Loaded image: localhost/busybox:v2"
    kiln_in "$root" images --format '{{.ID}} {{.Repository}}:{{.Tag}}'
    assert_line "${image_id:0:12} localhost/busybox:latest"
    assert_line "${image_id:0:12} localhost/busybox:v2"
    kiln_in "$root" image inspect --format '{{.Id}}' localhost/busybox:v2
    assert_output "$image_id"
    assert_equal "$(history_of "$root" localhost/busybox)" "$want_history" "history after $format"
    kiln_in "$root" system check
  done
}

@test "save to stdout, load from stdin, gzip-compressed archives" {
  make_busybox
  timeout 120 "$KILN" save localhost/busybox >"$BATS_TEST_TMPDIR/piped.tar"
  gzip -c "$BATS_TEST_TMPDIR/piped.tar" >"$BATS_TEST_TMPDIR/piped.tar.gz"
  run bash -c "'$KILN' --root '$(other_root pipe)' load <'$BATS_TEST_TMPDIR/piped.tar' 2>'$BATS_TEST_TMPDIR/err'"
  assert_equal "$status" 0 "load from stdin ($output $(<"$BATS_TEST_TMPDIR/err"))"
  assert_output "Loaded image: localhost/busybox:latest"
  kiln_in "$(other_root gz)" load -i "$BATS_TEST_TMPDIR/piped.tar.gz"
  assert_output "Loaded image: localhost/busybox:latest"
  kiln_in "$(other_root gz)" image inspect --format '{{.Id}}' localhost/busybox
  assert_output "$image_id"
  timeout 120 "$KILN" save --format oci-archive localhost/busybox | gzip >"$BATS_TEST_TMPDIR/oci.tar.gz"
  run bash -c "'$KILN' --root '$(other_root ocigz)' load -q <'$BATS_TEST_TMPDIR/oci.tar.gz' 2>'$BATS_TEST_TMPDIR/err'"
  assert_equal "$status" 0 "load oci from stdin ($output $(<"$BATS_TEST_TMPDIR/err"))"
  assert_output "Loaded image: localhost/busybox:latest"
}

@test "save: several images in one archive; by id gives a dangling image" {
  make_busybox
  local tarball second
  tarball=$(busybox_tarball)
  run_kiln import --change 'CMD ["/bin/true"]' "$tarball" localhost/other:1
  run_kiln image inspect --format '{{.Id}}' localhost/other:1
  second=$output
  run_kiln save -m -o "$BATS_TEST_TMPDIR/multi.tar" localhost/busybox localhost/other:1
  kiln_in "$(other_root multi)" load -i "$BATS_TEST_TMPDIR/multi.tar"
  assert_line "Loaded image: localhost/busybox:latest"
  assert_line "Loaded image: localhost/other:1"
  kiln_in "$(other_root multi)" image inspect --format '{{.Id}}' localhost/other:1
  assert_output "$second"

  run_kiln save -o "$BATS_TEST_TMPDIR/byid.tar" "${image_id:0:12}"
  kiln_in "$(other_root byid)" load -i "$BATS_TEST_TMPDIR/byid.tar"
  assert_output "Loaded image: sha256:$image_id"
  kiln_in "$(other_root byid)" images --format '{{.ID}} {{.Repository}}'
  assert_output "${image_id:0:12} <none>"
}

@test "save: errors leave no file behind" {
  make_busybox
  run_kiln 125 save -o "$BATS_TEST_TMPDIR/none.tar" localhost/busybox localhost/nosuch
  assert_output_contains "nosuch"
  [[ ! -e $BATS_TEST_TMPDIR/none.tar ]] || die "a failed save left its output"
  run ls -A "$BATS_TEST_TMPDIR"
  assert_output_not_contains ".none.tar.kiln-"
  run_kiln 125 save --format oci-dir localhost/busybox
  assert_output "kiln: save: the oci-dir format needs an output directory: use -o DIR"
  run_kiln 125 save --format zip -o "$BATS_TEST_TMPDIR/z" localhost/busybox
  assert_output_contains 'unsupported format "zip"'
}

# load_fails ARCHIVE TEXT: load exits 125 with one line containing TEXT and adds no image.
load_fails() {
  run_kiln images -q
  local before=$output
  run_kiln 125 load -i "$1"
  assert_equal "${#lines[@]}" 1 "number of error lines"
  assert_output_contains "kiln: load $1: "
  assert_output_contains "$2"
  run_kiln images -q
  assert_equal "$output" "$before" "images after a failed load"
  run_kiln system check
}

@test "load: corrupt archives give one line, exit 125, and no image" {
  make_busybox
  run_kiln save -o "$BATS_TEST_TMPDIR/good.tar" localhost/busybox
  cd "$BATS_TEST_TMPDIR"
  mkdir good && tar -C good -xf good.tar
  local layer
  layer=$(cd good && ls *.tar)
  run_kiln rmi localhost/busybox

  # Truncated in the middle of the layer.
  head -c 300000 good.tar >truncated.tar
  load_fails "$BATS_TEST_TMPDIR/truncated.tar" "runcated"

  # Bad JSON in manifest.json.
  cp -a good badjson && echo '[{"Config":' >badjson/manifest.json
  tar -C badjson -cf badjson.tar .
  load_fails "$BATS_TEST_TMPDIR/badjson.tar" "manifest.json: invalid JSON"

  # A member manifest.json names is missing.
  cp -a good missing && rm "missing/$layer"
  tar -C missing -cf missing.tar .
  load_fails "$BATS_TEST_TMPDIR/missing.tar" "missing member \"$layer\""

  # A layer whose content is not the diff id the config gives.
  cp -a good tampered
  mkdir extra && echo tampered >extra/evil && tar -C extra -rf "tampered/$layer" evil
  tar -C tampered -cf tampered.tar .
  load_fails "$BATS_TEST_TMPDIR/tampered.tar" "member \"$layer\""

  # A path in manifest.json that climbs out of the archive.
  cp -a good escape && sed -i "s|\"$layer\"|\"../../$layer\"|" escape/manifest.json
  tar -C escape -cf escape.tar .
  load_fails "$BATS_TEST_TMPDIR/escape.tar" "leaves the archive"

  # Not an image archive at all.
  tar -cf plain.tar -C extra evil
  load_fails "$BATS_TEST_TMPDIR/plain.tar" "not a docker or OCI archive"

  # The good one still loads afterwards.
  run_kiln load -i "$BATS_TEST_TMPDIR/good.tar"
  assert_output "Loaded image: localhost/busybox:latest"
  run_kiln system check
}
