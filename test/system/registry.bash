# -*- bash -*-
# Registry fixtures for bats: a real Distribution registry (Debian's
# docker-registry) on 127.0.0.1 and a free port, optionally with htpasswd
# auth, TLS from a throw-away CA, or Bearer tokens from test/system/token-server.py.
#
#   load helpers
#   load registry
#   setup_file()    { start_registry --auth user:pass; }
#   teardown_file() { stop_registry; }
#
# start_registry [--auth USER:PASS] [--tls] [--token] [--anonymous-pull]
#   exports REGISTRY (127.0.0.1:PORT), REGISTRY_PID, REGISTRY_DIR (config, storage
#   under $REGISTRY_DIR/storage, logs), REGISTRY_USER/REGISTRY_PASSWORD with --auth,
#   REGISTRY_CERT_DIR (a certs.d directory holding ca.crt) with --tls,
#   TOKEN_SERVER (http://127.0.0.1:PORT), TOKEN_SERVER_PID, TOKEN_LOG with --token.
#   --token makes the registry demand Bearer tokens; the token server accepts
#   the --auth credentials (default user:pass) and, with --anonymous-pull, gives
#   anonymous clients pull access.
# start_blob_proxy [--cut N] [--flip] [--redirect]: test/system/blob-tamper-proxy.py in
#   front of $REGISTRY (see that file); exports BLOB_PROXY (127.0.0.1:PORT),
#   BLOB_PROXY_PID, BLOB_PROXY_LOG (one line per request).
# stop_registry: stops the registry, token server and proxy; safe to call twice.
# stop_blob_proxy: stops a proxy a test started (teardown_file cannot see a test's pid).
# registry_curl ARGS...: curl against $REGISTRY with the CA (when TLS) and creds.
# registry_blob_path DIGEST: the file the registry stores a blob in (to tamper with it).

# The system's python3 (a version manager's shim can add seconds per start).
REGISTRY_PYTHON=${REGISTRY_PYTHON:-$(if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else echo python3; fi)}

# A TCP port nobody listens on right now (the kernel picks it).
registry_free_port() {
    "$REGISTRY_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until URL answers HTTP at all (any status), up to ~15 s.
_registry_wait_http() {
    local url=$1; shift
    local i code
    for i in $(seq 1 150); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" || true)
        if [[ "$code" != "000" && -n "$code" ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "# timed out waiting for $url" >&3
    return 1
}

# A CA and a server certificate for IP 127.0.0.1 signed by it, in $1.
_registry_make_tls() {
    local dir=$1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kiln-test-ca" \
        -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null || return 1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null || return 1
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null || return 1
    mkdir -p "$dir/certs.d"
    cp "$dir/ca.crt" "$dir/certs.d/ca.crt"
}

# start_token_server [--user USER:PASS] [--anonymous-pull]: needs REGISTRY_DIR.
start_token_server() {
    local user=user:pass anon=
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --user) user=$2; shift 2 ;;
            --anonymous-pull) anon=--anonymous-pull; shift ;;
            *) echo "start_token_server: unknown option $1" >&2; return 1 ;;
        esac
    done
    local dir=${REGISTRY_DIR:?start_token_server needs REGISTRY_DIR}
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kiln-test-token-signer" \
        -keyout "$dir/token.key" -out "$dir/token.crt" 2>/dev/null || return 1
    local script=${KILN_SOURCE_ROOT:-$BATS_TEST_DIRNAME/../..}/test/system/token-server.py
    rm -f "$dir/token.port"
    TOKEN_LOG=$dir/token.log
    "$REGISTRY_PYTHON" "$script" --key "$dir/token.key" --cert "$dir/token.crt" --user "$user" \
        --port-file "$dir/token.port" --log "$TOKEN_LOG" $anon \
        </dev/null >"$dir/token-server.out" 2>&1 3>&- &
    TOKEN_SERVER_PID=$!
    local i
    for i in $(seq 1 100); do
        [[ -s "$dir/token.port" ]] && break
        sleep 0.1
    done
    if [[ ! -s "$dir/token.port" ]]; then
        echo "# token server did not start:" >&3
        sed 's/^/# /' "$dir/token-server.out" >&3
        return 1
    fi
    TOKEN_SERVER=http://127.0.0.1:$(cat "$dir/token.port")
    export TOKEN_SERVER TOKEN_SERVER_PID TOKEN_LOG
}

start_registry() {
    local auth= tls= token= anon=
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --auth) auth=$2; shift 2 ;;
            --tls) tls=1; shift ;;
            --token) token=1; shift ;;
            --anonymous-pull) anon=--anonymous-pull; shift ;;
            *) echo "start_registry: unknown option $1" >&2; return 1 ;;
        esac
    done
    command -v docker-registry >/dev/null || { echo "# docker-registry not installed" >&3; return 1; }

    REGISTRY_DIR=$(mktemp -d "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/registry.XXXXXX")
    export REGISTRY_DIR
    local port
    port=$(registry_free_port)
    REGISTRY=127.0.0.1:$port
    export REGISTRY

    local cfg=$REGISTRY_DIR/config.yml
    cat > "$cfg" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $REGISTRY_DIR/storage}
  delete: {enabled: true}
  maintenance: {uploadpurging: {enabled: false}}
