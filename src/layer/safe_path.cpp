// Path cleaning and root-confined directory operations for layer extraction.
#include "layer/safe_path.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "util/error.hpp"

namespace kiln::layer {

std::optional<std::string> clean_entry_path(std::string_view name) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos <= name.size()) {
    auto slash = name.find('/', pos);
    if (slash == std::string_view::npos) slash = name.size();
    auto part = name.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      // Docker rejects any entry whose cleaned path climbs out ("breakout"); a ".."
      // that stays inside ("a/../b") is merely lexical and allowed.
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

std::pair<std::string, std::string> split_parent(const std::string& clean) {
  auto slash = clean.rfind('/');
  if (slash == std::string::npos) return {"", clean};
  return {clean.substr(0, slash), clean.substr(slash + 1)};
}

namespace {

// -1 with errno ENOSYS when the kernel predates openat2 (Linux < 5.6).
int openat2_in_root(int root, const char* path, int flags) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
    // EAGAIN: a concurrent rename raced the lookup; retrying is the documented answer.
  }
}

// Without openat2: walk one component at a time with O_NOFOLLOW. A symlink in a
// parent position is then refused (ELOOP/ENOTDIR) instead of being resolved; this
// is stricter than Docker but never unsafe.
int open_by_components(int root, const std::string& clean, int flags) {
  int fd = ::openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  std::size_t pos = 0;
  while (pos < clean.size()) {
    auto slash = clean.find('/', pos);
    if (slash == std::string::npos) slash = clean.size();
    std::string part = clean.substr(pos, slash - pos);
    pos = slash + 1;
    int last = pos >= clean.size();
    int next = ::openat(fd, part.c_str(), (last ? flags : O_PATH | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
    int saved = errno;
    ::close(fd);
    if (next < 0) {
      errno = saved;
      return -1;
    }
    fd = next;
  }
  return fd;
}

}  // namespace

util::UniqueFd open_dir_in_root(util::Fd root, const std::string& clean, int flags) {
  flags |= O_DIRECTORY;
  const char* path = clean.empty() ? "." : clean.c_str();
  int fd = openat2_in_root(root.get(), path, flags);
  if (fd < 0 && errno == ENOSYS) fd = open_by_components(root.get(), clean, flags);
  if (fd < 0) throw util::sys_error("open directory \"{}\" in the layer", clean);
  return util::UniqueFd(util::adopt, fd);
}

util::UniqueFd make_dirs_in_root(util::Fd root, const std::string& clean) {
  try {
    return open_dir_in_root(root, clean);
  } catch (const std::system_error& e) {
    if (e.code().value() != ENOENT) throw;
  }
  auto [parent, name] = split_parent(clean);
  auto parent_fd = make_dirs_in_root(root, parent);
  if (::mkdirat(parent_fd.get(), name.c_str(), 0755) < 0 && errno != EEXIST)
    throw util::sys_error("mkdir \"{}\" in the layer", clean);
  return open_dir_in_root(root, clean);
}

bool exists_at(util::Fd dir, const std::string& name, struct stat* st) {
  struct stat local;
  if (::fstatat(dir.get(), name.c_str(), st ? st : &local, AT_SYMLINK_NOFOLLOW) == 0) return true;
  if (errno == ENOENT) return false;
  throw util::sys_error("stat \"{}\"", name);
}

void remove_at(util::Fd dir, const std::string& name) {
  struct stat st;
  if (!exists_at(dir, name, &st)) return;
  if (S_ISDIR(st.st_mode)) {
    // Make sure we may list and unlink inside (layers hold 0555 directories).
    int fd = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && ::fchmodat(dir.get(), name.c_str(), 0700, 0) == 0)
      fd = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw util::sys_error("open \"{}\" for removal", name);
    util::UniqueFd child(util::adopt, fd);
    if ((st.st_mode & 0700) != 0700) ::fchmod(child.get(), 0700);
    DIR* d = ::fdopendir(::dup(child.get()));
    if (!d) throw util::sys_error("list \"{}\"", name);
    std::vector<std::string> names;
    while (auto* ent = ::readdir(d)) {
      std::string_view n = ent->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    for (const auto& n : names) remove_at(child, n);
    if (::unlinkat(dir.get(), name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
      throw util::sys_error("rmdir \"{}\"", name);
  } else if (::unlinkat(dir.get(), name.c_str(), 0) < 0 && errno != ENOENT) {
    throw util::sys_error("unlink \"{}\"", name);
  }
}

}  // namespace kiln::layer
