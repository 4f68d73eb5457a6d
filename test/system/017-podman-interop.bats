#!/usr/bin/env bats
# kiln save/load against podman: archives podman writes (docker-archive,
# oci-archive, oci-dir) load into kiln with podman's image id, tags and history,
# and archives kiln writes load into podman, which runs them. podman gets a store
# of its own in this file's temp dir (overlay, runc; see TESTING.md). The podman
# image is built without network: the busybox rootfs imported, then a second layer
# added by buildah (copy + commit), so it has two layers and a history.

load helpers

PODMAN_IMAGE=localhost/pbox:latest

# write_podman_conf DIR: storage.conf and containers.conf for a podman store in DIR.
write_podman_conf() {
  local dir=$1
  mkdir -p "$dir"
  cat >"$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$dir/run"
graphroot = "$dir/root"
CONF
  cat >"$dir/containers.conf" <<CONF
[engine]
runtime = "runc"
CONF
}

# use_podman_store DIR: points podman and buildah at the store in DIR. podman 4.3
# prefers a user's ~/.config/containers/storage.conf to CONTAINERS_STORAGE_CONF, so
# the wrappers below also pass the store on the command line.
use_podman_store() {
  export CONTAINERS_STORAGE_CONF=$1/storage.conf CONTAINERS_CONF=$1/containers.conf PODMAN_DIR=$1
}

podman() {
  command podman --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" --storage-driver overlay \
    --runtime runc "$@"
}

buildah() {
  command buildah --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" --storage-driver overlay "$@"
}

setup_file() {
  command -v podman >/dev/null || skip "podman is not installed"
  if [[ -z ${XDG_RUNTIME_DIR:-} || ! -w ${XDG_RUNTIME_DIR:-/nonexistent} ]]; then
    export XDG_RUNTIME_DIR=$BATS_FILE_TMPDIR/xdg
    mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
  fi
  write_podman_conf "$BATS_FILE_TMPDIR/podman"
  use_podman_store "$BATS_FILE_TMPDIR/podman"
  local tarball
  tarball=$(busybox_tarball)
  podman import --change 'CMD ["/bin/sh"]' "$tarball" localhost/pbox:base >&2
  local ctr
  ctr=$(buildah from --pull=false localhost/pbox:base)
  echo "made by podman" >"$BATS_FILE_TMPDIR/data.txt"
  buildah copy "$ctr" "$BATS_FILE_TMPDIR/data.txt" /data.txt >&2
  buildah config --cmd '["/bin/cat", "/data.txt"]' "$ctr" >&2
  # OCI format: podman converts (and so re-hashes) a docker-format config when it
  # saves it as OCI, while an OCI config keeps its bytes, and so its id, in every format.
  buildah commit --format oci "$ctr" "$PODMAN_IMAGE" >&2
  buildah rm "$ctr" >&2
  podman save -o "$BATS_FILE_TMPDIR/p-docker.tar" "$PODMAN_IMAGE" >&2
  podman save --format oci-archive -o "$BATS_FILE_TMPDIR/p-oci.tar" "$PODMAN_IMAGE" >&2
  podman save --format oci-dir -o "$BATS_FILE_TMPDIR/p-ocidir" "$PODMAN_IMAGE" >&2
}

teardown_file() {
  local dir
  for dir in "$BATS_FILE_TMPDIR"/podman*; do
    [[ -d $dir ]] || continue
    PODMAN_DIR=$dir podman unshare rm -rf "$dir" 2>/dev/null || true
  done
}

setup() {
  kiln_setup
  use_podman_store "$BATS_FILE_TMPDIR/podman"
}

teardown() {
  local dir
  for dir in "$BATS_TEST_TMPDIR"/podman* "$BATS_TEST_TMPDIR"/p???[a-z][a-z][a-z]; do
    [[ -d $dir ]] || continue
    PODMAN_DIR=$dir podman unshare rm -rf "$dir" 2>/dev/null || true
  done
  kiln_teardown
}

podman_id() {
  podman image inspect --format '{{.Id}}' "$1"
}

