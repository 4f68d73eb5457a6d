#!/usr/bin/env bash
# Builds the image tarballs the system tests import, without any network:
#   OUTDIR/busybox-rootfs.tar   busybox-static with one symlink per applet in /bin,
#                               /etc/passwd (root, app uid 1000, nobody), /etc/group,
#                               /tmp 1777, /root, /home/app (owned by 1000), and the
#                               test probe at /usr/local/bin/probe
# Usage: contrib/make-test-images.sh OUTDIR PROBE
# Any user may run it; owners inside the tarball are numeric and fixed. A tarball newer
# than busybox, the probe and this script is kept (tests call this once per file).
set -euo pipefail

[[ $# == 2 ]] || { echo "usage: $0 OUTDIR PROBE" >&2; exit 2; }
out=$1
probe=$2
busybox=$(command -v busybox || true)
[[ -n $busybox ]] || { echo "make-test-images: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
[[ -x $probe ]] || { echo "make-test-images: probe binary $probe missing (build test/helpers/probe)" >&2; exit 1; }
mkdir -p "$out"
tarball=$out/busybox-rootfs.tar
if [[ -f $tarball && $tarball -nt $busybox && $tarball -nt $probe && $tarball -nt ${BASH_SOURCE[0]} ]]; then
  exit 0
fi

stage=$(mktemp -d "$out/.busybox.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/rootfs
mkdir -p "$root"/{bin,etc,dev,proc,sys,root,home/app,usr/local/bin,var,tmp}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$busybox" "$root/bin/busybox"
# ~270 links: one python process instead of one ln each when python is there.
applets=$("$busybox" --list | grep -vx busybox)
if command -v python3 >/dev/null; then
  python3 -c 'import os, sys
for name in sys.stdin.read().split(): os.symlink("busybox", os.path.join(sys.argv[1], name))' "$root/bin" <<<"$applets"
else
  for applet in $applets; do ln -s busybox "$root/bin/$applet"; done
fi
cp "$probe" "$root/usr/local/bin/probe"
chmod 0755 "$root/usr/local/bin/probe"
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
app:x:1000:
nogroup:x:65534:
GROUP

# Everything is root's except /home/app; a fixed mtime keeps the tarball's bytes (and
# so the image id) the same from run to run.
common=(--numeric-owner --mtime=@1700000000 --sort=name --format=posix
        --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
tar -C "$root" -cf "$stage/rootfs.tar" "${common[@]}" --owner=0 --group=0 --exclude=./home/app .
tar -C "$root" -rf "$stage/rootfs.tar" "${common[@]}" --owner=1000 --group=1000 ./home/app
mv "$stage/rootfs.tar" "$tarball"
