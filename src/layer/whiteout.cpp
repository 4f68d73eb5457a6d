// Overlay whiteout markers: creating them during extraction and recognising them
// in an overlay upper directory.
#include "layer/whiteout.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.hpp"
#include "util/log.hpp"

namespace kiln::layer {

namespace {

constexpr const char* kUserOpaque = "user.overlay.opaque";
constexpr const char* kTrustedOpaque = "trusted.overlay.opaque";
constexpr const char* kUserWhiteout = "user.overlay.whiteout";
constexpr const char* kTrustedWhiteout = "trusted.overlay.whiteout";
// fuse-overlayfs marks opaque directories of its upper dir with its own name.
constexpr const char* kFuseOpaque = "user.fuseoverlayfs.opaque";

// trusted.* needs CAP_SYS_ADMIN in the initial namespace; in kiln's user namespace
// it fails with EPERM, which is expected and ignored.
void set_trusted(int fd, const char* name, const char* value) {
  if (::fsetxattr(fd, name, value, 1, 0) < 0 && errno != EPERM && errno != ENOTSUP)
    util::debug("setxattr {}: {}", name, std::strerror(errno));
}

std::string get_xattr(int fd, const char* name) {
  char buf[16];
  ssize_t n = ::fgetxattr(fd, name, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

bool is_overlay_xattr(std::string_view name) {
  return name.starts_with("user.overlay.") || name.starts_with("trusted.overlay.") ||
         name.starts_with("user.fuseoverlayfs.") || name.starts_with("trusted.fuseoverlayfs.");
}

bool is_fuse_overlay_marker(std::string_view name) {
  return name == kOpaqueMarker || name == kFuseOpaqueWhiteout;
}

void make_overlay_whiteout(util::Fd dir, const std::string& name) {
  // Since Linux 5.8 a 0/0 char device may be created inside a user namespace
  // (tested on 6.18 under unshare -Ur); it is what overlayfs itself writes.
  if (::mknodat(dir.get(), name.c_str(), S_IFCHR | 0, ::makedev(0, 0)) == 0) return;
  if (errno != EPERM) throw util::sys_error("mknod whiteout \"{}\"", name);
  // Fallback: an xattr whiteout (Linux >= 6.7). The parent needs overlay.opaque=x
  // ("holds xattr whiteouts") or overlayfs does not look for them in lower layers.
  int fd = ::openat(dir.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd < 0) throw util::sys_error("create whiteout \"{}\"", name);
  util::UniqueFd file(util::adopt, fd);
  if (::fsetxattr(fd, kUserWhiteout, "y", 1, 0) < 0) throw util::sys_error("setxattr whiteout \"{}\"", name);
  set_trusted(fd, kTrustedWhiteout, "y");
  int dfd = ::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw util::sys_error("open parent of whiteout \"{}\"", name);
  util::UniqueFd parent(util::adopt, dfd);
  if (get_xattr(dfd, kUserOpaque).empty() && ::fsetxattr(dfd, kUserOpaque, "x", 1, 0) < 0)
    throw util::sys_error("setxattr {} on parent of \"{}\"", kUserOpaque, name);
  if (get_xattr(dfd, kTrustedOpaque).empty()) set_trusted(dfd, kTrustedOpaque, "x");
}

void mark_overlay_opaque(util::Fd dir) {
  if (::fsetxattr(dir.get(), kUserOpaque, "y", 1, 0) < 0) throw util::sys_error("setxattr {}", kUserOpaque);
  set_trusted(dir.get(), kTrustedOpaque, "y");
}

bool is_overlay_whiteout(const struct stat& st, util::Fd fd) {
  if (S_ISCHR(st.st_mode) && st.st_rdev == ::makedev(0, 0)) return true;
  if (!S_ISREG(st.st_mode) || st.st_size != 0 || !fd) return false;
  return get_xattr(fd.get(), kUserWhiteout) == "y" || get_xattr(fd.get(), kTrustedWhiteout) == "y";
}

bool is_overlay_opaque(util::Fd dir) {
  if (get_xattr(dir.get(), kUserOpaque) == "y" || get_xattr(dir.get(), kTrustedOpaque) == "y" ||
      get_xattr(dir.get(), kFuseOpaque) == "y")
    return true;
  // fuse-overlayfs also leaves marker entries inside an opaque directory.
  struct stat st;
  return ::fstatat(dir.get(), std::string(kOpaqueMarker).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 ||
         ::fstatat(dir.get(), std::string(kFuseOpaqueWhiteout).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

}  // namespace kiln::layer
