#!/usr/bin/env bats
# kiln run --pull against a real registry: missing (the default) pulls an image
# the store lacks and only then, always pulls every time (and picks up a moved
# tag), never refuses a missing image; localhost/ images are never pulled.

load helpers
load registry
load registry-images

setup_file() {
    start_seed_registry --busybox
    small_tar "$SEED_DIR/one.tar" etc/kiln-tag "one"
    small_tar "$SEED_DIR/two.tar" etc/kiln-tag "two"
    seed_image seed/run:1 "$SEED_DIR/busybox.tar" "$SEED_DIR/one.tar" >/dev/null
    SEED_ID=$(seed_config seed/run:1)
    export SEED_ID
}

teardown_file() { stop_registry; }

@test "run --pull=missing pulls an image the store lacks, once" {
    run_kiln run --rm --tls-verify=false "$REGISTRY/seed/run:1" cat /etc/kiln-tag
    assert_equal "$KILN_STDOUT" "one"
    assert_output_contains "Copied blob"
    run_kiln image inspect --format '{{.Id}}' "$REGISTRY/seed/run:1"
    assert_output_contains "${SEED_ID#sha256:}"
    # Stored now: the second run does not go to the registry (which needs --tls-verify=false).
    run_kiln run --rm --pull=missing "$REGISTRY/seed/run:1" cat /etc/kiln-tag
    assert_equal "$KILN_STDOUT" "one"
    assert_output_not_contains "Copied blob"
}

@test "run --pull=never refuses a missing image; --pull=always fetches a moved tag" {
    run_kiln 125 run --rm --pull=never "$REGISTRY/seed/run:1" true
    assert_output_contains "no such image: $REGISTRY/seed/run:1"
    run_kiln run --rm -q --tls-verify=false "$REGISTRY/seed/run:1" cat /etc/kiln-tag
    assert_equal "$KILN_STDOUT" "one"
    # The tag moves to a new image: missing keeps the stored one, always pulls it.
    seed_image seed/run:1 "$SEED_DIR/busybox.tar" "$SEED_DIR/two.tar" >/dev/null
    run_kiln run --rm "$REGISTRY/seed/run:1" cat /etc/kiln-tag
    assert_equal "$KILN_STDOUT" "one"
    run_kiln run --rm --pull=always --tls-verify=false "$REGISTRY/seed/run:1" cat /etc/kiln-tag
    assert_equal "$KILN_STDOUT" "two"
    # always without --tls-verify=false cannot reach the plain-http registry: an error.
    run_kiln 125 run --rm --pull=always "$REGISTRY/seed/run:1" true
    assert_output_contains "pull $REGISTRY/seed/run:1"
    run_kiln 125 run --rm --pull=sometimes "$REGISTRY/seed/run:1" true
    assert_output_contains 'invalid --pull "sometimes"'
    # Restore the tag for the other cases.
    seed_image seed/run:1 "$SEED_DIR/busybox.tar" "$SEED_DIR/one.tar" >/dev/null
}

@test "run --pull=always uses a localhost/ image as it is" {
    import_busybox localhost/local
    run_kiln run --rm --pull=always localhost/local true
    run_kiln 125 run --rm localhost/nothere true
    assert_equal "${KILN_STDERR##*$'\n'}" "kiln: run: no such image: localhost/nothere"
}

@test "build FROM a pulled image extracts its layers first; build --pull fetches a missing base" {
    local ctx=$BATS_TEST_TMPDIR/ctx
    mkdir -p "$ctx"
    printf 'FROM %s\nRUN cat /etc/kiln-tag > /copied\n' "$REGISTRY/seed/run:1" >"$ctx/Dockerfile"
    # A missing base: the build pulls it (blobs only), then extracts it for the RUN step.
    run_kiln build -q --tls-verify=false -t localhost/from-pulled "$ctx"
    run_kiln run --rm localhost/from-pulled cat /copied
    assert_equal "$KILN_STDOUT" "one"
    # Pulled and never used: the build is the first use.
    run_kiln rmi localhost/from-pulled "$REGISTRY/seed/run:1"
    run_kiln pull -q --tls-verify=false "$REGISTRY/seed/run:1"
    [[ -z $(ls -A "$KILN_ROOT/layers") ]] || die "pull extracted layers: $(ls "$KILN_ROOT/layers")"
    run_kiln build -q --no-cache -t localhost/from-pulled "$ctx"
    run_kiln run --rm localhost/from-pulled cat /copied
    assert_equal "$KILN_STDOUT" "one"
    run_kiln system check
}
