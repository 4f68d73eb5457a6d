#!/usr/bin/env bats
# Registry authentication: htpasswd Basic (login, logout, the auth file, --creds),
# TLS with a certs.d directory, and the Bearer token flow.

load helpers
load registry
load registry-images

setup_file() {
    # A plain registry to seed from: kiln pulls from it, then pushes to the auth ones.
    start_seed_registry
    small_tar "$SEED_DIR/a.tar" etc/a "layer a"
    small_tar "$SEED_DIR/b.tar" etc/b "layer b"
    seed_image seed/small:1 "$SEED_DIR/a.tar" "$SEED_DIR/b.tar" >/dev/null
    SEED_ID=$(seed_config seed/small:1)
    export SEED_ID SEED_REGISTRY=$REGISTRY SEED_REGISTRY_PID=$REGISTRY_PID
}

teardown_file() {
    kill "$SEED_REGISTRY_PID" 2>/dev/null || true
}

setup() {
    kiln_setup
    # Not REGISTRY_AUTH_FILE: docker-registry reads REGISTRY_* variables as its config.
    export XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/xdg-run
    mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
    AUTH_FILE=$XDG_RUNTIME_DIR/containers/auth.json
    run_kiln pull -q --tls-verify=false "$SEED_REGISTRY/seed/small:1"
}

teardown() {
    stop_registry
    kiln_teardown
}

@test "login with a wrong password: 401, exit 125, nothing stored" {
    start_registry --auth alice:secret
    run_kiln 125 login --tls-verify=false -u alice -p wrong "$REGISTRY"
    assert_output "kiln: login $REGISTRY: GET /v2/: 401 Unauthorized"
    [[ ! -e $AUTH_FILE ]] || ! grep -q "$REGISTRY" "$AUTH_FILE"
}

@test "login stores credentials (0600), push and pull use them, logout removes them" {
    start_registry --auth alice:secret
    run_kiln 125 push -q --tls-verify=false "$SEED_REGISTRY/seed/small:1" "$REGISTRY/priv/small:1"
    assert_output_contains "401 Unauthorized"
    [[ ${#lines[@]} == 1 ]] || die "want one line"

    run_kiln_stdin login --tls-verify=false -u alice --password-stdin "$REGISTRY" <<<secret
    assert_output "Login Succeeded!"
    assert_equal "$(stat -c %a "$AUTH_FILE")" 600 "auth file mode"
    python3 - "$AUTH_FILE" "$REGISTRY" <<'PY'
import base64, json, sys
auths = json.load(open(sys.argv[1]))["auths"]
assert base64.b64decode(auths[sys.argv[2]]["auth"]).decode() == "alice:secret", auths
PY
    # podman reads the same file.
    run podman login --get-login --authfile "$AUTH_FILE" "$REGISTRY"
    [[ $output == alice ]] || echo "# podman --get-login: $output" >&3

    run_kiln push -q --tls-verify=false "$SEED_REGISTRY/seed/small:1" "$REGISTRY/priv/small:1"
    export KILN_ROOT=$BATS_TEST_TMPDIR/root2
    run_kiln pull -q --tls-verify=false "$REGISTRY/priv/small:1"
    assert_equal "$KILN_STDOUT" "${SEED_ID#sha256:}"

    run_kiln logout "$REGISTRY"
    assert_output "Removed login credentials for $REGISTRY"
    ! grep -q "$REGISTRY" "$AUTH_FILE"
    run_kiln 125 logout "$REGISTRY"
    assert_output "kiln: not logged into $REGISTRY"
    run_kiln 125 pull -q --tls-verify=false "$REGISTRY/priv/small:1"
    assert_output_contains "401 Unauthorized"
    "$KILN" unshare rm -rf "$KILN_ROOT"
}

@test "--creds works without login; logout --all empties the file" {
    start_registry --auth bob:pw
    run_kiln push -q --tls-verify=false --creds bob:pw "$SEED_REGISTRY/seed/small:1" "$REGISTRY/c/small:1"
    run_kiln 125 push -q --tls-verify=false --creds bob:nope "$SEED_REGISTRY/seed/small:1" "$REGISTRY/c/small:2"
    assert_output_contains "401 Unauthorized"
    run_kiln login --tls-verify=false -u bob -p pw "$REGISTRY"
    run_kiln login --tls-verify=false -u bob -p pw "$REGISTRY/c"
    run_kiln logout --all
    assert_output "Removed login credentials for all registries"
    python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["auths"] == {}' "$AUTH_FILE"
}

@test "TLS: the CA in a certs.d directory is trusted; without it the pull fails" {
    start_registry --tls
    run_kiln push -q --cert-dir "$REGISTRY_CERT_DIR" "$SEED_REGISTRY/seed/small:1" "$REGISTRY/tls/small:1"
    export KILN_ROOT=$BATS_TEST_TMPDIR/root2
    run_kiln 125 pull -q "$REGISTRY/tls/small:1"
    assert_output_contains "kiln: pull $REGISTRY/tls/small:1: "
    [[ ${#lines[@]} == 1 ]] || die "want one line"
    run_kiln pull -q --cert-dir "$REGISTRY_CERT_DIR" "$REGISTRY/tls/small:1"
    assert_equal "$KILN_STDOUT" "${SEED_ID#sha256:}"
    # The user's certs.d is found by host name, as podman does.
    "$KILN" unshare rm -rf "$KILN_ROOT"
    mkdir -p "$BATS_TEST_TMPDIR/xdg/containers/certs.d"
    cp -r "$REGISTRY_CERT_DIR" "$BATS_TEST_TMPDIR/xdg/containers/certs.d/$REGISTRY"
    XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg run_kiln pull -q "$REGISTRY/tls/small:1"
    "$KILN" unshare rm -rf "$KILN_ROOT"
}

@test "Bearer tokens: login, push and pull through the token server" {
    start_registry --token --auth carol:tok
    run_kiln 125 login --tls-verify=false -u carol -p bad "$REGISTRY"
    assert_output_contains "401"
    run_kiln login --tls-verify=false -u carol -p tok "$REGISTRY"
    assert_output "Login Succeeded!"
    run_kiln push -q --tls-verify=false "$SEED_REGISTRY/seed/small:1" "$REGISTRY/tok/small:1"
    export KILN_ROOT=$BATS_TEST_TMPDIR/root2
    run_kiln pull -q --tls-verify=false "$REGISTRY/tok/small:1"
    assert_equal "$KILN_STDOUT" "${SEED_ID#sha256:}"
    grep -q "user=carol" "$TOKEN_LOG"
    "$KILN" unshare rm -rf "$KILN_ROOT"
}

# run_kiln_stdin ARGS...: run_kiln with this function's stdin passed through.
run_kiln_stdin() {
    local out_file=$BATS_TEST_TMPDIR/.kiln-stdout err_file=$BATS_TEST_TMPDIR/.kiln-stderr
    status=0
    "$KILN" "$@" >"$out_file" 2>"$err_file" || status=$?
    KILN_STDOUT=$(<"$out_file")
    KILN_STDERR=$(<"$err_file")
    output=$KILN_STDOUT${KILN_STDERR:+$'\n'$KILN_STDERR}
    [[ $status == 0 ]] || die "kiln $*: exit status $status: $output"
}
