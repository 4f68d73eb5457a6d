#!/usr/bin/env bash
# Image metadata commands with 1,000 images in the store: `images`, `image inspect
# NAME` and `history NAME`, kiln against podman, same images in both stores.
#   KILN=build/kiln bench/images.sh        (as an unprivileged user; BENCH_IMAGES=1000)
# kiln's store is filled by `kiln import` of 1,000 distinct tiny root filesystems.
# podman's is filled by one `podman load` of a docker-archive holding all of them
# written by `kiln save` (podman import takes ~0.3 s an image); when that is not
# possible, by podman import in a loop.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

count=${BENCH_IMAGES:-1000}
tars=$BENCH_WORK/tars
mkdir -p "$tars"

echo "making $count root filesystems" >&2
python3 - "$tars" "$count" <<'PY'
import io, sys, tarfile
out, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    with tarfile.open(f"{out}/rootfs-{i}.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("etc/hostname", f"image-{i}\n".encode()), ("etc/motd", b"tiny\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))
PY

echo "importing into kiln" >&2
for ((i = 0; i < count; i++)); do
  "$KILN" import -q "$tars/rootfs-$i.tar" "localhost/bench/img$i:latest" >/dev/null
  ((i % 100 == 99)) && echo "  kiln: $((i + 1))" >&2
done

echo "filling podman's store" >&2
names=()
for ((i = 0; i < count; i++)); do names+=("localhost/bench/img$i:latest"); done
filled=false
if "$KILN" help 2>/dev/null | grep -qE '^  save '; then
  if "$KILN" save -o "$BENCH_WORK/all.tar" "${names[@]}" 2>"$BENCH_WORK/save.err" &&
    podman load -q -i "$BENCH_WORK/all.tar" >/dev/null 2>"$BENCH_WORK/load.err"; then
    filled=true
  else
    echo "  save/load did not work ($(tail -n 1 "$BENCH_WORK/save.err" "$BENCH_WORK/load.err" 2>/dev/null | tr '\n' ' ')); importing instead" >&2
  fi
fi
if [[ $filled != true ]]; then
  for ((i = 0; i < count; i++)); do
    podman import -q "$tars/rootfs-$i.tar" "localhost/bench/img$i:latest" >/dev/null
    ((i % 100 == 99)) && echo "  podman: $((i + 1))" >&2
  done
fi
podman_count=$(podman images -q | wc -l)
kiln_count=$("$KILN" images -q | wc -l)
echo "images: kiln $kiln_count, podman $podman_count" >&2

name=localhost/bench/img$((count / 2)):latest
k=$(median_ms kiln-images "$KILN" images)
p=$(median_ms podman-images "${PODMAN[@]}" images)
report "images ($count images)" "$k" podman "$p"
k=$(median_ms kiln-inspect "$KILN" image inspect "$name")
p=$(median_ms podman-inspect "${PODMAN[@]}" image inspect "$name")
report "image inspect ($count images)" "$k" podman "$p"
k=$(median_ms kiln-history "$KILN" history "$name")
p=$(median_ms podman-history "${PODMAN[@]}" history "$name")
report "history ($count images)" "$k" podman "$p"
