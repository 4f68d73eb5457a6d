#!/usr/bin/env bash
# Installs everything kiln needs to build and to run its test suite on Debian 12.
# Run as root. Idempotent: a second run only checks that the packages are there.
#   contrib/install-deps.sh          build dependencies only
#   contrib/install-deps.sh --test   also the test dependencies (bats, podman, registry...)
set -euo pipefail

build_pkgs=(
  build-essential meson ninja-build pkg-config
  libseccomp-dev libcap-dev libfuse3-dev libyaml-cpp-dev libfmt-dev libcxxopts-dev
  doctest-dev libarchive-dev nettle-dev libssl-dev nlohmann-json3-dev libcurl4-openssl-dev
  zlib1g-dev libzstd-dev liblzma-dev libbz2-dev
  uidmap fuse-overlayfs fuse3
)
test_pkgs=(
  bats busybox-static podman buildah skopeo runc docker-registry apache2-utils
  passt slirp4netns hyperfine util-linux tmux curl jq python3 openssl git
)

want=("${build_pkgs[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The device nodes kiln's fuse-overlayfs driver and private networks need are
# root-only on these machines; Debian's default is world read-write.
for dev in /dev/fuse /dev/net/tun; do
  [[ -e $dev ]] && chmod 0666 "$dev" || true
done
echo "install-deps: ok"
