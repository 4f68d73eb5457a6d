// Directory listings in name order (see dir.hpp).
#include "util/dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "util/error.hpp"

namespace kiln::util {

namespace {

// Reads and closes the directory stream d.
std::vector<std::string> read_sorted(DIR* d) {
  std::vector<std::string> names;
  while (auto* ent = ::readdir(d)) {
    std::string_view n = ent->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::vector<std::string> sorted_entries(Fd dir, std::string_view what) {
  // A descriptor of our own: closedir() closes it, the caller's stays open.
  int fd = ::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw sys_error("list {}", what);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    throw sys_error("list {}", what);
  }
  return read_sorted(d);
}

std::vector<std::string> sorted_entries(const std::filesystem::path& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw sys_error("list {}", dir.string());
  return read_sorted(d);
}

}  // namespace kiln::util
