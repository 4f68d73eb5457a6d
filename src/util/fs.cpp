// File-system helpers: durable writes and recursive removal.
#include "util/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <unordered_set>

#include "util/error.hpp"

namespace kiln::util {

UniqueFd open_file(const fs::path& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw sys_error("open {}", path.string());
  return UniqueFd(adopt, fd);
}

UniqueFd open_read(const fs::path& path) { return open_file(path, O_RDONLY); }

UniqueFd try_open_read(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    throw sys_error("open {}", path.string());
  }
  return UniqueFd(adopt, fd);
}

UniqueFd open_at(Fd dir, const fs::path& path, int flags, mode_t mode) {
  int fd = ::openat(dir.get(), path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw sys_error("open {}", path.string());
  return UniqueFd(adopt, fd);
}

std::string read_all(Fd fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("read");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string read_file(const fs::path& path) {
  auto fd = open_read(path);
  try {
    return read_all(fd);
  } catch (...) {
    rethrow_with("read {}", path.string());
  }
}

std::optional<std::string> try_read_file(const fs::path& path) {
  auto fd = try_open_read(path);
  if (!fd) return std::nullopt;
  return read_all(fd);
}

void write_all(Fd fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void fsync_path(const fs::path& path) {
  auto fd = open_file(path, O_RDONLY);
  if (::fsync(fd.get()) < 0) throw sys_error("fsync {}", path.string());
}

void rename_durable(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) < 0)
    throw sys_error("rename {} to {}", from.string(), to.string());
  fsync_path(to.parent_path().empty() ? fs::path(".") : to.parent_path());
}

namespace {

// Writes data to a temporary beside path and renames it over path; with durable, the
// temporary and then the directory are fsynced.
void replace_file(const fs::path& path, std::string_view data, mode_t mode, bool durable) {
  static std::atomic<unsigned> counter{0};
  fs::path tmp = path;
  tmp += fmt::format(".tmp-{}-{}", ::getpid(), counter++);
  try {
    auto fd = open_file(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
    write_all(fd, data);
    if (durable && ::fsync(fd.get()) < 0) throw sys_error("fsync {}", tmp.string());
  } catch (...) {
    ::unlink(tmp.c_str());
    rethrow_with("write {}", path.string());
  }
  try {
    if (durable) {
      rename_durable(tmp, path);
    } else if (::rename(tmp.c_str(), path.c_str()) < 0) {
      throw sys_error("rename {} to {}", tmp.string(), path.string());
    }
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view data, mode_t mode) {
  replace_file(path, data, mode, true);
}

void write_file_replace(const fs::path& path, std::string_view data, mode_t mode) {
  replace_file(path, data, mode, false);
}

void write_new_file(const fs::path& path, std::string_view data, bool durable, mode_t mode) {
  try {
    auto fd = open_file(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    try {
      write_all(fd, data);
      if (durable && ::fsync(fd.get()) < 0) throw sys_error("fsync");
    } catch (...) {
      ::unlink(path.c_str());
      throw;
    }
  } catch (...) {
    rethrow_with("write {}", path.string());
  }
}

void make_dirs(const fs::path& path, mode_t mode) {
  if (path.empty()) return;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return;
    throw sys_error_code(ENOTDIR, "mkdir {}", path.string());
  }
  make_dirs(path.parent_path(), mode);
  if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) throw sys_error("mkdir {}", path.string());
}

namespace {

// Removes a tree; directories without write/search permission are chmodded first
// (image layers may contain 0555 directories owned by us).
void remove_tree_impl(const fs::path& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return;
    throw sys_error("stat {}", path.string());
  }
  if (S_ISDIR(st.st_mode)) {
    if ((st.st_mode & 0700) != 0700) ::chmod(path.c_str(), st.st_mode | 0700);
    std::error_code ec;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
      remove_tree_impl(it->path());
    if (::rmdir(path.c_str()) < 0 && errno != ENOENT) throw sys_error("rmdir {}", path.string());
  } else if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
    throw sys_error("unlink {}", path.string());
  }
}

}  // namespace

void remove_tree_or_throw(const fs::path& path) { remove_tree_impl(path); }

void remove_tree(const fs::path& path) noexcept {
  try {
    remove_tree_impl(path);
  } catch (...) {
  }
}

std::uint64_t disk_usage(const fs::path& path) {
  std::uint64_t total = 0;
  std::unordered_set<std::uint64_t> seen_inodes;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) < 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_nlink > 1 && !seen_inodes.insert(st.st_ino).second) continue;
    total += static_cast<std::uint64_t>(st.st_size);
  }
  return total;
}

TempDir::TempDir(const fs::path& parent, std::string_view prefix) {
  std::string templ = (parent / fmt::format("{}XXXXXX", prefix)).string();
  if (::mkdtemp(templ.data()) == nullptr) throw sys_error("mkdtemp {}", templ);
  path_ = templ;
}

TempDir::TempDir(TempDir&& other) noexcept
    : path_(std::move(other.path_)), keep_(std::exchange(other.keep_, true)) {}

TempDir::~TempDir() {
  if (!keep_ && !path_.empty()) remove_tree(path_);
}

}  // namespace kiln::util
