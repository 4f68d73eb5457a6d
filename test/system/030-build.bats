#!/usr/bin/env bats
# kiln build: each instruction's effect on the image (inspected and run), COPY
# and ADD rules, heredocs, .dockerignore, the ways to give a context and a
# Dockerfile, and the output flags (-q, --iidfile, --format docker).
# kiln-test-runs: single-id drivers

load helpers

setup() {
  build_setup
}

# layer_count IMAGE: the number of layers in IMAGE's config.
layer_count() {
  run_kiln image inspect --format '{{json .RootFS.Layers}}' "$1"
  grep -o 'sha256:' <<<"$output" | wc -l | tr -d ' '
}

@test "build: metadata instructions set the config, with history" {
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
ARG VER=1.0
ENV A=b C="d e"
ENV FROMARG=$VER
LABEL org.example.v=$VER other="x y"
EXPOSE 80 53/udp
USER nobody
VOLUME /data
STOPSIGNAL SIGINT
MAINTAINER someone@example.com
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
DF
  run_kiln build -q -t localhost/meta "$ctx"
  [[ $output =~ ^[0-9a-f]{64}$ ]] || die "-q printed more than the id: $output"
  run_kiln image inspect --format '{{json .Config.Env}}' localhost/meta
  assert_output_contains '"A=b"'
  assert_output_contains '"C=d e"'
  assert_output_contains '"FROMARG=1.0"'
  assert_output_not_contains '"VER=1.0"'
  run_kiln image inspect --format '{{index .Config.Labels "org.example.v"}}|{{index .Config.Labels "other"}}' localhost/meta
  assert_output "1.0|x y"
  run_kiln image inspect --format '{{json .Config.ExposedPorts}}' localhost/meta
  assert_output_contains '"80/tcp"'
  assert_output_contains '"53/udp"'
  run_kiln image inspect --format '{{.Config.User}} {{.Config.StopSignal}} {{.Author}}' localhost/meta
  assert_output "nobody SIGINT someone@example.com"
  run_kiln image inspect --format '{{json .Config.Volumes}}' localhost/meta
  assert_output_contains '"/data"'
  run_kiln image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' localhost/meta
  assert_output '["/bin/echo"] ["hello"]'
  run_kiln image inspect --format '{{json .History}}' localhost/meta
  assert_output_contains '/bin/sh -c #(nop) ENV A=b C=d e'
  assert_output_contains '"empty_layer":true'
}

@test "build: RUN shell and exec forms, env, workdir, user, heredoc" {
  # A single-id user has no id for nobody (the build would fail naming the step and
  # the id): there, USER takes root by number.
  local user=nobody
  is_single_id_user && user=0:0
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
ARG BUILDARG=fromarg
ENV GREETING=hi
WORKDIR /srv/app
RUN echo "$GREETING $BUILDARG $(pwd)" > out.txt
RUN ["/bin/sh", "-c", "id -u > /uid.txt"]
USER @USER@
RUN id -un > /tmp/user.txt
USER root
RUN <<EOF
echo line1 > /heredoc.txt
echo line2 >> /heredoc.txt
EOF
RUN cat > /cat.txt <<EOT
from cat
EOT
DF
  sed -i "s/@USER@/$user/" "$ctx/Dockerfile"
  run_kiln build -t localhost/runs "$ctx"
  assert_output_contains "STEP 1/11: FROM localhost/busybox"
  run_kiln image inspect --format '{{.Config.WorkingDir}}' localhost/runs
  assert_output "/srv/app"
  run_kiln run --rm localhost/runs cat /srv/app/out.txt /uid.txt /tmp/user.txt /heredoc.txt /cat.txt
  assert_output "hi fromarg /srv/app
0
$(if [[ $user == nobody ]]; then echo nobody; else echo root; fi)
line1
line2
from cat"
  # ARGs reach RUN but are not kept in the config.
  run_kiln image inspect --format '{{json .Config.Env}}' localhost/runs
  assert_output_not_contains BUILDARG
  run_kiln image inspect --format '{{json .History}}' localhost/runs
  assert_output_contains '|1 BUILDARG=fromarg /bin/sh -c echo'
}

@test "build: COPY rules (trailing slash, directory contents, globs, --chown, --chmod)" {
  mkdir -p "$ctx/dir/sub"
  echo a >"$ctx/a.txt"
  echo b >"$ctx/b.txt"
  echo c >"$ctx/dir/c"
  echo d >"$ctx/dir/sub/d"
  chmod 0640 "$ctx/a.txt"
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
COPY a.txt /file-a
COPY a.txt /into/
COPY dir /dircontents
COPY *.txt /globbed/
COPY --chown=nobody:nogroup b.txt /owned
COPY --chown=1234 b.txt /numeric
COPY --chmod=0600 b.txt /private
WORKDIR /rel
COPY b.txt here
COPY <<EOF /heredoc-file
hello heredoc
EOF
DF
  run_kiln build -t localhost/copies "$ctx"
  run_kiln run --rm localhost/copies sh -c 'cat /file-a /into/a.txt; ls /dircontents; cat /dircontents/sub/d; ls /globbed; cat /rel/here /heredoc-file; stat -c "%a" /file-a /private'
  assert_output "a
a
c
sub
d
a.txt
b.txt
b
hello heredoc
640
600"
  if ! is_single_id_user; then
    run_kiln run --rm localhost/copies stat -c '%u:%g' /owned /numeric /file-a
    assert_output "65534:65534
1234:1234
0:0"
  fi
}

