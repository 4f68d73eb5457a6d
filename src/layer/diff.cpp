// diff_trees: a merge walk over two directory trees, both read through fds
// without following symlinks.
#include "layer/diff.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util/dir.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::layer {

bool tar_order_less(const std::string& a, const std::string& b) {
  // '/' sorts before every other byte: "a/b" < "a.c", matching a sorted DFS.
  auto key = [](unsigned char c) { return c == '/' ? 0 : static_cast<int>(c) + 1; };
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [&](char x, char y) { return key(static_cast<unsigned char>(x)) <
                                                                   key(static_cast<unsigned char>(y)); });
}

namespace {

util::UniqueFd open_child_dir(util::Fd dir, const std::string& name) {
  int fd = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw util::sys_error("open {}", name);
  return util::UniqueFd(util::adopt, fd);
}

std::string read_link(util::Fd dir, const std::string& name) {
  std::string buf(4096, '\0');
  ssize_t n = ::readlinkat(dir.get(), name.c_str(), buf.data(), buf.size());
  if (n < 0) throw util::sys_error("readlink {}", name);
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

bool same_metadata(const struct stat& a, const struct stat& b) {
  return a.st_mode == b.st_mode && a.st_uid == b.st_uid && a.st_gid == b.st_gid &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         (S_ISDIR(a.st_mode) || a.st_size == b.st_size) &&
         ((!S_ISCHR(a.st_mode) && !S_ISBLK(a.st_mode)) || a.st_rdev == b.st_rdev);
}

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "/" + name;
}

void all_added(util::Fd dir, const std::string& prefix, std::vector<Change>& out) {
  for (const auto& name : util::sorted_entries(dir, "directory")) {
    std::string path = join(prefix, name);
    out.push_back({path, ChangeKind::added});
    struct stat st;
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw util::sys_error("stat {}", path);
    if (S_ISDIR(st.st_mode)) all_added(open_child_dir(dir, name), path, out);
  }
}

void compare(util::Fd lower, util::Fd upper, const std::string& prefix, std::vector<Change>& out) {
  auto lower_names = util::sorted_entries(lower, "directory");
  auto upper_names = util::sorted_entries(upper, "directory");
  std::size_t i = 0, j = 0;
  while (i < lower_names.size() || j < upper_names.size()) {
    bool take_lower = j == upper_names.size() || (i < lower_names.size() && lower_names[i] < upper_names[j]);
    bool take_upper = i == lower_names.size() || (j < upper_names.size() && upper_names[j] < lower_names[i]);
    if (take_lower) {
      out.push_back({join(prefix, lower_names[i++]), ChangeKind::deleted});
      continue;
    }
    const std::string& name = upper_names[j++];
    std::string path = join(prefix, name);
    struct stat ust;
    if (::fstatat(upper.get(), name.c_str(), &ust, AT_SYMLINK_NOFOLLOW) < 0) throw util::sys_error("stat {}", path);
    if (take_upper) {
      out.push_back({path, ChangeKind::added});
      if (S_ISDIR(ust.st_mode)) all_added(open_child_dir(upper, name), path, out);
      continue;
    }
    ++i;  // present on both sides
    struct stat lst;
    if (::fstatat(lower.get(), name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) < 0) throw util::sys_error("stat {}", path);
    bool same_type = (lst.st_mode & S_IFMT) == (ust.st_mode & S_IFMT);
    bool changed = !same_metadata(lst, ust) ||
                   (same_type && S_ISLNK(ust.st_mode) && read_link(lower, name) != read_link(upper, name));
    if (changed) out.push_back({path, ChangeKind::modified});
    if (S_ISDIR(ust.st_mode)) {
      if (same_type) compare(open_child_dir(lower, name), open_child_dir(upper, name), path, out);
      else all_added(open_child_dir(upper, name), path, out);
    }
  }
}

}  // namespace

std::vector<Change> diff_trees(const std::filesystem::path& lower, const std::filesystem::path& upper) {
  auto lower_fd = util::open_file(lower, O_RDONLY | O_DIRECTORY);
  auto upper_fd = util::open_file(upper, O_RDONLY | O_DIRECTORY);
  std::vector<Change> out;
  try {
    compare(lower_fd, upper_fd, "", out);
  } catch (...) {
    util::rethrow_with("compare {} with {}", upper.string(), lower.string());
  }
  return out;
}

}  // namespace kiln::layer
