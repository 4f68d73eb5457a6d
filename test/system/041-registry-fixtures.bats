#!/usr/bin/env bats
# The registry fixtures themselves (registry.bash, token-server.py), checked
# with curl so a failing registry test elsewhere points at kiln, not at them.

load registry

teardown() {
    stop_registry
}

@test "plain registry answers /v2/" {
    start_registry
    [[ "$REGISTRY" == 127.0.0.1:* ]]
    run registry_curl -o /dev/null -w '%{http_code}' "http://$REGISTRY/v2/"
    [ "$status" -eq 0 ]
    [ "$output" = "200" ]
    kill -0 "$REGISTRY_PID"
}

@test "htpasswd registry wants Basic credentials" {
    start_registry --auth alice:secret
    run registry_curl -o /dev/null -w '%{http_code}' "http://$REGISTRY/v2/"
    [ "$output" = "401" ]
    run registry_curl -D - -o /dev/null "http://$REGISTRY/v2/"
    [[ "$output" == *'Www-Authenticate: Basic realm="kiln-test"'* ]]
    run registry_curl -o /dev/null -w '%{http_code}' -u alice:wrong "http://$REGISTRY/v2/"
    [ "$output" = "401" ]
    run registry_curl -o /dev/null -w '%{http_code}' -u "$REGISTRY_USER:$REGISTRY_PASSWORD" "http://$REGISTRY/v2/"
    [ "$output" = "200" ]
}

@test "TLS registry answers with its CA and refuses without it" {
    start_registry --tls
    [ -f "$REGISTRY_CERT_DIR/ca.crt" ]
    run registry_curl -o /dev/null -w '%{http_code}' "https://$REGISTRY/v2/"
    [ "$output" = "200" ]
    run curl -s -o /dev/null "https://$REGISTRY/v2/"
    [ "$status" -ne 0 ]
}

@test "token registry: Bearer challenge, token from the token server, then 200" {
    start_registry --token --auth bob:hunter2
    run registry_curl -D - -o /dev/null "http://$REGISTRY/v2/"
    [[ "$output" == *"401 Unauthorized"* ]]
    [[ "$output" == *"Bearer realm=\"$TOKEN_SERVER/token\",service=\"kiln-test-registry\""* ]]

    # Wrong credentials: the token server refuses.
    run registry_curl -o /dev/null -w '%{http_code}' -u bob:nope "$TOKEN_SERVER/token?service=kiln-test-registry"
    [ "$output" = "401" ]

    run registry_curl -u bob:hunter2 "$TOKEN_SERVER/token?service=kiln-test-registry&scope=repository:a/b:pull,push"
    [ "$status" -eq 0 ]
    token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$output")
    [ -n "$token" ]
    run registry_curl -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$REGISTRY/v2/"
    [ "$output" = "200" ]
    # The token grants a/b: listing its (absent) tags is a 404, not a 401.
    run registry_curl -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$REGISTRY/v2/a/b/tags/list"
    [ "$output" = "404" ]
    # ...but not another repository.
    run registry_curl -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$REGISTRY/v2/other/tags/list"
    [ "$output" = "401" ]
    grep -q "user=bob" "$TOKEN_LOG"
}

@test "token registry with anonymous pull" {
    start_registry --token --anonymous-pull
    run registry_curl "$TOKEN_SERVER/token?service=kiln-test-registry&scope=repository:x:pull,push"
    token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$output")
    run registry_curl -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$REGISTRY/v2/x/tags/list"
    [ "$output" = "404" ]
    # Anonymous push is not granted: starting an upload is refused.
    run registry_curl -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" "http://$REGISTRY/v2/x/blobs/uploads/"
    [ "$output" = "401" ]
}

@test "stop_registry stops the processes" {
    start_registry --token
    local pid=$REGISTRY_PID tpid=$TOKEN_SERVER_PID
    stop_registry
    ! kill -0 "$pid" 2>/dev/null
    ! kill -0 "$tpid" 2>/dev/null
    stop_registry  # twice is fine
}

@test "blob proxy forwards requests and logs them" {
    start_registry
    start_blob_proxy --flip
    run registry_curl -o /dev/null -w '%{http_code}' "http://$BLOB_PROXY/v2/"
    [ "$output" = "200" ]
    grep -q "GET /v2/ range=- auth=no host=$BLOB_PROXY" "$BLOB_PROXY_LOG"
    local pid=$BLOB_PROXY_PID
    stop_registry
    ! kill -0 "$pid" 2>/dev/null
}