@test "build: ADD extracts local archives" {
  mkdir -p "$BATS_TEST_TMPDIR/arc/top"
  echo inside >"$BATS_TEST_TMPDIR/arc/top/file"
  tar -C "$BATS_TEST_TMPDIR/arc" -czf "$ctx/a.tar.gz" top
  tar -C "$BATS_TEST_TMPDIR/arc" -cf "$ctx/plain.tar" top
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
ADD a.tar.gz /x/
ADD plain.tar /y
COPY a.tar.gz /z/
DF
  run_kiln build -t localhost/adds "$ctx"
  run_kiln run --rm localhost/adds sh -c 'cat /x/top/file /y/top/file; ls /z'
  assert_output "inside
inside
a.tar.gz"
}

@test "build: ADD of a URL with --checksum from a local server" {
  command -v python3 >/dev/null || skip "needs python3"
  mkdir -p "$BATS_TEST_TMPDIR/www"
  echo served >"$BATS_TEST_TMPDIR/www/file.txt"
  local sum
  sum=$(sha256sum "$BATS_TEST_TMPDIR/www/file.txt" | cut -d' ' -f1)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$BATS_TEST_TMPDIR/www" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$port/file.txt" >/dev/null 2>&1 && break
    sleep 0.1
  done
  cat >"$ctx/Dockerfile" <<DF
FROM localhost/busybox
ADD --checksum=sha256:$sum http://127.0.0.1:$port/file.txt /dl/
DF
  run_kiln '?' build -t localhost/url "$ctx"
  local first=$status
  cat >"$ctx/Dockerfile" <<DF
FROM localhost/busybox
ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 http://127.0.0.1:$port/file.txt /dl/
DF
  run_kiln '?' build "$ctx"
  local second=$status out2=$output
  kill $pid
  assert_equal "$first" 0 "exit status of the build with the right checksum"
  [[ $second != 0 && $out2 == *"checksum mismatch"* ]] || die "a wrong checksum was accepted: $out2"
  run_kiln run --rm localhost/url cat /dl/file.txt
  assert_output "served"
}

@test "build: .dockerignore with exceptions" {
  mkdir -p "$ctx/logs"
  echo keep >"$ctx/keep.txt"
  echo drop >"$ctx/drop.txt"
  echo a >"$ctx/logs/a.log"
  echo imp >"$ctx/logs/important.log"
  printf 'drop.txt\nlogs/*.log\n!logs/important.log\n' >"$ctx/.dockerignore"
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
COPY . /ctx
DF
  run_kiln build -t localhost/ignored "$ctx"
  run_kiln run --rm localhost/ignored sh -c 'cd /ctx && find . -type f | sort'
  assert_output "./.dockerignore
./Dockerfile
./keep.txt
./logs/important.log"
}

@test "build: -f - reads the Dockerfile from stdin; tar and stdin contexts" {
  echo fromctx >"$ctx/f.txt"
  printf 'FROM localhost/busybox\nCOPY f.txt /f.txt\n' >"$BATS_TEST_TMPDIR/Dockerfile.stdin"
  run timeout 120 "$KILN" build -q -t localhost/stdin-df -f - "$ctx" <"$BATS_TEST_TMPDIR/Dockerfile.stdin"
  [[ $status == 0 ]] || die "build -f - failed: $output"
  run_kiln run --rm localhost/stdin-df cat /f.txt
  assert_output "fromctx"

  cp "$BATS_TEST_TMPDIR/Dockerfile.stdin" "$ctx/Dockerfile"
  tar -C "$ctx" -cf "$BATS_TEST_TMPDIR/ctx.tar" .
  run_kiln build -q -t localhost/tar-ctx "$BATS_TEST_TMPDIR/ctx.tar"
  run timeout 120 "$KILN" build -q -t localhost/stdin-ctx - <"$BATS_TEST_TMPDIR/ctx.tar"
  [[ $status == 0 ]] || die "build - failed: $output"
  run_kiln run --rm localhost/stdin-ctx cat /f.txt
  assert_output "fromctx"
}

@test "build: --iidfile, -q and a named Dockerfile" {
  printf 'FROM localhost/busybox\nRUN true\n' >"$ctx/Other.Dockerfile"
  run_kiln build -q --iidfile "$BATS_TEST_TMPDIR/iid" -f "$ctx/Other.Dockerfile" "$ctx"
  local id=$output
  [[ $id =~ ^[0-9a-f]{64}$ ]] || die "not an id: $id"
  assert_equal "$(cat "$BATS_TEST_TMPDIR/iid")" "sha256:$id" "iidfile"
}

