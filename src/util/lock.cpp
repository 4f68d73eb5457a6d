// flock-based locks.
#include "util/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::util {

FileLock::FileLock(const std::filesystem::path& path, Mode mode) {
  fd_ = open_file(path, O_RDWR | O_CREAT, 0600);
  int op = mode == Mode::shared ? LOCK_SH : LOCK_EX;
  while (::flock(fd_.get(), op) < 0) {
    if (errno != EINTR) throw sys_error("lock {}", path.string());
  }
}

FileLock FileLock::try_lock(const std::filesystem::path& path, Mode mode) {
  FileLock lock;
  lock.fd_ = open_file(path, O_RDWR | O_CREAT, 0600);
  int op = (mode == Mode::shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  if (::flock(lock.fd_.get(), op) < 0) {
    if (errno == EWOULDBLOCK) return FileLock{};
    throw sys_error("lock {}", path.string());
  }
  return lock;
}

}  // namespace kiln::util
