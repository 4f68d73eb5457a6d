#!/usr/bin/env bats
# kiln build --progress=tty (a status line per step with its time, CACHED for
# cache hits, RUN output streamed) under a real terminal and with stderr in a
# file; --jobs N building stages that depend on no other stage at the same
# time, proven by two stages that each wait for the other's marker.
# kiln-test-runs: drivers

load helpers

setup() {
  build_setup
}

# write_two_step_dockerfile: a cached COPY and a RUN that prints a line.
write_two_step_dockerfile() {
  echo hello >"$ctx/hello.txt"
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
COPY hello.txt /hello.txt
RUN echo run-output-line && cat /hello.txt
DF
}

@test "build progress: tty under a real terminal shows times, CACHED and RUN output" {
  command -v script >/dev/null || skip "util-linux script is not installed"
  write_two_step_dockerfile
  local log=$BATS_TEST_TMPDIR/tty.log
  script -qec "$KILN build --progress=tty -t localhost/tty1 $ctx" /dev/null >"$log" </dev/null ||
    die "build under a pty failed: $(cat "$log")"
  cat "$log" >&2
  grep -qE '^\[1/3\] FROM localhost/busybox  [0-9]+\.[0-9]s' <(tr -d '\r' <"$log") || die "no timed FROM status line"
  grep -qE '^\[3/3\] RUN echo run-output-line && cat /hello.txt  [0-9]+\.[0-9]s' <(tr -d '\r' <"$log") ||
    die "no timed RUN status line"
  grep -q 'run-output-line' "$log" || die "RUN output was not streamed"
  ! grep -q '^STEP ' "$log" || die "tty progress printed plain STEP lines"
  script -qec "$KILN build --progress=auto -t localhost/tty1 $ctx" /dev/null >"$log" </dev/null ||
    die "rebuild under a pty failed: $(cat "$log")"
  cat "$log" >&2
  grep -qE '^\[2/3\] COPY hello.txt /hello.txt  CACHED' <(tr -d '\r' <"$log") || die "no CACHED COPY line (auto on a tty)"
  grep -qE '^\[3/3\] RUN .*  CACHED' <(tr -d '\r' <"$log") || die "no CACHED RUN line (auto on a tty)"
}

@test "build progress: tty with stderr in a file; auto there is plain" {
  write_two_step_dockerfile
  run_kiln build --progress=tty -t localhost/tty2 "$ctx"
  assert_output_contains "run-output-line"
  [[ $KILN_STDERR =~ \[3/3\]\ RUN\ echo\ run-output-line[^$'\n']*\ \ [0-9]+\.[0-9]s ]] || die "no timed RUN status line"
  run_kiln build --progress=tty -t localhost/tty2 "$ctx"
  assert_output_contains "[2/3] COPY hello.txt /hello.txt  CACHED"
  assert_output_contains "[3/3] RUN echo run-output-line && cat /hello.txt  CACHED"
  assert_output_not_contains "STEP 1/3"
  run_kiln build --progress=auto -t localhost/tty2 "$ctx"
  assert_output_contains "STEP 3/3: RUN echo run-output-line"
  assert_output_contains "--> Using cache"
  assert_output_not_contains "CACHED"
  run_kiln 125 build --progress=fancy "$ctx"
  assert_output_contains "--progress=fancy"
}

@test "build progress: a failing step gets an ERROR status line" {
  printf 'FROM localhost/busybox\nRUN echo about-to-fail; false\n' >"$ctx/Dockerfile"
  run_kiln 125 build --progress=tty "$ctx"
  assert_output_contains "[2/2] RUN echo about-to-fail; false  ERROR"
  assert_output_contains "about-to-fail"
  assert_output_contains "Dockerfile:2"
}

# write_rendezvous_dockerfile: stages a and b each leave a marker in a shared cache
# mount and wait up to 30 s for the other's; the last stage needs both.
write_rendezvous_dockerfile() {
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox AS a
RUN --mount=type=cache,id=rendezvous,target=/r,sharing=shared touch /r/a; i=0; while [ ! -e /r/b ]; do i=$((i+1)); [ $i -le 300 ] || { echo "stage a: no b"; exit 1; }; sleep 0.1; done; echo a > /done-a

FROM localhost/busybox AS b
RUN --mount=type=cache,id=rendezvous,target=/r,sharing=shared touch /r/b; i=0; while [ ! -e /r/a ]; do i=$((i+1)); [ $i -le 300 ] || { echo "stage b: no a"; exit 1; }; sleep 0.1; done; echo b > /done-b

FROM localhost/busybox
COPY --from=a /done-a /done-a
COPY --from=b /done-b /done-b
DF
}

@test "build --jobs: two independent stages run at the same time" {
  write_rendezvous_dockerfile
  run_kiln build --jobs 2 -t localhost/par "$ctx"
  run_kiln run --rm localhost/par cat /done-a /done-b
  assert_output "a
b"
  # The pass in order found the stages' steps in the cache.
  run_kiln build --jobs 2 -t localhost/par "$ctx"
  assert_output_contains "--> Using cache"
  assert_output_not_contains "in parallel"
  run_kiln build --jobs 2 --progress=tty -t localhost/par "$ctx"
  assert_output_contains "[+] building 2 stages in parallel (--jobs 2)"
  assert_output_contains "[2/7] RUN --mount=type=cache,id=rendezvous"
  assert_output_contains "[7/7] COPY --from=b /done-b /done-b  CACHED"
}

@test "build --jobs 1: stages are built one after the other (the rendezvous times out)" {
  write_rendezvous_dockerfile
  run_kiln 125 build --jobs 1 -t localhost/seq "$ctx"
  assert_output_contains "stage a: no b"
  assert_output_contains "Dockerfile:2"
  assert_output_contains "step 2/"
  run_kiln 125 build --jobs 0 "$ctx"
  assert_output_contains "--jobs 0"
}

@test "build --jobs: a failing parallel stage fails the build naming its step" {
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox AS good
RUN echo good > /good

FROM localhost/busybox AS bad
RUN echo bad-stage-output; exit 3

FROM localhost/busybox
COPY --from=good /good /good
COPY --from=bad /etc/passwd /bad
DF
  run_kiln 125 build --jobs 2 "$ctx"
  assert_output_contains "Dockerfile:5"
  assert_output_contains "RUN echo bad-stage-output; exit 3"
  assert_output_contains "bad-stage-output"
  # The good stage was built (by its child) and cached.
  run_kiln 125 build --jobs 1 "$ctx"
  assert_output_contains "--> Using cache"
}
