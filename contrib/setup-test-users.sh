#!/usr/bin/env bash
# Creates the unprivileged users kiln's system tests run as. Run as root;
# idempotent (a second run only repairs what is missing).
#   kilntest  a subuid/subgid range of its own (kept if it has one that overlaps no
#             other user's, else a fresh one after every range in use)
#   kilnsolo  NO subuid/subgid entry: kiln's single-id mode
# Each gets podman/buildah configuration (runc, overlay with explicit runroot and
# graphroot in its home) and /run/user/<uid> (0700) for XDG_RUNTIME_DIR. The device
# nodes fuse-overlayfs and private networks need are made world read-write.
# Prints one line per user: "NAME UID HOME SUBID_START SUBID_COUNT" (0 0 for none).
set -euo pipefail

[[ $(id -u) == 0 ]] || { echo "setup-test-users: must run as root" >&2; exit 1; }
readonly range_size=65536

# All "start count" pairs in /etc/subuid and /etc/subgid of users other than $1.
other_ranges() {
  local uid
  uid=$(id -u "$1")
  cat /etc/subuid /etc/subgid 2>/dev/null |
    awk -F: -v u="$1" -v id="$uid" 'NF == 3 && $1 != u && $1 != id { print $2, $3 }'
}

# The user's range in one file ("start count"), empty when it has none.
own_range() {
  awk -F: -v u="$1" -v id="$(id -u "$1")" 'NF == 3 && ($1 == u || $1 == id) { print $2, $3; exit }' "$2" 2>/dev/null || true
}

# True when [start, start+count) meets another user's range.
overlaps() {
  local user=$1 start=$2 count=$3 s c
  while read -r s c; do
    ((start < s + c && s < start + count)) && return 0
  done < <(other_ranges "$user")
  return 1
}

drop_subids() {
  local user=$1 uid
  uid=$(id -u "$user")
  for f in /etc/subuid /etc/subgid; do
    [[ -f $f ]] && sed -i -e "/^${user}:/d" -e "/^${uid}:/d" "$f"
  done
}

give_subids() {
  local user=$1 u g start end
  u=$(own_range "$user" /etc/subuid)
  g=$(own_range "$user" /etc/subgid)
  if [[ -n $u && $u == "$g" ]] && ! overlaps "$user" $u; then
    return 0
  fi
  drop_subids "$user"
  # The first aligned start past every range in use.
  start=100000
  while read -r s c; do
    ((s + c > start)) && start=$((s + c))
  done < <(other_ranges "$user")
  start=$(((start + range_size - 1) / range_size * range_size))
  end=$((start + range_size - 1))
  usermod --add-subuids "$start-$end" --add-subgids "$start-$end" "$user"
}

write_container_config() {
  local user=$1 home=$2 dir=$2/.config/containers
  install -d -o "$user" -g "$user" -m 0755 "$home/.config" "$dir" "$home/.local" "$home/.local/share"
  printf '[engine]\nruntime = "runc"\n' >"$dir/containers.conf"
  printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' \
    "$home/.local/share/containers/runroot" "$home/.local/share/containers/storage" >"$dir/storage.conf"
  chown "$user:$user" "$dir/containers.conf" "$dir/storage.conf"
}

setup_user() {
  local user=$1 want_subids=$2 uid home
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
  uid=$(id -u "$user")
  home=$(getent passwd "$user" | cut -d: -f6)
  install -d -o "$user" -g "$user" -m 0755 "$home"
  if [[ $want_subids == yes ]]; then give_subids "$user"; else drop_subids "$user"; fi
  write_container_config "$user" "$home"
  install -d -o "$user" -g "$user" -m 0700 "/run/user/$uid"
  local range
  range=$(own_range "$user" /etc/subuid)
  echo "$user $uid $home ${range:-0 0}"
}

install -d -m 0755 /run/user
setup_user kilntest yes
setup_user kilnsolo no
for dev in /dev/fuse /dev/net/tun; do
  if [[ -e $dev ]]; then chmod 0666 "$dev"; fi
done
