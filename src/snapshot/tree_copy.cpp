// Layer application for the vfs driver. Works on directory descriptors opened with
// O_NOFOLLOW so a symlink in the destination (from a lower layer) is replaced, never
// followed. Directory metadata is set after the children (post-order) so that mode
// 0555 directories can be filled and their mtimes survive.
#include "snapshot/tree_copy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::snapshot {

namespace fs = std::filesystem;

namespace {

using util::UniqueFd;

// Opaque markers: the contract's xattr, plus the ones fuse-overlayfs and real-root
// overlay write, so an upper dir applied as a layer also works.
constexpr const char* kOpaqueXattrs[] = {"user.overlay.opaque", "trusted.overlay.opaque",
                                         "user.fuseoverlayfs.opaque"};
constexpr std::string_view kOpaqueFile = ".wh..wh..opq";

// An xattr whiteout (what layer extraction writes where mknod is refused): an empty
// regular file with overlay.whiteout = "y".
bool is_xattr_whiteout(int dir_fd, const std::string& name, const struct stat& st) {
  if (!S_ISREG(st.st_mode) || st.st_size != 0) return false;
  UniqueFd fd(util::adopt, ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  for (const char* xattr : {"user.overlay.whiteout", "trusted.overlay.whiteout"}) {
    char value[2] = {};
    if (::fgetxattr(fd.get(), xattr, value, sizeof value) == 1 && value[0] == 'y') return true;
  }
  return false;
}

bool is_private_xattr(std::string_view name) {
  return name.starts_with("user.overlay.") || name.starts_with("trusted.overlay.") ||
         name.starts_with("user.fuseoverlayfs.");
}

bool is_opaque(int dir_fd) {
  for (const char* name : kOpaqueXattrs) {
    char value[2] = {};
    if (::fgetxattr(dir_fd, name, value, sizeof value) == 1 && value[0] == 'y') return true;
  }
  struct stat st;
  return ::fstatat(dir_fd, std::string(kOpaqueFile).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::vector<std::string> list_dir(int dir_fd, const std::string& where) {
  int copy = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) throw util::sys_error("open {}", where);
  DIR* dir = ::fdopendir(copy);
  if (!dir) {
    ::close(copy);
    throw util::sys_error("fdopendir {}", where);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int error = errno;
  ::closedir(dir);
  if (error) throw util::sys_error_code(error, "readdir {}", where);
  return names;
}

std::string fd_path(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

void remove_entry(int dir_fd, const std::string& name) {
  util::remove_tree_or_throw(fs::path(fd_path(dir_fd)) / name);
}

// chown that tolerates what a single-id namespace or an unprivileged user cannot do.
void set_owner(int fd, const char* name, const struct stat& st, int flags) {
  int rc = name ? ::fchownat(fd, name, st.st_uid, st.st_gid, flags) : ::fchown(fd, st.st_uid, st.st_gid);
  if (rc < 0 && errno != EPERM && errno != EINVAL) throw util::sys_error("chown");
}

void copy_xattrs(int src, int dst, const std::string& where) {
  ssize_t size = ::flistxattr(src, nullptr, 0);
  if (size <= 0) return;
  std::string names(static_cast<std::size_t>(size), '\0');
  size = ::flistxattr(src, names.data(), names.size());
  if (size < 0) throw util::sys_error("listxattr {}", where);
  names.resize(static_cast<std::size_t>(size));
  for (std::size_t pos = 0; pos < names.size();) {
    std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    if (is_private_xattr(name)) continue;
    ssize_t length = ::fgetxattr(src, name.c_str(), nullptr, 0);
    if (length < 0) continue;
    std::string value(static_cast<std::size_t>(length), '\0');
    length = ::fgetxattr(src, name.c_str(), value.data(), value.size());
    if (length < 0) continue;
    if (::fsetxattr(dst, name.c_str(), value.data(), static_cast<std::size_t>(length), 0) < 0) {
      if (errno == EPERM || errno == ENOTSUP || errno == EACCES)
        util::debug("vfs: xattr {} on {} not copied: {}", name, where, std::strerror(errno));
      else
        throw util::sys_error("setxattr {} {}", name, where);
    }
  }
}

// Owner, mode (after chown: chown clears set-id bits), xattrs (after chown: it clears
// security.capability), times last.
void copy_metadata(int src, int dst, const struct stat& st, const std::string& where) {
  set_owner(dst, nullptr, st, 0);
  if (::fchmod(dst, st.st_mode & 07777) < 0) throw util::sys_error("chmod {}", where);
  copy_xattrs(src, dst, where);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(dst, times) < 0) throw util::sys_error("utimens {}", where);
}

void copy_data(int src, int dst, off_t size, const std::string& where) {
  if (size == 0 || ::ioctl(dst, FICLONE, src) == 0) return;
  off_t left = size;
  bool range_ok = true;
  while (left > 0 && range_ok) {
    ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, static_cast<std::size_t>(left), 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) && left == size) {
      range_ok = false;
    } else if (n < 0) {
      throw util::sys_error("copy_file_range {}", where);
    } else if (n == 0) {
      return;  // the source shrank under us
    } else {
      left -= n;
    }
  }
  if (left == 0) return;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(src, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw util::sys_error("read {}", where);
    if (n == 0) return;
    util::write_all(util::Fd(dst), std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

class LayerApplier {
public:
  LayerApplier(int dest_root) : dest_root_(dest_root) {}

  void apply_dir(int src, int dst, const std::string& rel) {
    for (const auto& name : list_dir(src, rel)) {
      if (name == kOpaqueFile) continue;
      std::string child = rel.empty() ? name : rel + "/" + name;
      try {
        apply_entry(src, dst, name, child);
      } catch (...) {
        util::rethrow_with("apply {}", child);
      }
    }
  }

private:
  void apply_entry(int src_dir, int dst_dir, const std::string& name, const std::string& rel) {
    struct stat st;
    if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw util::sys_error("stat");
    struct stat old;
    bool exists = ::fstatat(dst_dir, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
    if (is_whiteout_mode(st.st_mode, st.st_rdev) || is_xattr_whiteout(src_dir, name, st)) {
      if (exists) remove_entry(dst_dir, name);
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd src(util::adopt, ::openat(src_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!src) throw util::sys_error("open");
      if (exists && (!S_ISDIR(old.st_mode) || is_opaque(src.get()))) {
        remove_entry(dst_dir, name);
        exists = false;
      }
      if (!exists && ::mkdirat(dst_dir, name.c_str(), 0700) < 0) throw util::sys_error("mkdir");
      UniqueFd dst(util::adopt, ::openat(dst_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dst) throw util::sys_error("open destination");
      if (exists) ::fchmod(dst.get(), (old.st_mode & 07777) | 0700);  // fill a 0555 directory
      apply_dir(src.get(), dst.get(), rel);
      copy_metadata(src.get(), dst.get(), st, rel);
      return;
    }
    if (exists) remove_entry(dst_dir, name);
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
      auto [it, fresh] = links_.try_emplace({st.st_dev, st.st_ino}, rel);
      if (!fresh && ::linkat(dest_root_, it->second.c_str(), dst_dir, name.c_str(), 0) == 0) return;
    }
    if (S_ISREG(st.st_mode)) {
      UniqueFd src(util::adopt, ::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!src) throw util::sys_error("open");
      UniqueFd dst(util::adopt,
                   ::openat(dst_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!dst) throw util::sys_error("create");
      copy_data(src.get(), dst.get(), st.st_size, rel);
      copy_metadata(src.get(), dst.get(), st, rel);
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
      if (n < 0) throw util::sys_error("readlink");
      target.resize(static_cast<std::size_t>(n));
      if (::symlinkat(target.c_str(), dst_dir, name.c_str()) < 0) throw util::sys_error("symlink");
    } else if (S_ISFIFO(st.st_mode)) {
      if (::mkfifoat(dst_dir, name.c_str(), st.st_mode & 07777) < 0) throw util::sys_error("mkfifo");
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      if (::mknodat(dst_dir, name.c_str(), st.st_mode, st.st_rdev) < 0) {
        if (errno != EPERM) throw util::sys_error("mknod");
        util::warn_once(fmt::format("vfs: device nodes skipped without privilege (first: {})", rel));
        return;
      }
    } else {
      return;  // sockets are not content
    }
    // Symlinks and special files: no fd to work through; metadata by name.
    set_owner(dst_dir, name.c_str(), st, AT_SYMLINK_NOFOLLOW);
    if (!S_ISLNK(st.st_mode) && ::fchmodat(dst_dir, name.c_str(), st.st_mode & 07777, 0) < 0)
      throw util::sys_error("chmod");
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(dst_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) < 0) throw util::sys_error("utimens");
  }

  int dest_root_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;  // source inode -> first copy (relative)
};

}  // namespace

bool is_whiteout_mode(unsigned mode, unsigned long long rdev) noexcept {
  return S_ISCHR(mode) && rdev == 0;
}

void apply_layer_dir(const fs::path& layer_dir, const fs::path& dest_dir) {
  try {
    UniqueFd src(util::adopt, ::open(layer_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!src) throw util::sys_error("open {}", layer_dir.string());
    UniqueFd dst(util::adopt, ::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dst) throw util::sys_error("open {}", dest_dir.string());
    struct stat st;
    if (::fstat(src.get(), &st) < 0) throw util::sys_error("stat {}", layer_dir.string());
    ::fchmod(dst.get(), 0700);
    LayerApplier applier(dst.get());
    applier.apply_dir(src.get(), dst.get(), "");
    copy_metadata(src.get(), dst.get(), st, "/");
  } catch (...) {
    util::rethrow_with("apply layer {} onto {}", layer_dir.string(), dest_dir.string());
  }
}

}  // namespace kiln::snapshot
