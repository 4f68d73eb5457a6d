# Shared pieces of kiln's side-by-side benchmarks. Each bench script sources this,
# prepares the same work for kiln and the reference tool (podman, buildah, skopeo),
# times both in the same run and prints medians and the ratio. No assertions:
# machines here are shared and noisy; the numbers go into the issue notes.
#
# Run as an unprivileged user with a subuid range (contrib/setup-test-users.sh makes
# `kilntest`), with KILN pointing at the binary: KILN=build/kiln bench/images.sh
set -euo pipefail

: "${KILN:?set KILN to the kiln binary}"
KILN=$(readlink -f "$KILN")
BENCH_RUNS=${BENCH_RUNS:-30}
BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
export KILN_ROOT="$BENCH_WORK/kiln-root" KILN_RUNROOT="$BENCH_WORK/kiln-run"
[[ -n ${XDG_RUNTIME_DIR:-} ]] || BENCH_OWN_XDG=1
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$BENCH_WORK/xdg-run}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# podman/buildah with a store of their own (overlay, runc; see shared TESTING.md for
# why both settings are needed here). podman 4.3 ignores CONTAINERS_STORAGE_CONF once
# its database exists, so every podman/buildah call also gets --root/--runroot (and
# podman --tmpdir) explicitly: use "${PODMAN[@]}" / "${BUILDAH[@]}" in hyperfine calls;
# the podman/buildah functions below do the same for plain script lines. The runroot
# lives under a short /tmp directory: podman's conmon socket paths must stay short.
PODMAN_DIR=$(mktemp -d /tmp/kb.XXXX)
mkdir -p "$PODMAN_DIR/root" "$PODMAN_DIR/run" "$PODMAN_DIR/tmp"
export CONTAINERS_STORAGE_CONF="$BENCH_WORK/storage.conf" CONTAINERS_CONF="$BENCH_WORK/containers.conf"
cat >"$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
runroot = "$PODMAN_DIR/run"
graphroot = "$PODMAN_DIR/root"
CONF
cat >"$CONTAINERS_CONF" <<CONF
[engine]
runtime = "runc"
CONF
PODMAN=(/usr/bin/podman --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" --tmpdir "$PODMAN_DIR/tmp"
  --storage-driver overlay --runtime runc)
BUILDAH=(/usr/bin/buildah --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" --storage-driver overlay)
podman() { "${PODMAN[@]}" "$@"; }
buildah() { "${BUILDAH[@]}" "$@"; }

bench_cleanup() {
  # One podman call for both trees: podman needs the config files under BENCH_WORK to
  # start, and any later podman call would recreate its store under PODMAN_DIR.
  podman unshare rm -rf "$PODMAN_DIR" "$BENCH_WORK" 2>/dev/null || true
  "$KILN" unshare rm -rf "$PODMAN_DIR" "$BENCH_WORK" 2>/dev/null || true  # same id mapping
  # A runtime directory made here also got its own user namespace holder: stop it.
  [[ -z ${BENCH_OWN_XDG:-} ]] || "$KILN" system migrate >/dev/null 2>&1 || true
  chmod -R u+rwX "$PODMAN_DIR" "$BENCH_WORK" 2>/dev/null || true  # read-only dirs of our own
  rm -rf "$PODMAN_DIR" "$BENCH_WORK" 2>/dev/null || true
}
trap bench_cleanup EXIT

# median_ms NAME CMD...: runs CMD BENCH_RUNS times (after 3 warm-ups), prints the
# median in milliseconds on stdout.
median_ms() {
  local name=$1; shift
  local json="$BENCH_WORK/$name.json"
  hyperfine --style none --warmup 3 --runs "$BENCH_RUNS" -N --export-json "$json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1 ||
    hyperfine --style none --warmup 3 --runs "$BENCH_RUNS" --export-json "$json" -- "$(printf '%q ' "$@")" >/dev/null
  python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$json"
}

# median_ms_prepared NAME PREPARE CMD...: like median_ms, with a shell command run before each timing.
median_ms_prepared() {
  local name=$1 prepare=$2; shift 2
  local json="$BENCH_WORK/$name.json"
  hyperfine --style none --warmup 1 --runs "$BENCH_RUNS" --prepare "$prepare" --export-json "$json" -- "$(printf '%q ' "$@")" >/dev/null
  python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$json"
}

# report WORK KILN_MS OTHER_NAME OTHER_MS: one line with the ratio other/kiln.
report() {
  python3 -c 'import sys
w,k,o,om=sys.argv[1],float(sys.argv[2]),sys.argv[3],float(sys.argv[4])
print("%-34s kiln %9.2f ms   %-8s %9.2f ms   %s/kiln %6.1fx" % (w,k,o,om,o,om/k if k else float("inf")))' "$@"
}

# A busybox root filesystem tarball made without internet (busybox-static).
busybox_rootfs_tar() {
  local out=$1 dir="$BENCH_WORK/rootfs"
  mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root"
  cp /bin/busybox "$dir/bin/busybox"
  for applet in $(/bin/busybox --list | grep -vx busybox); do ln -sf busybox "$dir/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  chmod 1777 "$dir/tmp"
  tar -C "$dir" -cf "$out" .
}
