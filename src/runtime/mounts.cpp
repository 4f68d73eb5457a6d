// Mount steps of container setup. Targets inside the rootfs are opened with
// openat2(RESOLVE_IN_ROOT) and mounted on through /proc/self/fd/N (the host's
// procfs, still visible before the pivot), as runc and crun do.
#include "runtime/mounts.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "snapshot/tree_copy.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace kiln::runtime {

const std::vector<std::string> kMaskedPaths = {
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap"};
const std::vector<std::string> kReadOnlyPaths = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

namespace {

enum class Kind { directory, file };

util::UniqueFd openat2_in_root(util::Fd root, const std::string& path, int flags) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root.get(), path.empty() ? "." : path.c_str(), &how, sizeof how);
  return util::UniqueFd{util::adopt, static_cast<int>(fd)};
}

/// A path inside the container as messages show it: with one leading slash.
std::string shown(std::string_view path) {
  while (path.starts_with('/')) path.remove_prefix(1);
  return "/" + std::string(path);
}

/// Opens (O_PATH) path beneath root as if root were "/", creating missing directories
/// and, for Kind::file, an empty last component. A dangling symlink on the way is
/// followed inside root and its target created, as runc does: an image whose
/// /etc/resolv.conf points to ../run/systemd/resolve/stub-resolv.conf gets that file.
util::UniqueFd open_target(util::Fd root, std::string_view path, Kind kind) {
  constexpr int kMaxLinks = 40;  // the kernel's own limit per lookup
  // The components still to walk, the next one last.
  std::vector<std::string> todo;
  auto push_front = [&todo](std::string_view more) {
    auto parts = util::split(more, '/');
    for (auto it = parts.rbegin(); it != parts.rend(); ++it)
      if (!it->empty() && *it != ".") todo.push_back(*it);
  };
  push_front(path);
  std::string walked;  // resolved by openat2(RESOLVE_IN_ROOT) at every use
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    bool last = todo.empty();
    std::string next = walked.empty() ? part : walked + "/" + part;
    auto fd = openat2_in_root(root, next, O_PATH);
    if (!fd && errno == ENOENT) {
      auto parent = openat2_in_root(root, walked, O_PATH | O_DIRECTORY);
      if (!parent) throw util::sys_error("open /{} in the container", walked);
      struct stat info {};
      if (::fstatat(parent.get(), part.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(info.st_mode)) {
        // A dangling link: walk its target from here (or from root), then the rest.
        if (++links > kMaxLinks) throw util::sys_error_code(ELOOP, "open {} in the container", shown(path));
        char target[4096];
        ssize_t n = ::readlinkat(parent.get(), part.c_str(), target, sizeof target - 1);
        if (n <= 0) throw util::sys_error("readlink /{} in the container", next);
        std::string_view link(target, static_cast<std::size_t>(n));
        if (link.starts_with('/')) walked.clear();
        push_front(link);
        continue;
      }
      if (last && kind == Kind::file) {
        int created = ::openat(parent.get(), part.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (created < 0 && errno != EEXIST) throw util::sys_error("create /{} in the container", next);
        util::UniqueFd closer{util::adopt, created};
      } else if (::mkdirat(parent.get(), part.c_str(), 0755) < 0 && errno != EEXIST) {
        throw util::sys_error("mkdir /{} in the container", next);
      }
      fd = openat2_in_root(root, next, O_PATH);
    }
    if (!fd) throw util::sys_error("open /{} in the container", next);
    walked = std::move(next);
  }
  if (walked.empty()) return openat2_in_root(root, "", O_PATH | O_DIRECTORY);
  return openat2_in_root(root, walked, O_PATH);
}

std::string fd_path(util::Fd fd) { return fmt::format("/proc/self/fd/{}", fd.get()); }

void mount_or_throw(const char* source, const std::string& target, const char* type, unsigned long flags,
                    const std::string& data, std::string_view shown_target) {
  if (::mount(source, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) < 0) {
    // The options are named: EINVAL from a --tmpfs option is about them, not the path.
    if (data.empty()) throw util::sys_error("mount {} on {}", type ? type : source, shown_target);
    throw util::sys_error("mount {} on {} with options \"{}\"", type ? type : source, shown_target, data);
  }
}

/// Mounts onto `path` inside root: resolves (creating) the target, mounts through its fd.
void mount_in_root(util::Fd root, const std::string& path, Kind kind, const char* source, const char* type,
                   unsigned long flags, const std::string& data = {}) {
  auto target = open_target(root, path, kind);
  mount_or_throw(source, fd_path(target), type, flags, data, path);
}

void symlink_in(util::Fd dir, const char* target, const char* name) {
  if (::symlinkat(target, dir.get(), name) < 0 && errno != EEXIST) throw util::sys_error("symlink /dev/{}", name);
}

/// A new volume takes what the image has at its destination: the directory's contents,
/// owner and mode (as Docker's and podman's copy-up); without a directory there, the
/// container user's ids, so a non-root USER can write its VOLUME (podman's rule). Runs
/// before the bind, in the user namespace, where the volume's directory is root's.
void populate_volume(util::Fd root, const MountSpec& m, const UserIds& user) {
  uid_t uid = user.uid;
  gid_t gid = user.gid;
  std::optional<mode_t> mode;
  auto image_dir = openat2_in_root(root, m.destination, O_PATH);
  struct stat info {};
  if (image_dir && ::fstat(image_dir.get(), &info) == 0 && S_ISDIR(info.st_mode)) {
    snapshot::apply_layer_dir(fd_path(image_dir), m.source);
    uid = info.st_uid;
    gid = info.st_gid;
    mode = info.st_mode & 07777;
  }
  // EINVAL: the id is not mapped (single-id mode); the volume stays root's there.
  if (::chown(m.source.c_str(), uid, gid) < 0 && errno != EINVAL && errno != EPERM)
    throw util::sys_error("chown {} to {}:{}", m.source, uid, gid);
  if (mode && ::chmod(m.source.c_str(), *mode) < 0) throw util::sys_error("chmod {}", m.source);
}

/// Number of path components: parents mount before their children.
std::size_t depth(const std::string& path) {
  return static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
}

}  // namespace

