// The container's file-system view, built in the child's new mount namespace:
// the rootfs bind, /proc /dev /sys, the user's binds and tmpfs mounts, the pivot,
// and Docker's masked and read-only paths. Every target inside the rootfs is
// resolved beneath it (openat2 RESOLVE_IN_ROOT), so a symlink planted in an image
// cannot redirect a mount onto the host. Only parse_mount_options is pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/container_spec.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

/// "size=64m,mode=1777,noexec,ro" -> MS_NOEXEC|MS_RDONLY and data "size=64m,mode=1777".
struct MountOptions {
  unsigned long flags = 0;
  std::string data;
};
MountOptions parse_mount_options(std::string_view options);

/// Docker's masked paths (a file gets /dev/null bound over it, a directory an empty
/// read-only tmpfs) and read-only paths.
extern const std::vector<std::string> kMaskedPaths;
extern const std::vector<std::string> kReadOnlyPaths;

/// Makes every mount in this namespace private, so nothing below propagates to the host.
void make_mounts_private();
/// Binds the rootfs directory onto itself: pivot_root needs a mount point. Returns an
/// O_PATH descriptor of the new mount's root.
util::UniqueFd mount_rootfs(const std::string& rootfs);
/// Fresh procfs, a tmpfs /dev with the host's safe nodes bound in, devpts, shm, mqueue,
/// and /sys read-only (sysfs in an own network namespace, else a bind of the host's).
void mount_proc_dev_sys(util::Fd root, NetworkMode network);
/// The spec's binds and tmpfs mounts, parents before children. A mount marked populate
/// is first given the image directory's owner, mode and contents (else user's ids);
/// a chown the user namespace cannot map (single-id mode) is left out.
void mount_volumes(util::Fd root, const std::vector<MountSpec>& mounts, const UserIds& user = {});
/// Makes the rootfs mount the process's / and detaches the old root.
void pivot_into(const std::string& rootfs);
/// After the pivot: the whole root read-only (--read-only).
void remount_root_read_only();
/// After the pivot: kMaskedPaths and kReadOnlyPaths.
void mask_paths();

/// Remounts a mount read-only keeping the flags a user namespace locks (nosuid, nodev,
/// noexec, atime): dropping one of those makes the remount fail with EPERM.
void remount_read_only(const std::string& path);

}  // namespace kiln::runtime
