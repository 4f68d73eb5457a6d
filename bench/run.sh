#!/usr/bin/env bash
# `run --rm IMAGE true` latency: kiln against podman, with a bare
# `unshare -Urmp --fork /bin/true` as the floor no container tool can beat, and
# kiln's peak RSS during a run. Same busybox rootfs in both stores.
#   KILN=build/kiln bench/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tar=$BENCH_WORK/busybox.tar
busybox_rootfs_tar "$tar"
"$KILN" import -q "$tar" localhost/bench/busybox >/dev/null
podman import -q "$tar" localhost/bench/busybox >/dev/null 2>&1 || echo "podman import failed" >&2
# The first run probes and remembers the snapshot driver; not part of the timing.
"$KILN" run --rm localhost/bench/busybox true
driver=$(cat "$KILN_ROOT/driver" 2>/dev/null || echo "?")

floor=$(median_ms floor unshare -Urmp --fork /bin/true)
k=$(median_ms kiln-run "$KILN" run --rm localhost/bench/busybox true)
p=$(median_ms podman-run "${PODMAN[@]}" run --rm localhost/bench/busybox true)
report "run --rm true ($driver)" "$k" podman "$p"
report "run --rm true vs floor" "$k" unshare "$floor"
python3 -c 'import sys; k,f=float(sys.argv[1]),float(sys.argv[2]); print("%-34s kiln/floor %.1fx" % ("run --rm true", k/f))' "$k" "$floor"

rss=()
for _ in 1 2 3 4 5; do
  rss+=("$( { /usr/bin/time -f %M "$KILN" run --rm localhost/bench/busybox true >/dev/null; } 2>&1 | tail -n 1)")
done
printf '%-34s kiln peak RSS (median of 5) %s KiB\n' "run --rm true" \
  "$(printf '%s\n' "${rss[@]}" | sort -n | sed -n 3p)"