http:
  addr: $REGISTRY
  secret: kiln-test-secret
EOF
    if [[ -n "$tls" ]]; then
        _registry_make_tls "$REGISTRY_DIR" || return 1
        printf '  tls: {certificate: %s, key: %s}\n' "$REGISTRY_DIR/server.crt" "$REGISTRY_DIR/server.key" >> "$cfg"
        REGISTRY_CERT_DIR=$REGISTRY_DIR/certs.d
        export REGISTRY_CERT_DIR
    fi
    if [[ -n "$auth" ]]; then
        REGISTRY_USER=${auth%%:*}
        REGISTRY_PASSWORD=${auth#*:}
        export REGISTRY_USER REGISTRY_PASSWORD
    fi
    if [[ -n "$token" ]]; then
        start_token_server --user "${auth:-user:pass}" $anon || return 1
        cat >> "$cfg" <<EOF
auth:
  token:
    realm: $TOKEN_SERVER/token
    service: kiln-test-registry
    issuer: kiln-test-issuer
    rootcertbundle: $REGISTRY_DIR/token.crt
EOF
    elif [[ -n "$auth" ]]; then
        htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" > "$REGISTRY_DIR/htpasswd"
        printf 'auth:\n  htpasswd: {realm: kiln-test, path: %s}\n' "$REGISTRY_DIR/htpasswd" >> "$cfg"
    fi

    docker-registry serve "$cfg" </dev/null >"$REGISTRY_DIR/registry.log" 2>&1 3>&- &
    REGISTRY_PID=$!
    export REGISTRY_PID
    local scheme=http cacert=()
    if [[ -n "$tls" ]]; then
        scheme=https
        cacert=(--cacert "$REGISTRY_DIR/ca.crt")
    fi
    if ! _registry_wait_http "$scheme://$REGISTRY/v2/" "${cacert[@]}"; then
        sed 's/^/# /' "$REGISTRY_DIR/registry.log" >&3
        stop_registry
        return 1
    fi
}

start_blob_proxy() {
    local dir=${REGISTRY_DIR:?start_blob_proxy needs a registry}
    local script=${KILN_SOURCE_ROOT:-$BATS_TEST_DIRNAME/../..}/test/system/blob-tamper-proxy.py
    local auth=()
    if [[ -n "${REGISTRY_USER:-}" ]]; then
        auth=(--upstream-auth "$REGISTRY_USER:$REGISTRY_PASSWORD")
    fi
    rm -f "$dir/proxy.port"
    BLOB_PROXY_LOG=$dir/proxy.log
    "$REGISTRY_PYTHON" "$script" --upstream "$REGISTRY" "${auth[@]}" --port-file "$dir/proxy.port" \
        --log "$BLOB_PROXY_LOG" "$@" </dev/null >"$dir/proxy.out" 2>&1 3>&- &
    BLOB_PROXY_PID=$!
    local i
    for i in $(seq 1 100); do
        [[ -s "$dir/proxy.port" ]] && break
        sleep 0.1
    done
    if [[ ! -s "$dir/proxy.port" ]]; then
        echo "# blob proxy did not start:" >&3
        sed 's/^/# /' "$dir/proxy.out" >&3
        return 1
    fi
    BLOB_PROXY=127.0.0.1:$(cat "$dir/proxy.port")
    export BLOB_PROXY BLOB_PROXY_PID BLOB_PROXY_LOG
}

stop_blob_proxy() {
    if [[ -n ${BLOB_PROXY_PID:-} ]] && kill -0 "$BLOB_PROXY_PID" 2>/dev/null; then
        kill "$BLOB_PROXY_PID" 2>/dev/null || true
        wait "$BLOB_PROXY_PID" 2>/dev/null || true
    fi
    unset BLOB_PROXY_PID
}

stop_registry() {
    local pid
    for pid in ${REGISTRY_PID:-} ${TOKEN_SERVER_PID:-} ${BLOB_PROXY_PID:-}; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null || true
        fi
    done
    unset REGISTRY_PID TOKEN_SERVER_PID BLOB_PROXY_PID
}

registry_curl() {
    local args=(-s)
    if [[ -n "${REGISTRY_CERT_DIR:-}" ]]; then
        args+=(--cacert "$REGISTRY_CERT_DIR/ca.crt")
    fi
    curl "${args[@]}" "$@"
}

registry_blob_path() {
    local hex=${1#sha256:}
    echo "$REGISTRY_DIR/storage/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}
