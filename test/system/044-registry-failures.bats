#!/usr/bin/env bats
# Registry failures: each one clear line, exit 125, and nothing half-stored: no
# image record, an empty tmp/, a store `kiln system check` accepts.

load helpers
load registry
load registry-images

setup_file() {
    start_registry --auth alice:secret
    export SEED_DIR=$BATS_FILE_TMPDIR/seed
    mkdir -p "$SEED_DIR"
    small_tar "$SEED_DIR/a.tar" etc/a "layer a"
    head -c 48M /dev/urandom > "$SEED_DIR/big.bin"
    tar -C "$SEED_DIR" -cf "$SEED_DIR/big.tar" big.bin
}

teardown_file() { stop_registry; }

setup() {
    kiln_setup
    export KILN_TEST_CREDS=alice:secret
}


kiln_has() { "$KILN" "$@" --help >/dev/null 2>&1; }


# nothing_stored: no image record, tmp/ empty, the store checks clean.
nothing_stored() {
    if [[ -e $KILN_ROOT/images/index ]]; then
        ! grep -q '"id"' "$KILN_ROOT/images/index" || die "an image was recorded: $(cat "$KILN_ROOT/images/index")"
    fi
    if [[ -d $KILN_ROOT/tmp ]]; then
        [[ -z $(ls -A "$KILN_ROOT/tmp") ]] || die "tmp/ not empty: $(ls -A "$KILN_ROOT/tmp")"
    fi
    if kiln_has images; then
        run_kiln images -q
        assert_output ""
    fi
    if kiln_has system check; then run_kiln system check; fi
}

@test "wrong password: one line, 401, exit 125" {
    run_kiln 125 pull -q --tls-verify=false --creds alice:wrong "$REGISTRY/x/y:1"
    assert_output "kiln: pull $REGISTRY/x/y:1: GET /v2/x/y/manifests/1: 401 Unauthorized"
    nothing_stored
}

@test "missing image and missing tag: not found, exit 125" {
    run_kiln 125 pull -q --tls-verify=false --creds "$KILN_TEST_CREDS" "$REGISTRY/no/such:1"
    [[ ${#lines[@]} == 1 ]] || die "want one line"
    assert_output_contains "kiln: pull $REGISTRY/no/such:1: "
    assert_output_contains "404 Not Found"
    nothing_stored
    run_kiln 125 push -q --tls-verify=false "no-such-image" "$REGISTRY/a/b:1"
    assert_output "kiln: no such image: no-such-image"
}

@test "a blob tampered with in the registry's storage: digest mismatch, nothing stored" {
    start_plain_with_image tamper
    local blob
    blob=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$PLAIN/v2/t/img/manifests/1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
    local file
    file=$(REGISTRY_DIR=$PLAIN_DIR registry_blob_path "$blob")
    python3 - "$file" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-20] ^= 0xff; open(p, "wb").write(b)
PY
    run_kiln 125 pull -q --tls-verify=false "$PLAIN/t/img:1"
    [[ ${#lines[@]} == 1 ]] || die "want one line"
    assert_output_contains "kiln: pull $PLAIN/t/img:1: "
    assert_output_contains "$blob"
    nothing_stored
}

@test "a blob flipped in transit (proxy): digest mismatch, nothing stored" {
    start_plain_with_image flip
    start_proxy_for_plain --flip
    run_kiln 125 pull -q --tls-verify=false "$BLOB_PROXY/t/img:1"
    [[ ${#lines[@]} == 1 ]] || die "want one line"
    assert_output_contains "kiln: pull $BLOB_PROXY/t/img:1: "
    nothing_stored
}

@test "a broken download resumes (proxy --cut) and the pull succeeds" {
    start_plain_with_image cut
    start_proxy_for_plain --cut 1000
    run_kiln pull -q --tls-verify=false "$BLOB_PROXY/t/img:1"
    grep -q 'range=bytes=1000-' "$BLOB_PROXY_LOG" || die "no Range resume: $(cat "$BLOB_PROXY_LOG")"
}

@test "the registry dies in the middle of a pull: one line, exit 125, nothing stored" {
    start_plain_with_image kill
    start_proxy_for_plain
    "$KILN" pull -q --tls-verify=false "$BLOB_PROXY/t/img:1" >"$BATS_TEST_TMPDIR/out" 2>&1 &
    local pid=$!
    local i
    for i in $(seq 1 200); do
        grep -q "GET /v2/t/img/blobs/" "$BLOB_PROXY_LOG" 2>/dev/null && break
        sleep 0.02
    done
    kill -9 "$BLOB_PROXY_PID" "$PLAIN_PID"
    local rc=0
    wait "$pid" || rc=$?
    [[ $rc != 0 ]] || skip "the pull finished before the registry was killed"
    assert_equal "$rc" 125 "exit status"
    output=$(cat "$BATS_TEST_TMPDIR/out")
    [[ $(wc -l <<<"$output") == 1 ]] || die "want one line: $output"
    [[ $output == "kiln: pull $BLOB_PROXY/t/img:1: "* ]] || die "unexpected: $output"
    nothing_stored
}

# start_plain_with_image NAME: a second, plain registry ($PLAIN, $PLAIN_DIR, $PLAIN_PID) with
# t/img:1 (a small and a 48 MB layer); $REGISTRY stays the auth one.
start_plain_with_image() {
    local saved_registry=$REGISTRY saved_dir=$REGISTRY_DIR saved_pid=$REGISTRY_PID
    local saved_user=${REGISTRY_USER:-} saved_pw=${REGISTRY_PASSWORD:-}
    unset REGISTRY_USER REGISTRY_PASSWORD
    start_registry
    PLAIN=$REGISTRY PLAIN_DIR=$REGISTRY_DIR PLAIN_PID=$REGISTRY_PID
    seed_image t/img:1 "$SEED_DIR/a.tar" "$SEED_DIR/big.tar" >/dev/null
    REGISTRY=$saved_registry REGISTRY_DIR=$saved_dir REGISTRY_PID=$saved_pid
    REGISTRY_USER=$saved_user REGISTRY_PASSWORD=$saved_pw
    export PLAIN PLAIN_DIR PLAIN_PID
}

start_proxy_for_plain() {
    local saved_registry=$REGISTRY saved_dir=$REGISTRY_DIR saved_user=${REGISTRY_USER:-}
    REGISTRY=$PLAIN REGISTRY_DIR=$PLAIN_DIR
    unset REGISTRY_USER
    start_blob_proxy "$@"
    REGISTRY=$saved_registry REGISTRY_DIR=$saved_dir REGISTRY_USER=$saved_user
}

teardown() {
    stop_blob_proxy
    if [[ -n ${PLAIN_PID:-} ]]; then kill "$PLAIN_PID" 2>/dev/null || true; fi
    unset PLAIN_PID
    kiln_teardown
}