MountOptions parse_mount_options(std::string_view options) {
  struct Flag {
    std::string_view name;
    unsigned long set;
  };
  static constexpr Flag kFlags[] = {
      {"ro", MS_RDONLY}, {"nosuid", MS_NOSUID}, {"nodev", MS_NODEV}, {"noexec", MS_NOEXEC},
      {"noatime", MS_NOATIME}, {"nodiratime", MS_NODIRATIME}, {"relatime", MS_RELATIME},
      {"strictatime", MS_STRICTATIME}, {"sync", MS_SYNCHRONOUS}, {"dirsync", MS_DIRSYNC}};
  MountOptions out;
  for (auto& word : util::split(options, ',')) {
    auto item = util::trim(word);
    if (item.empty() || item == "rw" || item == "suid" || item == "dev" || item == "exec") continue;
    auto flag = std::find_if(std::begin(kFlags), std::end(kFlags), [&](const Flag& f) { return f.name == item; });
    if (flag != std::end(kFlags)) {
      out.flags |= flag->set;
      continue;
    }
    if (!out.data.empty()) out.data += ',';
    out.data += item;
  }
  return out;
}

void make_mounts_private() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) throw util::sys_error("make / private");
}

util::UniqueFd mount_rootfs(const std::string& rootfs) {
  mount_or_throw(rootfs.c_str(), rootfs, nullptr, MS_BIND | MS_REC, {}, rootfs);
  auto fd = util::UniqueFd{util::adopt, ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
  if (!fd) throw util::sys_error("open {}", rootfs);
  return fd;
}

void mount_proc_dev_sys(util::Fd root, NetworkMode network) {
  mount_in_root(root, "proc", Kind::directory, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);

  // /dev: a small tmpfs; device nodes cannot be created in a user namespace, so the
  // host's harmless ones are bound in.
  mount_in_root(root, "dev", Kind::directory, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
    std::string host = fmt::format("/dev/{}", node);
    mount_in_root(root, "dev/" + std::string(node), Kind::file, host.c_str(), nullptr, MS_BIND);
  }
  // gid=5 (tty) exists only when the user namespace maps it.
  auto pts = open_target(root, "dev/pts", Kind::directory);
  if (::mount("devpts", fd_path(pts).c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0)
    mount_or_throw("devpts", fd_path(pts), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
                   "/dev/pts");
  auto dev = open_target(root, "dev", Kind::directory);
  auto dev_dir = util::UniqueFd{util::adopt, ::openat(dev.get(), ".", O_DIRECTORY | O_CLOEXEC)};
  if (!dev_dir) throw util::sys_error("open /dev in the container");
  symlink_in(dev_dir, "pts/ptmx", "ptmx");
  symlink_in(dev_dir, "/proc/self/fd", "fd");
  symlink_in(dev_dir, "/proc/self/fd/0", "stdin");
  symlink_in(dev_dir, "/proc/self/fd/1", "stdout");
  symlink_in(dev_dir, "/proc/self/fd/2", "stderr");
  mount_in_root(root, "dev/shm", Kind::directory, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=1777,size=65536k");
  try {
    mount_in_root(root, "dev/mqueue", Kind::directory, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  } catch (const std::exception& e) {
    util::debug("no /dev/mqueue: {}", util::describe(e));
  }

  // sysfs can only be mounted by the owner of the network namespace; with the host's
  // network the host's /sys is bound instead. Read-only either way.
  if (network == NetworkMode::none) {
    try {
      mount_in_root(root, "sys", Kind::directory, "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
      return;
    } catch (const std::exception& e) {
      util::debug("sysfs refused, binding the host's /sys: {}", util::describe(e));
    }
  }
  mount_in_root(root, "sys", Kind::directory, "/sys", nullptr, MS_BIND | MS_REC);
  // Reopened: a descriptor taken before the mount names the directory beneath it.
  remount_read_only(fd_path(open_target(root, "sys", Kind::directory)));
}

void mount_volumes(util::Fd root, const std::vector<MountSpec>& mounts, const UserIds& user) {
  std::vector<const MountSpec*> ordered;
  for (const auto& m : mounts) ordered.push_back(&m);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const MountSpec* a, const MountSpec* b) { return depth(a->destination) < depth(b->destination); });
  for (const MountSpec* m : ordered) {
    try {
      if (m->type == MountSpec::Type::tmpfs) {
        auto options = parse_mount_options(m->options);
        unsigned long flags = options.flags | MS_NOSUID | MS_NODEV;
        mount_in_root(root, m->destination, Kind::directory, "tmpfs", "tmpfs", flags, options.data);
        continue;
      }
      if (m->populate) populate_volume(root, *m, user);
      struct stat source {};
      if (::stat(m->source.c_str(), &source) < 0) throw util::sys_error("stat {}", m->source);
      auto target = open_target(root, m->destination, S_ISDIR(source.st_mode) ? Kind::directory : Kind::file);
      mount_or_throw(m->source.c_str(), fd_path(target), nullptr, MS_BIND | MS_REC, {}, m->destination);
      // Reopened: a descriptor taken before the mount names the directory beneath it.
      if (m->read_only) remount_read_only(fd_path(open_target(root, m->destination, Kind::directory)));
    } catch (...) {
      util::rethrow_with("mount {}", m->destination);
    }
  }
}

void pivot_into(const std::string& rootfs) {
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching the top
  // of "." then leaves only the container's root, with no directory to spare for it.
  if (::chdir(rootfs.c_str()) < 0) throw util::sys_error("chdir {}", rootfs);
  if (::syscall(SYS_pivot_root, ".", ".") < 0) throw util::sys_error("pivot_root {}", rootfs);
  if (::umount2(".", MNT_DETACH) < 0) throw util::sys_error("detach the old root");
  if (::chdir("/") < 0) throw util::sys_error("chdir /");
}

void remount_root_read_only() { remount_read_only("/"); }

void remount_read_only(const std::string& path) {
  struct statvfs info {};
  if (::statvfs(path.c_str(), &info) < 0) throw util::sys_error("statvfs {}", path);
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
  if (info.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (info.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (info.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (info.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (info.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  if (::mount(nullptr, path.c_str(), nullptr, flags, nullptr) < 0) throw util::sys_error("remount {} read-only", path);
}

void mask_paths() {
  for (const auto& path : kMaskedPaths) {
    struct stat info {};
    if (::stat(path.c_str(), &info) < 0) continue;  // absent on this kernel: nothing to hide
    if (S_ISDIR(info.st_mode)) {
      mount_or_throw("tmpfs", path, "tmpfs", MS_RDONLY, "size=0", path);
    } else {
      mount_or_throw("/dev/null", path, nullptr, MS_BIND, {}, path);
    }
  }
  for (const auto& path : kReadOnlyPaths) {
    if (::access(path.c_str(), F_OK) < 0) continue;
    mount_or_throw(path.c_str(), path, nullptr, MS_BIND | MS_REC, {}, path);
    remount_read_only(path);
  }
}

}  // namespace kiln::runtime
