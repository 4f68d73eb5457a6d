#!/usr/bin/env bats
# Multi-stage builds: COPY --from a stage, an index and an image, --target,
# stages nothing needs are not built, RUN --mount from a stage, and ONBUILD
# triggers firing in a child build.
# kiln-test-runs: drivers

load helpers
load registry
load registry-images

setup() {
  build_setup
}

@test "build stages: COPY --from a stage, an index and an image; unused stages are skipped" {
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox AS builder
RUN echo built > /artifact

FROM localhost/busybox AS broken
RUN false

FROM localhost/busybox
RUN echo second > /second

FROM localhost/busybox
COPY --from=builder /artifact /from-name
COPY --from=2 /second /from-index
COPY --from=localhost/busybox /etc/passwd /from-image
RUN --mount=type=bind,from=builder,source=/artifact,target=/mnt/a cat /mnt/a > /from-mount
DF
  run_kiln build -t localhost/multi "$ctx"
  assert_output_not_contains "RUN false"
  run_kiln run --rm localhost/multi sh -c 'cat /from-name /from-index /from-mount; grep -c root /from-image; test -e /mnt/a && echo leaked || echo clean'
  assert_output "built
second
built
1
clean"
}

@test "build stages: --target builds that stage and what it needs" {
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox AS base
RUN echo base > /base

FROM base AS mid
RUN echo mid > /mid

FROM mid AS final
RUN false
DF
  run_kiln build --target mid -t localhost/mid "$ctx"
  assert_output_not_contains "RUN false"
  run_kiln run --rm localhost/mid cat /base /mid
  assert_output "base
mid"
}

@test "build stages: ONBUILD triggers fire in a child build" {
  mkdir -p "$ctx/parent" "$ctx/child"
  cat >"$ctx/parent/Dockerfile" <<'DF'
FROM localhost/busybox
ONBUILD COPY msg.txt /onbuild-msg
ONBUILD RUN echo fired > /onbuild-run
DF
  run_kiln build --format docker -t localhost/onbuild-parent "$ctx/parent"
  echo "from child context" >"$ctx/child/msg.txt"
  printf 'FROM localhost/onbuild-parent\nRUN echo child > /child\n' >"$ctx/child/Dockerfile"
  run_kiln build --format docker -t localhost/onbuild-child "$ctx/child"
  assert_output_contains "COPY msg.txt /onbuild-msg"
  run_kiln run --rm localhost/onbuild-child cat /onbuild-msg /onbuild-run /child
  assert_output "from child context
fired
child"
  run_kiln image inspect --format '{{json .Config}}' localhost/onbuild-child
  assert_output_not_contains "onbuild-run"
}

@test "build --pull: missing fetches an absent base from a registry, never refuses, always re-fetches" {
  start_registry
  local seed=$BATS_TEST_TMPDIR/seed
  mkdir -p "$seed"
  cp "$(busybox_tarball)" "$seed/busybox.tar"
  seed_image pulled/busybox:1 "$seed/busybox.tar" >/dev/null
  local base=$REGISTRY/pulled/busybox:1
  printf 'FROM %s\nRUN echo on-pulled > /pulled.txt\n' "$base" >"$ctx/Dockerfile"
  # never: the store lacks the base, so the build fails without asking the registry.
  run_kiln 125 build --pull=never --tls-verify=false -t localhost/pulled "$ctx"
  assert_output_contains "no such image"
  # missing (the default): pulled, then built on.
  run_kiln build --tls-verify=false -t localhost/pulled "$ctx"
  assert_output_contains "Trying to pull $base"
  run_kiln run --rm localhost/pulled cat /pulled.txt
  assert_output "on-pulled"
  # missing again: the base is in the store now, nothing is pulled.
  run_kiln build --tls-verify=false -t localhost/pulled "$ctx"
  assert_output_not_contains "Trying to pull"
  # always: asks the registry even though the store has it; a plain-http registry
  # without --tls-verify=false is refused.
  run_kiln build --pull=always --tls-verify=false -t localhost/pulled "$ctx"
  assert_output_contains "Trying to pull $base"
  run_kiln 125 build --pull=always -t localhost/pulled "$ctx"
  stop_registry
}
