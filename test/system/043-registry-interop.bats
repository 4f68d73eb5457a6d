#!/usr/bin/env bats
# Interoperability with the reference tools, both ways: images skopeo copies and
# podman pushes (Docker v2s2 and OCI) pull into kiln with the same id; images
# kiln pushes are accepted by skopeo inspect, podman pull and podman run (built
# images too: their uncompressed layers go out as gzip).

load helpers
load registry
load registry-images

setup_file() {
    command -v skopeo >/dev/null || skip "skopeo not installed"
    start_registry
    export SEED_DIR=$BATS_FILE_TMPDIR/seed
    mkdir -p "$SEED_DIR"
    cp "$(busybox_tarball)" "$SEED_DIR/busybox.tar"
    small_tar "$SEED_DIR/extra.tar" etc/kiln-extra "extra layer"
    seed_image seed/busybox:1 "$SEED_DIR/busybox.tar" "$SEED_DIR/extra.tar" >/dev/null
    SEED_ID=$(seed_config seed/busybox:1)
    export SEED_ID
    # podman with a store of its own (see TESTING.md: overlay, runc).
    local p=$BATS_FILE_TMPDIR/podman
    mkdir -p "$p/run" "$p/root" "$p/xdg"
    chmod 700 "$p/xdg"
    printf '[storage]\ndriver = "overlay"\nrunroot = "%s/run"\ngraphroot = "%s/root"\n' "$p" "$p" > "$p/storage.conf"
    printf '[engine]\nruntime = "runc"\n' > "$p/containers.conf"
    export CONTAINERS_STORAGE_CONF=$p/storage.conf CONTAINERS_CONF=$p/containers.conf
    export PODMAN_XDG=$p/xdg PODMAN_DIR=$p
}

teardown_file() {
    stop_registry
    [[ -n ${PODMAN_DIR:-} ]] && XDG_RUNTIME_DIR=$PODMAN_XDG podman unshare rm -rf "$PODMAN_DIR/root" 2>/dev/null || true
}

podman_() { XDG_RUNTIME_DIR=$PODMAN_XDG podman "$@"; }

@test "skopeo copies in v2s2 and OCI; kiln pulls both with the same id" {
    local format
    for format in v2s2 oci; do
        skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --format "$format" \
            "docker://$REGISTRY/seed/busybox:1" "docker://$REGISTRY/skopeo/busybox:$format"
        run_kiln pull -q --tls-verify=false "$REGISTRY/skopeo/busybox:$format"
        assert_equal "$KILN_STDOUT" "${SEED_ID#sha256:}" "id of the $format copy"
        local digest
        digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REGISTRY/skopeo/busybox:$format")
        grep -q "skopeo/busybox@$digest" "$KILN_ROOT/images/index" || die "$format: RepoDigest $digest not recorded"
    done
}

@test "podman pushes in v2s2 and OCI; kiln pulls both" {
    podman_ pull -q --tls-verify=false "$REGISTRY/seed/busybox:1" >/dev/null
    local format
    for format in v2s2 oci; do
        podman_ push -q --tls-verify=false --format "$format" "$REGISTRY/seed/busybox:1" "$REGISTRY/podman/busybox:$format"
        run_kiln pull -q --tls-verify=false "$REGISTRY/podman/busybox:$format"
        local config
        config=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/podman/busybox:$format" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])')
        assert_equal "$KILN_STDOUT" "${config#sha256:}" "id of podman's $format push"
    done
}

@test "kiln pushes v2s2 and OCI; skopeo inspect, podman pull and podman run accept them" {
    run_kiln pull -q --tls-verify=false "$REGISTRY/seed/busybox:1"
    local format
    for format in v2s2 oci; do
        run_kiln push -q --tls-verify=false --format "$format" "$REGISTRY/seed/busybox:1" "$REGISTRY/kiln/busybox:$format"
        run skopeo inspect --tls-verify=false "docker://$REGISTRY/kiln/busybox:$format"
        [[ $status == 0 ]] || die "skopeo inspect: $output"
        [[ $output == *'"Architecture": '* ]]
        run skopeo inspect --tls-verify=false --config "docker://$REGISTRY/kiln/busybox:$format"
        [[ $output == *'seed layer 1'* ]] || die "config not as pushed: $output"
        run podman_ pull -q --tls-verify=false "$REGISTRY/kiln/busybox:$format"
        [[ $status == 0 ]] || die "podman pull: $output"
        assert_equal "$output" "${SEED_ID#sha256:}" "podman's id for kiln's $format push"
        run podman_ run --rm "$REGISTRY/kiln/busybox:$format" cat /etc/kiln-extra
        [[ $status == 0 ]] || die "podman run: $output"
        [[ $output == *"extra layer"* ]] || die "podman run output: $output"
    done
}

@test "kiln push --compression-format zstd is read by skopeo" {
    run_kiln pull -q --tls-verify=false "$REGISTRY/seed/busybox:1"
    run_kiln push -q --tls-verify=false --compression-format zstd "$REGISTRY/seed/busybox:1" "$REGISTRY/kiln/busybox:zstd"
    skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/kiln/busybox:zstd" "dir:$BATS_TEST_TMPDIR/zstd-copy"
    run skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/kiln/busybox:zstd"
    [[ $output == *'tar+zstd'* ]]
}

@test "kiln push of a built image (layers stored uncompressed) sends gzip layers podman pulls and runs" {
    import_busybox localhost/busybox
    local ctx=$BATS_TEST_TMPDIR/ctx
    mkdir -p "$ctx"
    printf 'FROM localhost/busybox\nRUN echo built > /built\nCOPY Dockerfile /df\n' >"$ctx/Dockerfile"
    run_kiln build -q -t localhost/built "$ctx"
    local id=$KILN_STDOUT
    run_kiln push -q --tls-verify=false localhost/built "$REGISTRY/kiln/built:1"
    run skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/kiln/built:1"
    [[ $status == 0 ]] || die "skopeo inspect: $output"
    local types
    types=$(python3 -c 'import json,sys; print("\n".join(l["mediaType"] for l in json.load(sys.stdin)["layers"]))' <<<"$output")
    [[ $(grep -c . <<<"$types") == 3 ]] || die "want 3 layers: $types"
    [[ $(grep -cx 'application/vnd.oci.image.layer.v1.tar+gzip' <<<"$types") == 3 ]] || die "not all gzip: $types"
    # The blobs really are gzip, and the config (so the id) is the one kiln built.
    skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/kiln/built:1" "dir:$BATS_TEST_TMPDIR/built-copy"
    local layer
    for layer in $(python3 -c 'import json,sys; print(" ".join(l["digest"].split(":")[1] for l in json.load(open(sys.argv[1]))["layers"]))' "$BATS_TEST_TMPDIR/built-copy/manifest.json"); do
        gzip -t "$BATS_TEST_TMPDIR/built-copy/$layer" || die "layer $layer is not gzip"
    done
    run podman_ pull -q --tls-verify=false "$REGISTRY/kiln/built:1"
    [[ $status == 0 ]] || die "podman pull: $output"
    assert_equal "$output" "$id" "podman's id for kiln's built image"
    run podman_ run --rm "$REGISTRY/kiln/built:1" cat /built
    [[ $status == 0 ]] || die "podman run: $output"
    [[ $output == *built* ]] || die "podman run output: $output"
}
