#!/usr/bin/env bats
# kiln build failures: one line naming Dockerfile:line, a non-zero exit, the
# cache of the steps before a failing one kept, and nothing half-written in the
# store (no new image, `kiln system check` passes).

load helpers

setup() {
  build_setup
}

# build_fails TEXT: a build of $ctx fails with exit 125 and one stderr line containing TEXT.
build_fails() {
  run_kiln 125 build "$ctx"
  local n
  n=$(grep -c . <<<"$KILN_STDERR" | tr -d ' ')
  local last=${KILN_STDERR##*$'\n'}
  [[ $last == "kiln: "*"$1"* ]] || die "last stderr line \"$last\" does not contain \"$1\""
}

@test "build errors: unknown instruction" {
  printf 'FROM localhost/busybox\nRUNN true\n' >"$ctx/Dockerfile"
  build_fails 'Dockerfile:2:1: unknown instruction'
}

@test "build errors: bad JSON form is run as a shell command; bad SHELL JSON is an error" {
  printf 'FROM localhost/busybox\nSHELL [/bin/sh, -c]\n' >"$ctx/Dockerfile"
  build_fails 'Dockerfile:2'
}

@test "build errors: missing FROM" {
  printf 'RUN true\n' >"$ctx/Dockerfile"
  build_fails 'Dockerfile:1'
}

@test "build errors: COPY of a path outside the context" {
  printf 'FROM localhost/busybox\nCOPY ../secret /x\n' >"$ctx/Dockerfile"
  build_fails 'Dockerfile:2: step 2/2 COPY ../secret /x: ../secret: outside the build context'
}

@test "build errors: COPY of a missing file" {
  printf 'FROM localhost/busybox\nCOPY missing.txt /x\n' >"$ctx/Dockerfile"
  build_fails 'Dockerfile:2: step 2/2 COPY missing.txt /x: missing.txt: no such file'
}

@test "build errors: unknown stage or base image" {
  printf 'FROM localhost/busybox\nCOPY --from=nosuchstage /x /y\n' >"$ctx/Dockerfile"
  build_fails 'Dockerfile:2'
  printf 'FROM localhost/nosuchimage\n' >"$ctx/Dockerfile"
  build_fails 'Dockerfile:1: step 1/1 FROM localhost/nosuchimage: no such image'
  run_kiln 125 build --target nosuch "$ctx"
  assert_output_contains "nosuch"
}

@test "build errors: a failing RUN mid-way keeps the cache and writes no image" {
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
RUN echo ok > /ok
RUN echo before && false
RUN echo never
DF
  run_kiln images -q
  local before=$output
  build_fails 'Dockerfile:3: step 3/4 RUN echo before && false: exit status 1'
  run_kiln images -q
  assert_equal "$output" "$before" "images after a failed build"
  run_kiln system check
  # The successful step before the failure is cached.
  run_kiln 125 build "$ctx"
  assert_output_contains "--> Using cache"
}

@test "build errors: --platform of another architecture is refused" {
  printf 'FROM localhost/busybox\n' >"$ctx/Dockerfile"
  run_kiln 125 build --platform linux/s390x "$ctx"
  assert_output_contains "only this host's platform"
  [[ $(uname -m) == x86_64 ]] && run_kiln build -q --platform linux/amd64 "$ctx"
  true
}
