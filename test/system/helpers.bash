# Loaded by every test/system/*.bats file: an isolated store per test, run_kiln,
# assertions, test images and user checks. $KILN (the binary) and $PROBE (the
# static probe) come from the environment: meson test and contrib/test.sh set them.
# KILN_TEST_IMAGES names a directory of prebuilt image tarballs; without it they are
# built on demand into the file's temp directory.

KILN=${KILN:?KILN must name the kiln binary under test}
KILN_SOURCE_ROOT=${KILN_SOURCE_ROOT:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
KILN_TIMEOUT=${KILN_TIMEOUT:-120}

# Each test gets its own store and runtime directory; HOME is left alone. A file
# that needs its own setup() or teardown() calls kiln_setup / kiln_teardown in it.
kiln_setup() {
  export KILN_ROOT=$BATS_TEST_TMPDIR/root
  export KILN_RUNROOT=$BATS_TEST_TMPDIR/run
  mkdir -p "$KILN_RUNROOT"
}

kiln_teardown() {
  # The store holds files owned by subordinate ids and read-only directories: only
  # "root" of kiln's namespace can remove them; bats removes the rest.
  local dir
  for dir in "$KILN_ROOT" "$KILN_RUNROOT"; do
    [[ -e $dir ]] || continue
    "$KILN" unshare rm -rf "$dir" 2>/dev/null || chmod -R u+rwX "$dir" 2>/dev/null || true
  done
  stop_private_holder
}

# A test that made an XDG_RUNTIME_DIR of its own also got a user namespace holder of its
# own (recorded there): stop it, so no test leaves a process behind. The user's shared
# holder (/run/user/UID) is stopped once at the end of the whole run (contrib/test.sh).
stop_private_holder() {
  [[ -n ${XDG_RUNTIME_DIR:-} && $XDG_RUNTIME_DIR != "/run/user/$(id -u)" ]] || return 0
  [[ -e $XDG_RUNTIME_DIR/kiln/userns-holder ]] || return 0
  "$KILN" system migrate >/dev/null 2>&1 || true
}

setup() { kiln_setup; }
teardown() { kiln_teardown; }

# run_kiln [EXPECTED_STATUS] ARGS...: runs $KILN ARGS with a timeout, stdout and
# stderr together in $output (separately in $KILN_STDOUT / $KILN_STDERR, $lines as
# bats makes them), and fails the test unless the status is EXPECTED (default 0;
# '?' accepts any). The status is in $status.
run_kiln() {
  local expected=0
  if [[ $1 == '?' || $1 =~ ^[0-9]+$ ]]; then
    expected=$1
    shift
  fi
  local out_file=$BATS_TEST_TMPDIR/.kiln-stdout err_file=$BATS_TEST_TMPDIR/.kiln-stderr
  echo "\$ kiln $*" >&2
  status=0
  timeout -k 10 "$KILN_TIMEOUT" "$KILN" "$@" >"$out_file" 2>"$err_file" </dev/null || status=$?
  KILN_STDOUT=$(<"$out_file")
  KILN_STDERR=$(<"$err_file")
  output=$KILN_STDOUT
  # A user without a subuid range gets the single-id warning from every command that
  # enters the user namespace: $output and $lines leave it out, $KILN_STDERR keeps it.
  local shown_stderr
  shown_stderr=$(grep -v '^kiln: warning: no sub[ug]id range for ' <<<"$KILN_STDERR" || true)
  if [[ -n $shown_stderr ]]; then output+=${output:+$'\n'}$shown_stderr; fi
  mapfile -t lines <<<"$output"
  [[ -n $output ]] || lines=()
  echo "$output" >&2
  if [[ $status == 124 ]]; then
    die "kiln $* timed out after ${KILN_TIMEOUT}s"
  fi
  if [[ $expected != '?' && $status != "$expected" ]]; then
    die "kiln $*: exit status $status, expected $expected"
  fi
}

# die MESSAGE: fails the test with a clear message.
die() {
  echo "# FAIL: $*" >&2
  false
}

# assert_output_contains TEXT: $output contains TEXT.
assert_output_contains() {
  [[ $output == *"$1"* ]] || die "output does not contain \"$1\"; output was:
$output"
}

# assert_output_not_contains TEXT
assert_output_not_contains() {
  [[ $output != *"$1"* ]] || die "output unexpectedly contains \"$1\"; output was:
$output"
}

# assert_output TEXT: $output is exactly TEXT.
assert_output() {
  [[ $output == "$1" ]] || die "output is not \"$1\"; it was:
$output"
}

# assert_line [INDEX] TEXT: line INDEX of $output is TEXT, or without INDEX, some line is.
assert_line() {
  if [[ $# == 2 ]]; then
    [[ ${lines[$1]-} == "$2" ]] || die "line $1 is \"${lines[$1]-}\", expected \"$2\"; output was:
$output"
    return
  fi
  local line
  for line in "${lines[@]}"; do [[ $line == "$1" ]] && return 0; done
  die "no line \"$1\" in output:
$output"
}

# assert_equal ACTUAL EXPECTED [WHAT]
assert_equal() {
  [[ $1 == "$2" ]] || die "${3:-value} is \"$1\", expected \"$2\""
}

# The invoking user's first /etc/subuid range as "start count"; empty when none.
subuid_range() {
  local name
  name=$(id -un)
  awk -F: -v u="$name" -v id="$(id -u)" 'NF == 3 && ($1 == u || $1 == id) { print $2, $3; exit }' \
    /etc/subuid 2>/dev/null || true
}

# True when kiln runs with a single id for this user (no subuid entry).
is_single_id_user() {
  [[ $(id -u) != 0 && -z $(subuid_range) ]]
}

skip_unless_subuid() {
  if is_single_id_user || [[ $(id -u) == 0 ]]; then skip "needs an unprivileged user with a subuid range"; fi
}

skip_if_root() {
  if [[ $(id -u) == 0 ]]; then skip "${1:-not meaningful as root}"; fi
}

skip_unless_single_id() {
  is_single_id_user || skip "needs a user without a subuid range"
}

# The busybox rootfs tarball, built on demand when KILN_TEST_IMAGES has none.
busybox_tarball() {
  local dir=${KILN_TEST_IMAGES:-$BATS_FILE_TMPDIR/images}
  if [[ ! -f $dir/busybox-rootfs.tar ]]; then
    "$KILN_SOURCE_ROOT/contrib/make-test-images.sh" "$dir" "${PROBE:?PROBE must name the probe binary}" >&2 ||
      die "could not build the busybox test image"
  fi
  echo "$dir/busybox-rootfs.tar"
}

# import_busybox [NAME]: imports the busybox rootfs as NAME (default localhost/busybox).
import_busybox() {
  local tarball
  tarball=$(busybox_tarball) || return 1
  run_kiln import "$tarball" "${1:-localhost/busybox}"
}

# build_setup: a fresh store with localhost/busybox and an empty build context in $ctx
# (the setup of the build test files).
build_setup() {
  kiln_setup
  import_busybox
  ctx=$BATS_TEST_TMPDIR/ctx
  mkdir -p "$ctx"
}
