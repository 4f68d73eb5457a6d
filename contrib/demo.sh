#!/usr/bin/env bash
# kiln's main job on a fresh Debian 12 machine: install what kiln needs, build it,
# make a busybox base image locally (no internet needed), build the example image
# from contrib/example/Dockerfile and run it.
#
#   sudo contrib/demo.sh
#
# Run with sudo it does the kiln part as the user who called sudo (rootless is the
# point); run by root directly it does it as root. The store is a fresh directory
# under /tmp, removed afterwards.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '\n==> %s\n' "$*"; }

if [[ $(id -u) == 0 ]]; then
  say "installing dependencies"
  "$src/contrib/install-deps.sh"
  command -v busybox >/dev/null || { apt-get install -y -qq busybox-static >/dev/null; }
fi
[[ -x /bin/busybox ]] || { echo "demo: needs busybox-static (apt-get install busybox-static)" >&2; exit 1; }

user=${SUDO_USER:-$(id -un)}
as_user() {
  if [[ $(id -u) == 0 && $user != root ]]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

work=$(mktemp -d /tmp/kiln-demo.XXXXXX)
chmod 0755 "$work"
[[ $user != root && $(id -u) == 0 ]] && chown "$user" "$work"
cleanup() { as_user "$work/kiln" unshare rm -rf "$work/root" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

say "building kiln"
if [[ $(id -u) == 0 && $user != root ]]; then
  # Build as the user in a copy it owns, so nothing root-owned lands in the checkout.
  # (Not tar --one-top-level=src: it would merge the checkout's own src/ into the top.)
  as_user mkdir "$work/src"
  tar -C "$src" --exclude=./.git --exclude='./build*' -cf - . | as_user tar -C "$work/src" -xf -
  as_user meson setup "$work/build" "$work/src" >/dev/null
  as_user ninja -C "$work/build" kiln >/dev/null
  cp "$work/build/kiln" "$work/kiln"
  example=$work/src/contrib/example
else
  meson setup "$src/build" "$src" >/dev/null 2>&1 || meson setup --reconfigure "$src/build" "$src" >/dev/null
  ninja -C "$src/build" kiln >/dev/null
  cp "$src/build/kiln" "$work/kiln"
  example=$src/contrib/example
fi
export KILN_ROOT=$work/root KILN_RUNROOT=$work/run

say "making a busybox base image (localhost/busybox) without internet"
rootfs=$work/rootfs
as_user mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root"
as_user cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list | grep -vx busybox); do as_user ln -sf busybox "$rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' | as_user tee "$rootfs/etc/passwd" >/dev/null
printf 'root:x:0:\nnogroup:x:65534:\n' | as_user tee "$rootfs/etc/group" >/dev/null
as_user chmod 1777 "$rootfs/tmp"
as_user tar -C "$rootfs" -cf "$work/busybox.tar" .
as_user env KILN_ROOT="$KILN_ROOT" KILN_RUNROOT="$KILN_RUNROOT" "$work/kiln" import -q "$work/busybox.tar" localhost/busybox

say "kiln build -t localhost/kiln-example $example"
as_user env KILN_ROOT="$KILN_ROOT" KILN_RUNROOT="$KILN_RUNROOT" "$work/kiln" build -t localhost/kiln-example "$example"

say "kiln images"
as_user env KILN_ROOT="$KILN_ROOT" KILN_RUNROOT="$KILN_RUNROOT" "$work/kiln" images

say "kiln run --rm localhost/kiln-example"
as_user env KILN_ROOT="$KILN_ROOT" KILN_RUNROOT="$KILN_RUNROOT" "$work/kiln" run --rm localhost/kiln-example