@test "build: --format docker keeps HEALTHCHECK, SHELL, ONBUILD; oci warns and drops them" {
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=5s --retries=2 CMD true
ONBUILD RUN echo triggered
DF
  run_kiln build -t localhost/dockerfmt --format docker "$ctx"
  run_kiln image inspect --format '{{json .Config.Healthcheck}} {{json .Config.Shell}} {{json .Config.OnBuild}}' localhost/dockerfmt
  assert_output_contains '"Test":["CMD-SHELL","true"]'
  assert_output_contains '"Interval":5000000000'
  assert_output_contains '["/bin/sh","-ec"]'
  assert_output_contains '["RUN echo triggered"]'
  run_kiln build -t localhost/ocifmt "$ctx"
  assert_output_contains "HEALTHCHECK is not supported for OCI image format"
  run_kiln image inspect --format '{{json .Config.Healthcheck}}' localhost/ocifmt
  assert_output_not_contains "CMD"
}

@test "build: FROM scratch with COPY, --label, --build-arg from the environment" {
  echo data >"$ctx/data"
  cat >"$ctx/Dockerfile" <<'DF'
FROM scratch
ARG FROMENV
COPY data /data
LABEL got=$FROMENV
DF
  FROMENV=yes run_kiln build -t localhost/scratchy --build-arg FROMENV --label extra=1 "$ctx"
  run_kiln image inspect --format '{{index .Config.Labels "got"}} {{index .Config.Labels "extra"}}' localhost/scratchy
  assert_output "yes 1"
  assert_equal "$(layer_count localhost/scratchy)" 1 "layers of a FROM scratch image with one COPY"
}

@test "build: the README example (contrib/example) builds and runs" {
  run_kiln build -t localhost/kiln-example "$KILN_SOURCE_ROOT/contrib/example"
  assert_output_contains "COMMIT localhost/kiln-example:latest"
  # The image runs as nobody, an id a single-id user does not have: root there.
  if is_single_id_user; then
    run_kiln 125 run --rm localhost/kiln-example
    assert_output_contains "65534"
    run_kiln run --rm --user 0 localhost/kiln-example
  else
    run_kiln run --rm localhost/kiln-example
  fi
  assert_output_contains "Hello from kiln"
}

@test "build: a local git repository as the context (DIR.git#REF:SUBDIR, file://)" {
  local repo=$BATS_TEST_TMPDIR/app.git
  mkdir -p "$repo/sub"
  printf 'FROM localhost/busybox\nCOPY msg /msg\n' >"$repo/sub/Dockerfile"
  echo from-main >"$repo/sub/msg"
  git() { command git -C "$repo" -c user.name=kiln -c user.email=kiln@localhost "$@"; }
  git init -q -b main
  git add -A && git commit -q -m one
  git checkout -q -b feature
  echo from-feature >"$repo/sub/msg"
  git commit -q -am two
  git checkout -q main
  unset -f git
  run_kiln build -q -t localhost/git-feature "$repo#feature:sub"
  run_kiln run --rm localhost/git-feature cat /msg
  assert_output "from-feature"
  run_kiln build -q -t localhost/git-main "file://$repo#main:sub"
  run_kiln run --rm localhost/git-main cat /msg
  assert_output "from-main"
  run_kiln 125 build -q "$repo#nosuch:sub"
  assert_output_contains "git clone"
  run_kiln 125 build -q "$repo#main:nodir"
  assert_output_contains "no directory nodir"
}

@test "build: layers are stored as plain tar blobs named by their diff id, listed as tar layers" {
  cat >"$ctx/Dockerfile" <<'DF'
FROM localhost/busybox
RUN echo plain > /plain
COPY Dockerfile /copied
DF
  run_kiln build -q -t localhost/plain "$ctx"
  run_kiln image inspect --format '{{json .RootFS.Layers}}' localhost/plain
  local diff_ids
  diff_ids=$(grep -o 'sha256:[0-9a-f]*' <<<"$output" | tail -2)
  [[ $(wc -l <<<"$diff_ids") == 2 ]] || die "want the two new layers: $output"
  local id blob
  for id in $diff_ids; do
    blob=$KILN_ROOT/blobs/sha256/${id#sha256:}
    [[ -f $blob ]] || die "no blob named by diff id $id"
    [[ $(head -c 2 "$blob" | od -An -tx1 | tr -d ' ') != 1f8b ]] || die "blob $id is gzip"
    [[ $(sha256sum <"$blob" | cut -d' ' -f1) == "${id#sha256:}" ]] || die "blob $id does not hash to its name"
  done
  tar -xOf "$KILN_ROOT/blobs/sha256/$(head -1 <<<"$diff_ids" | cut -d: -f2)" plain | grep -qx plain ||
    die "the RUN layer's tar lacks /plain"
  run_kiln image inspect --format '{{.Digest}}' localhost/plain
  local manifest=$KILN_ROOT/blobs/sha256/${output#sha256:}
  [[ -f $manifest ]] || die "no manifest blob $output"
  grep -q '"application/vnd.oci.image.layer.v1.tar"' "$manifest" || die "no plain tar layer type: $(cat "$manifest")"
  run_kiln run --rm localhost/plain cat /plain
  assert_output "plain"
}
