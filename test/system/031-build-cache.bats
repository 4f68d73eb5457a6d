#!/usr/bin/env bats
# The build step cache: hits give the same image and run nothing, a changed file
# or build arg re-runs from its step on, --no-cache runs everything, cache mounts
# persist, SOURCE_DATE_EPOCH makes builds reproducible, --squash and
# --layers=false give one new layer.
# kiln-test-runs: single-id drivers

load helpers

setup() {
  build_setup
  echo one >"$ctx/one.txt"
  echo two >"$ctx/two.txt"
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
ARG FLAVOR=plain
RUN echo first > /first
COPY one.txt /one.txt
RUN echo "$FLAVOR" > /flavor
COPY two.txt /two.txt
RUN cat /proc/sys/kernel/random/uuid > /stamp
DF
}

# count_cache_hits: how many "Using cache" lines the last build printed.
count_cache_hits() {
  grep -c -- '--> Using cache' <<<"$output" || true
}

# layer_count IMAGE: the number of layers in IMAGE's config.
layer_count() {
  run_kiln image inspect --format '{{json .RootFS.Layers}}' "$1"
  grep -o 'sha256:' <<<"$output" | wc -l | tr -d ' '
}

@test "build cache: a second build uses the cache for every step and gives the same id" {
  run_kiln build -t localhost/c1 "$ctx"
  local id1=${lines[-1]}
  assert_equal "$(count_cache_hits)" 0 "cache hits of the first build"
  run_kiln build -t localhost/c1 "$ctx"
  local id2=${lines[-1]}
  # ARG (a history entry) and the five RUN and COPY steps.
  assert_equal "$(count_cache_hits)" 6 "cache hits of the second build"
  assert_equal "$id2" "$id1" "image id of the cached rebuild"
  run_kiln images -q
  assert_equal "${#lines[@]}" 2 "number of images"
}

@test "build cache: a changed file re-runs from its COPY on" {
  run_kiln build -t localhost/c2 "$ctx"
  local stamp1
  run_kiln run --rm localhost/c2 cat /stamp
  stamp1=$output
  echo changed >"$ctx/two.txt"
  run_kiln build -t localhost/c2 "$ctx"
  assert_equal "$(count_cache_hits)" 4 "cache hits after changing two.txt"
  run_kiln run --rm localhost/c2 sh -c 'cat /two.txt /stamp'
  assert_line 0 "changed"
  [[ ${lines[1]} != "$stamp1" ]] || die "the last RUN was not re-run"
}

@test "build cache: a changed build arg re-runs the steps that see it" {
  run_kiln build -t localhost/c3 "$ctx"
  run_kiln build -t localhost/c3 --build-arg FLAVOR=spicy "$ctx"
  # Only the ARG declaration itself is cached: every RUN sees all ARGs in effect, so the
  # first RUN and everything after it re-run.
  assert_equal "$(count_cache_hits)" 1 "cache hits with another build arg (RUNs see all ARGs in effect)"
  run_kiln run --rm localhost/c3 cat /flavor
  assert_output "spicy"
}

@test "build cache: --no-cache runs every step" {
  run_kiln build -t localhost/c4 "$ctx"
  run_kiln build --no-cache -t localhost/c4 "$ctx"
  assert_equal "$(count_cache_hits)" 0 "cache hits with --no-cache"
}

@test "build cache: a fully cached build does not enter the user namespace" {
  run_kiln build -q -t localhost/ns "$ctx"
  local id=$KILN_STDOUT
  # Without newuidmap/newgidmap on PATH, entering the namespace falls back to a single id
  # and warns: a build that must run a step says so, a fully cached one runs no helper.
  local nopath=$BATS_TEST_TMPDIR/nopath
  mkdir -p "$nopath"
  # The mount programs a snapshot driver needs stay reachable (KILN_STORAGE_DRIVER=fuse-overlayfs).
  local program
  for program in fuse-overlayfs fusermount3 fusermount; do
    if command -v "$program" >/dev/null; then ln -s "$(command -v "$program")" "$nopath/$program"; fi
  done
  local index_before
  index_before=$(stat -c '%i %Y' "$KILN_ROOT/images/index")
  run env PATH="$nopath" "$KILN" --log-level debug build -q -t localhost/ns "$ctx"
  [[ $status == 0 ]] || die "cached build without newuidmap: $output"
  # The same image under the same name: the image index is not written again.
  assert_equal "$(stat -c '%i %Y' "$KILN_ROOT/images/index")" "$index_before" "the image index after a cached build"
  [[ ${lines[-1]} == "$id" ]] || die "not the same image: $output"
  [[ $output != *"entering the user namespace"* ]] || die "a cached build entered the namespace: $output"
  [[ $output != *"warning"* ]] || die "a cached build warned: $output"
  echo changed >"$ctx/two.txt"
  run env PATH="$nopath" "$KILN" --log-level debug build -q -t localhost/ns "$ctx"
  [[ $status == 0 ]] || die "build of a changed step without newuidmap: $output"
  [[ $output == *"entering the user namespace (step 6 is not cached)"* ]] || die "no namespace for step 6: $output"
  [[ ${lines[-1]} != "$id" ]] || die "the changed build gave the old image"
}

@test "build cache: RUN --mount=type=cache persists between builds; builder prune empties it" {
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
ARG N
RUN --mount=type=cache,target=/cache,id=counter sh -c 'echo $N >> /cache/log; cat /cache/log > /seen'
DF
  run_kiln build -t localhost/cm --build-arg N=1 "$ctx"
  run_kiln build -t localhost/cm --build-arg N=2 "$ctx"
  run_kiln run --rm localhost/cm sh -c 'cat /seen; ls /cache 2>/dev/null | wc -l'
  assert_output "1
2
0"
  run_kiln builder prune -f
  run_kiln build -t localhost/cm --build-arg N=3 "$ctx"
  run_kiln run --rm localhost/cm cat /seen
  assert_output "3"
}

@test "build cache: SOURCE_DATE_EPOCH gives the same image in two fresh stores" {
  # The base comes from the context too: an imported image carries its import time.
  mkdir -p "$ctx/rootfs"
  tar -C "$ctx/rootfs" -xf "$(busybox_tarball)"
  cat >"$ctx/Dockerfile" <<'DF'
FROM scratch
COPY rootfs/ /
ENV A=b
RUN echo hi > /hi && mkdir -p /made/dir
COPY one.txt /one.txt
DF
  SOURCE_DATE_EPOCH=1700000000 run_kiln build -q "$ctx"
  local first=$output
  kiln_teardown
  export KILN_ROOT=$BATS_TEST_TMPDIR/root2
  SOURCE_DATE_EPOCH=1700000000 run_kiln build -q "$ctx"
  assert_equal "$output" "$first" "image id of the same build in another store"
  run_kiln image inspect --format '{{.Created}}' "$first"
  assert_output_contains "2023-11-14"
}

@test "build cache: --squash and --layers=false add one layer" {
  local base
  base=$(layer_count localhost/busybox)
  run_kiln build -t localhost/layered "$ctx"
  assert_equal "$(layer_count localhost/layered)" "$((base + 5))" "layers of a normal build"
  run_kiln build --squash -t localhost/squashed "$ctx"
  assert_equal "$(layer_count localhost/squashed)" "$((base + 1))" "layers of a squashed build"
  run_kiln run --rm localhost/squashed sh -c 'cat /first /one.txt /two.txt'
  assert_output "first
one
two"
  run_kiln build --layers=false -t localhost/onelayer "$ctx"
  assert_equal "$(layer_count localhost/onelayer)" "$((base + 1))" "layers with --layers=false"
}
