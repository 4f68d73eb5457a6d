#!/usr/bin/env bats
# kiln pull and push against a real registry: exact manifests and ids, pull by
# digest, an index resolved to the host's platform, round trips, blob reuse
# (HEAD before upload, cross-repository mounts), format and compression
# conversion, progress output, parallel pulls on one store, search.

# kiln-test-runs: single-id

load helpers
load registry
load registry-images

setup_file() {
    start_seed_registry --busybox
    small_tar "$SEED_DIR/extra.tar" etc/kiln-extra "extra layer"
    small_tar "$SEED_DIR/arm.tar" etc/kiln-arch "arm64 image"
    SEED_DIGEST=$(seed_image seed/busybox:1 "$SEED_DIR/busybox.tar" "$SEED_DIR/extra.tar")
    SEED_ID=$(seed_config seed/busybox:1)
    export SEED_DIGEST SEED_ID
}

teardown_file() { stop_registry; }
teardown() {
    stop_blob_proxy
    kiln_teardown
}

# kiln_has COMMAND: the kiln under test has that command (others land separately).
kiln_has() { "$KILN" "$@" --help >/dev/null 2>&1; }

@test "pull: image id, exact manifest bytes, RepoDigest and extracted layers" {
    run_kiln pull -q --tls-verify=false "$REGISTRY/seed/busybox:1"
    assert_equal "$KILN_STDOUT" "${SEED_ID#sha256:}" "printed id"
    [[ -z $KILN_STDERR ]] || die "-q printed on stderr: $KILN_STDERR"
    # The manifest is kept byte for byte (the seed writes it indented on purpose).
    local hex=${SEED_DIGEST#sha256:}
    cmp "$KILN_ROOT/blobs/sha256/$hex" <(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://$REGISTRY/v2/seed/busybox/manifests/1") || die "stored manifest differs from the registry's"
    grep -q "$REGISTRY/seed/busybox@$SEED_DIGEST" "$KILN_ROOT/images/index" || die "no RepoDigest recorded"
    grep -q "$REGISTRY/seed/busybox:1" "$KILN_ROOT/images/index" || die "no name recorded"
    # The pull stores blobs only; the first run extracts the layers (and checks their diff ids).
    [[ -z $(ls -A "$KILN_ROOT/layers") ]] || die "pull extracted layers: $(ls "$KILN_ROOT/layers")"
    if kiln_has system check; then run_kiln system check; fi
    # Sizes come from the gzip blobs until then, and do not change with the extraction.
    run_kiln history --format '{{.Size}}' "$REGISTRY/seed/busybox:1"
    local sizes=$output
    [[ $sizes != *"0B"* ]] || die "a layer without a size: $sizes"
    run_kiln images --format '{{.Size}}' "$REGISTRY/seed/busybox:1"
    local image_size=$output
    run_kiln run --rm "$REGISTRY/seed/busybox:1" cat /etc/kiln-extra
    assert_output "extra layer"
    run_kiln history --format '{{.Size}}' "$REGISTRY/seed/busybox:1"
    assert_equal "$output" "$sizes" "history sizes after the first run"
    run_kiln images --format '{{.Size}}' "$REGISTRY/seed/busybox:1"
    assert_equal "$output" "$image_size" "image size after the first run"
    # Both layers are extracted now: busybox in one, the extra file in the other.
    run_kiln unshare sh -c 'ls "$KILN_ROOT"/layers/*/diff/bin/busybox && cat "$KILN_ROOT"/layers/*/diff/etc/kiln-extra'
    assert_output_contains "extra layer"
    if kiln_has images; then
        run_kiln images --format '{{.Repository}}:{{.Tag}} {{.Digest}}'
        assert_output_contains "$REGISTRY/seed/busybox:1 $SEED_DIGEST"
    fi
    if kiln_has system check; then run_kiln system check; fi
}

@test "pull then create: four layers extracted at once, one blob at two depths, a whiteout: content and system check" {
    local dir=$BATS_TEST_TMPDIR/multi
    mkdir -p "$dir/a/etc" "$dir/a/gone" "$dir/b/etc" "$dir/b/data" "$dir/c/gone"
    echo one > "$dir/a/etc/one"
    echo doomed > "$dir/a/gone/file"
    echo two > "$dir/b/etc/two"
    head -c 4M /dev/urandom > "$dir/b/data/big"
    : > "$dir/c/gone/.wh.file"
    local l
    for l in a b c; do tar --owner=0 --group=0 --numeric-owner -C "$dir/$l" -cf "$dir/$l.tar" .; done
    seed_image multi/img:1 "$dir/a.tar" "$dir/b.tar" "$dir/c.tar" "$dir/b.tar" >/dev/null
    run_kiln pull -q --tls-verify=false "$REGISTRY/multi/img:1"
    assert_equal "$KILN_STDOUT" "$(seed_config multi/img:1 | sed 's/^sha256://')" "printed id"
    [[ $(ls "$KILN_ROOT/layers" | wc -l) == 0 ]] || die "pull extracted layers: $(ls "$KILN_ROOT/layers")"
    # Creating a container extracts all four at once (the image has no shell to run).
    run_kiln create --name multi "$REGISTRY/multi/img:1" /nothing
    run_kiln rm multi
    [[ $(ls "$KILN_ROOT/layers" | wc -l) == 4 ]] || die "want 4 layers: $(ls "$KILN_ROOT/layers")"
    # The big file is in layers 2 and 4 (the same blob), byte for byte; one and two where they belong.
    run_kiln unshare sh -c 'for f in "$KILN_ROOT"/layers/*/diff/data/big; do cmp "$f" "$1" && echo same; done' sh "$dir/b/data/big"
    assert_equal "$(grep -c same <<<"$output")" 2 "copies of data/big"
    run_kiln unshare sh -c 'cat "$KILN_ROOT"/layers/*/diff/etc/one "$KILN_ROOT"/layers/*/diff/etc/two'
    assert_equal "$output" "one
two
two"
    # Layer 3 holds the whiteout for gone/file (an overlay whiteout: not a regular file).
    run_kiln unshare sh -c 'for f in "$KILN_ROOT"/layers/*/diff/gone/file; do [ -f "$f" ] && echo file || echo whiteout; done | sort | tr "\n" " "'
    assert_equal "$output" "file whiteout " "gone/file in layers 1 and 3"
    [[ -z $(ls -A "$KILN_ROOT/tmp") ]] || die "tmp/ not empty: $(ls -A "$KILN_ROOT/tmp")"
    if kiln_has system check; then run_kiln system check; fi
}

@test "a config that lies about a diff id: the pull stores the blobs, the first run fails and stores no layer" {
    seed_image lie/img:1 --lie-diff-id "$SEED_DIR/busybox.tar" "$SEED_DIR/extra.tar" >/dev/null
    # The blobs match the manifest: the pull cannot tell, as skopeo cannot.
    run_kiln pull -q --tls-verify=false "$REGISTRY/lie/img:1"
    run_kiln 125 run --rm "$REGISTRY/lie/img:1" true
    [[ ${#lines[@]} == 1 ]] || die "want one line"
    assert_output_contains "kiln: "
    assert_output_contains "the config says sha256:"
    # Not even the honest base layer is published: the batch goes in whole or not at all.
    [[ -z $(ls -A "$KILN_ROOT/layers") ]] || die "layers published: $(ls "$KILN_ROOT/layers")"
    [[ -z $(ls -A "$KILN_ROOT/tmp") ]] || die "tmp/ not empty: $(ls -A "$KILN_ROOT/tmp")"
    run_kiln ps -aq
    assert_output ""
    run_kiln system check
    run_kiln rmi "$REGISTRY/lie/img:1"
    [[ -z $(ls -A "$KILN_ROOT/blobs/sha256") ]] || die "blobs left: $(ls "$KILN_ROOT/blobs/sha256")"
}

@test "pull: a plain-http registry needs --tls-verify=false, as podman" {
    run_kiln 125 pull -q "$REGISTRY/seed/busybox:1"
    [[ ${#lines[@]} == 1 ]] || die "want one error line"
    assert_output_contains "kiln: pull $REGISTRY/seed/busybox:1: "
    [[ ! -e $KILN_ROOT/images/index ]] || ! grep -q seed/busybox "$KILN_ROOT/images/index"
}

@test "pull: by digest; a layer already in the store is not fetched again" {
    run_kiln pull -q --tls-verify=false "$REGISTRY/seed/busybox@$SEED_DIGEST"
    assert_equal "$KILN_STDOUT" "${SEED_ID#sha256:}" "printed id"
    grep -q "$REGISTRY/seed/busybox@$SEED_DIGEST" "$KILN_ROOT/images/index"
    run_kiln pull --tls-verify=false "$REGISTRY/seed/busybox:1"
    assert_output_contains "skipped: already exists"
    assert_output_not_contains "Copied blob"
}

@test "pull: an index resolves to the host's platform; --platform picks another; no match is an error" {
    local host_arch
    host_arch=$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
    local other=arm64
    [[ $host_arch == arm64 ]] && other=amd64
    local other_digest
    other_digest=$(seed_image multi/busybox:other --arch "$other" "$SEED_DIR/busybox.tar" "$SEED_DIR/arm.tar")
    local other_id
    other_id=$(seed_config multi/busybox:other)
    # Blobs of the host image must exist in multi/busybox: mount them.
    python3 - "$REGISTRY" <<'PY'
import json, sys, urllib.request
r = sys.argv[1]
m = json.load(urllib.request.urlopen(urllib.request.Request(f"http://{r}/v2/seed/busybox/manifests/1",
    headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})))
for d in [m["config"]["digest"]] + [l["digest"] for l in m["layers"]]:
    urllib.request.urlopen(urllib.request.Request(
        f"http://{r}/v2/multi/busybox/blobs/uploads/?mount={d}&from=seed/busybox", method="POST"))
PY
    # The host's manifest, copied into the repository by digest.
    curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REGISTRY/v2/seed/busybox/manifests/1" |
        curl -s -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @- \
            "http://$REGISTRY/v2/multi/busybox/manifests/$SEED_DIGEST" -o /dev/null
    local index
    index=$(seed_index multi/busybox:latest "$other_digest=linux/$other" "$SEED_DIGEST=linux/$host_arch")
    run_kiln pull -q --tls-verify=false "$REGISTRY/multi/busybox"
    assert_equal "$KILN_STDOUT" "${SEED_ID#sha256:}" "host platform's id"
    grep -q "$REGISTRY/multi/busybox@$index" "$KILN_ROOT/images/index" || die "index digest not recorded"
    run_kiln pull -q --tls-verify=false --platform "linux/$other" "$REGISTRY/multi/busybox"
    assert_equal "$KILN_STDOUT" "${other_id#sha256:}" "--platform's id"
    run_kiln 125 pull -q --tls-verify=false --platform linux/s390x "$REGISTRY/multi/busybox"
    assert_output_contains 'no image found in manifest list for architecture "s390x"'
    [[ ${#lines[@]} == 1 ]] || die "want one error line"
}

@test "round trip: push to another repository mounts the blobs, keeps the digest; a second push sends nothing" {
    start_blob_proxy
    local src=$BLOB_PROXY/seed/busybox:1 dest=$BLOB_PROXY/copy/busybox:1
    run_kiln pull -q --tls-verify=false "$src"
    local id=$KILN_STDOUT
    : > "$BLOB_PROXY_LOG"
    run_kiln push --tls-verify=false --digestfile "$BATS_TEST_TMPDIR/digest" "$src" "$dest"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/digest")" "$SEED_DIGEST" "pushed manifest digest"
    assert_output_contains "mounted from seed/busybox"
    # Three blobs (config, two layers), each mounted: no upload session, no blob PUT.
    [[ $(grep -c 'POST /v2/copy/busybox/blobs/uploads/?mount=' "$BLOB_PROXY_LOG") == 3 ]] ||
        die "want 3 mount requests: $(cat "$BLOB_PROXY_LOG")"
    ! grep -q 'PUT /v2/copy/busybox/blobs/' "$BLOB_PROXY_LOG" || die "a blob was uploaded"
    : > "$BLOB_PROXY_LOG"
    run_kiln push --tls-verify=false "$src" "$dest"
    ! grep -q 'blobs/uploads' "$BLOB_PROXY_LOG" || die "second push started an upload: $(cat "$BLOB_PROXY_LOG")"
    [[ $(grep -c 'HEAD /v2/copy/busybox/blobs/' "$BLOB_PROXY_LOG") == 3 ]] || die "want 3 HEAD checks"

    # Back from the copy into an empty store: same id, same digest.
    export KILN_ROOT=$BATS_TEST_TMPDIR/root2
    run_kiln pull -q --tls-verify=false "$dest"
    assert_equal "$KILN_STDOUT" "$id" "id after the round trip"
    grep -q "$BLOB_PROXY/copy/busybox@$SEED_DIGEST" "$KILN_ROOT/images/index"
    if kiln_has run; then
        run_kiln run --rm "$dest" cat /etc/kiln-extra
        assert_output "extra layer"
    fi
    "$KILN" unshare rm -rf "$KILN_ROOT"
}

@test "push: a fresh repository gets every blob uploaded, in parallel, then the manifest" {
    start_blob_proxy
    run_kiln pull -q --tls-verify=false "$REGISTRY/seed/busybox:1"
    : > "$BLOB_PROXY_LOG"
    # Pushed from its registry name to the proxy: another registry, so nothing to mount.
    run_kiln push --tls-verify=false "$REGISTRY/seed/busybox:1" "$BLOB_PROXY/fresh/busybox:2"
    [[ $(grep -c 'PUT /v2/fresh/busybox/blobs/uploads/' "$BLOB_PROXY_LOG") == 3 ]] ||
        die "want 3 blob uploads: $(cat "$BLOB_PROXY_LOG")"
    assert_output_contains "Writing manifest to image destination"
    [[ $(curl -s "http://$REGISTRY/v2/fresh/busybox/tags/list") == *'"2"'* ]]
}

@test "push --format v2s2 converts the manifest; the config (image id) stays the same" {
    run_kiln pull -q --tls-verify=false "$REGISTRY/seed/busybox:1"
    local id=$KILN_STDOUT
    run_kiln push -q --tls-verify=false --format v2s2 --digestfile "$BATS_TEST_TMPDIR/d" \
        "$REGISTRY/seed/busybox:1" "$REGISTRY/conv/busybox:docker"
    local manifest
    manifest=$(curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://$REGISTRY/v2/conv/busybox/manifests/docker")
    [[ $manifest == *'"mediaType":"application/vnd.docker.distribution.manifest.v2+json"'* ]] || die "not v2s2: $manifest"
    [[ $manifest == *"application/vnd.docker.image.rootfs.diff.tar.gzip"* ]]
    [[ $manifest == *"\"digest\":\"sha256:$id\""* ]] || die "config changed: $manifest"
    export KILN_ROOT=$BATS_TEST_TMPDIR/root2
    run_kiln pull -q --tls-verify=false "$REGISTRY/conv/busybox:docker"
    assert_equal "$KILN_STDOUT" "$id"
    grep -q "conv/busybox@$(cat "$BATS_TEST_TMPDIR/d")" "$KILN_ROOT/images/index"
    "$KILN" unshare rm -rf "$KILN_ROOT"
}

@test "push --compression-format zstd recompresses the layers; diff ids and id unchanged" {
    run_kiln pull -q --tls-verify=false "$REGISTRY/seed/busybox:1"
    local id=$KILN_STDOUT
    run_kiln push -q --tls-verify=false --compression-format zstd "$REGISTRY/seed/busybox:1" "$REGISTRY/zst/busybox:1"
    local manifest
    manifest=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REGISTRY/v2/zst/busybox/manifests/1")
    [[ $(grep -o 'tar+zstd' <<<"$manifest" | wc -l) == 2 ]] || die "layers not zstd: $manifest"
    export KILN_ROOT=$BATS_TEST_TMPDIR/root2
    run_kiln pull -q --tls-verify=false "$REGISTRY/zst/busybox:1"
    assert_equal "$KILN_STDOUT" "$id"
    "$KILN" unshare rm -rf "$KILN_ROOT"
    # v2s2 has no zstd layer type.
    export KILN_ROOT=$BATS_TEST_TMPDIR/root
    run_kiln 125 push -q --tls-verify=false --format v2s2 --compression-format zstd \
        "$REGISTRY/seed/busybox:1" "$REGISTRY/zst/busybox:2"
    assert_output_contains "zstd-compressed layers need the OCI format"
}

@test "pull: progress is one line per layer start and end when stderr is not a terminal" {
    run_kiln pull --tls-verify=false "$REGISTRY/seed/busybox:1"
    assert_equal "$KILN_STDOUT" "${SEED_ID#sha256:}" "stdout carries only the id"
    [[ $(grep -c '^Copying blob ' <<<"$KILN_STDERR") == 2 ]] || die "want 2 start lines"
    [[ $(grep -c '^Copied blob .* in ' <<<"$KILN_STDERR") == 2 ]] || die "want 2 end lines"
    [[ $KILN_STDERR != *$'\e'* ]] || die "escape sequences without a terminal"
}

@test "pull: short names go through the configured search registries" {
    mkdir -p "$BATS_TEST_TMPDIR/config/kiln"
    printf 'registries:\n  search: [%s]\n  insecure: [%s]\n' "$REGISTRY" "$REGISTRY" > "$BATS_TEST_TMPDIR/config/kiln/config.yaml"
    XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config run_kiln pull seed/busybox:1
    assert_output_contains "Trying to pull $REGISTRY/seed/busybox:1..."
    assert_line 0 "${SEED_ID#sha256:}"
    run_kiln 125 pull localhost/busybox
    assert_output_contains "localhost/ names images that exist only locally"
}

@test "two pulls of one image in parallel on one store both succeed, and so do two first runs" {
    "$KILN" pull -q --tls-verify=false "$REGISTRY/seed/busybox:1" > "$BATS_TEST_TMPDIR/a" 2>&1 &
    local a=$!
    "$KILN" pull -q --tls-verify=false "$REGISTRY/seed/busybox@$SEED_DIGEST" > "$BATS_TEST_TMPDIR/b" 2>&1 &
    local b=$!
    wait $a || die "first pull failed: $(cat "$BATS_TEST_TMPDIR/a")"
    wait $b || die "second pull failed: $(cat "$BATS_TEST_TMPDIR/b")"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/a")" "${SEED_ID#sha256:}"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/b")" "${SEED_ID#sha256:}"
    # One manifest, one config, two layer blobs: nothing stored twice.
    [[ $(ls "$KILN_ROOT/blobs/sha256" | wc -l) == 4 ]] || die "blobs: $(ls "$KILN_ROOT/blobs/sha256")"
    # Two first runs at once extract each layer once; both see the image.
    "$KILN" run --rm "$REGISTRY/seed/busybox:1" cat /etc/kiln-extra > "$BATS_TEST_TMPDIR/c" 2> "$BATS_TEST_TMPDIR/c.err" &
    a=$!
    "$KILN" run --rm "$REGISTRY/seed/busybox:1" cat /etc/kiln-extra > "$BATS_TEST_TMPDIR/d" 2> "$BATS_TEST_TMPDIR/d.err" &
    b=$!
    wait $a || die "first run failed: $(cat "$BATS_TEST_TMPDIR/c.err")"
    wait $b || die "second run failed: $(cat "$BATS_TEST_TMPDIR/d.err")"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/c")" "extra layer"
    assert_equal "$(cat "$BATS_TEST_TMPDIR/d")" "extra layer"
    [[ $(ls "$KILN_ROOT/layers" | wc -l) == 2 ]] || die "layers stored twice: $(ls "$KILN_ROOT/layers")"
    if kiln_has system check; then run_kiln system check; fi
}

@test "search: catalog names with the term, --limit, --list-tags, --format" {
    seed_image other/busybox:2 "$SEED_DIR/arm.tar" >/dev/null
    run_kiln search --tls-verify=false "$REGISTRY/busybox"
    [[ ${lines[0]} =~ ^NAME\ +DESCRIPTION$ ]] || die "header: ${lines[0]}"
    assert_output_contains "$REGISTRY/seed/busybox"
    assert_output_contains "$REGISTRY/other/busybox"
    run_kiln search --tls-verify=false --limit 1 "$REGISTRY/busybox"
    [[ ${#lines[@]} == 2 ]] || die "--limit 1 gives one row"
    run_kiln search --tls-verify=false "$REGISTRY/nothing-like-this"
    [[ ${#lines[@]} == 1 && ${lines[0]} =~ ^NAME\ +DESCRIPTION$ ]] || die "want only the header"
    run_kiln search --tls-verify=false --list-tags "$REGISTRY/seed/busybox"
    [[ ${lines[1]} =~ ^$REGISTRY/seed/busybox\ +1$ ]] || die "tag row: ${lines[1]}"
    run_kiln search --tls-verify=false --format '{{.Name}}' "$REGISTRY/seed"
    assert_output "$REGISTRY/seed/busybox"
    run_kiln search --tls-verify=false --format json "$REGISTRY/seed"
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r[0]["Name"].endswith("/seed/busybox"), r' "$output"
}