# check_same_as_podman NAME: kiln's image NAME has podman's id, and the same history.
check_same_as_podman() {
  local want_id
  want_id=$(podman_id "$PODMAN_IMAGE")
  run_kiln image inspect --format '{{.Id}}' "$1"
  assert_equal "${output#sha256:}" "$want_id" "image id"
  local want_history
  want_history=$(podman history --no-trunc --format '{{.CreatedBy}}' "$PODMAN_IMAGE")
  run_kiln history --no-trunc --format '{{.CreatedBy}}' "$1"
  assert_equal "$output" "$want_history" "history"
  # podman import + buildah copy/commit: two entries, and exactly podman's count.
  assert_equal "${#lines[@]}" "$(grep -c . <<<"$want_history")" "history entries"
  ((${#lines[@]} >= 2)) || die "history has ${#lines[@]} entries, expected at least 2"
}

@test "podman save (docker-archive) -> kiln load: same id, tags, history" {
  run_kiln load -i "$BATS_FILE_TMPDIR/p-docker.tar"
  assert_output "Loaded image: $PODMAN_IMAGE"
  run_kiln images --format '{{.Repository}}:{{.Tag}}'
  assert_output "$PODMAN_IMAGE"
  check_same_as_podman "$PODMAN_IMAGE"
  run_kiln system check
}

@test "podman save --format oci-archive -> kiln load: same id, tags, history" {
  run_kiln load -i "$BATS_FILE_TMPDIR/p-oci.tar"
  assert_output "Loaded image: $PODMAN_IMAGE"
  check_same_as_podman "$PODMAN_IMAGE"
}

@test "podman save --format oci-dir -> kiln load: same id, history" {
  run_kiln load -i "$BATS_FILE_TMPDIR/p-ocidir"
  assert_output "Loaded image: $PODMAN_IMAGE"
  check_same_as_podman "$PODMAN_IMAGE"
}

# kiln_to_podman FORMAT NAME: kiln saves NAME in FORMAT, a fresh podman store loads it;
# prints the path of the archive.
kiln_to_podman() {
  local format=$1 name=$2 out=$BATS_TEST_TMPDIR/k-$1
  run_kiln save --format "$format" -o "$out" "$name"
  # A fresh podman store per format, with a short path: podman refuses a runroot
  # longer than 50 characters. (teardown removes them all.)
  local short=${format:0:3}${format: -3}
  write_podman_conf "$BATS_TEST_TMPDIR/p$short"
  use_podman_store "$BATS_TEST_TMPDIR/p$short"
  # podman 4.3's load reads archives only; an OCI layout directory is pulled through
  # the oci: transport.
  if [[ $format == oci-dir ]]; then run podman pull "oci:$out"; else run podman load -i "$out"; fi
  echo "$output" >&2
  assert_equal "$status" 0 "podman load of kiln's $format"
}

@test "kiln save (each format) -> podman load -> podman run" {
  run_kiln load -i "$BATS_FILE_TMPDIR/p-docker.tar"
  local want_id format
  want_id=$(podman_id "$PODMAN_IMAGE")
  # oci-dir is not here: podman 4.3 cannot load a layout directory, and pulling it via
  # oci:DIR names the image after the (mixed-case) path, which podman then rejects.
  for format in docker-archive oci-archive; do
    use_podman_store "$BATS_FILE_TMPDIR/podman"
    kiln_to_podman "$format" "$PODMAN_IMAGE"
    local ref=$PODMAN_IMAGE
    # podman names an image it loads from a directory after the directory.
    [[ $format == oci-dir ]] && ref=$want_id
    assert_equal "$(podman_id "$ref")" "$want_id" "podman's id after loading kiln's $format"
    run podman run --rm "$ref" cat /data.txt
    assert_equal "$output" "made by podman" "podman run of kiln's $format"
    run podman run --rm "$ref"
    assert_equal "$output" "made by podman" "CMD of kiln's $format"
  done
}

@test "kiln import -> kiln save -> podman load -> podman run, same id" {
  local tarball id
  tarball=$(busybox_tarball)
  run_kiln import --change 'CMD ["/bin/sh"]' "$tarball" localhost/kbox
  run_kiln image inspect --format '{{.Id}}' localhost/kbox
  id=${output#sha256:}
  local format
  for format in docker-archive oci-archive; do
    kiln_to_podman "$format" localhost/kbox
    assert_equal "$(podman_id localhost/kbox:latest)" "$id" "podman's id of kiln's $format"
    run podman run --rm localhost/kbox:latest sh -c 'echo hello from $(cat /etc/hostname >/dev/null; echo kiln)'
    assert_equal "$output" "hello from kiln" "podman run of kiln's $format"
  done
}

@test "podman archive -> kiln load -> kiln save -> kiln load in a fresh store keeps id, names, history" {
  run_kiln load -i "$BATS_FILE_TMPDIR/p-oci.tar"
  run_kiln save -o "$BATS_TEST_TMPDIR/again.tar" "$PODMAN_IMAGE"
  local saved_root=$KILN_ROOT
  export KILN_ROOT=$BATS_TEST_TMPDIR/root2
  run_kiln load -i "$BATS_TEST_TMPDIR/again.tar"
  assert_output "Loaded image: $PODMAN_IMAGE"
  check_same_as_podman "$PODMAN_IMAGE"
  "$KILN" unshare rm -rf "$KILN_ROOT" 2>/dev/null || true
  export KILN_ROOT=$saved_root
}
