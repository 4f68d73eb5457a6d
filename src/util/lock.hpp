// FileLock: flock(2) on a lock file for the lifetime of the object, shared
// (readers) or exclusive (writers). Locks die with the process, so a kill -9
// never leaves a store locked.
#pragma once

#include <filesystem>

#include "util/fd.hpp"

namespace kiln::util {

class FileLock {
public:
  enum class Mode { shared, exclusive };
  FileLock() = default;
  /// Opens (creating) path and blocks until the lock is held; throws.
  FileLock(const std::filesystem::path& path, Mode mode);
  /// Non-blocking attempt: an empty (unlocked) FileLock when someone else holds it.
  static FileLock try_lock(const std::filesystem::path& path, Mode mode);

  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;

  bool held() const noexcept { return static_cast<bool>(fd_); }
  /// Releases early.
  void unlock() noexcept { fd_.reset(); }

private:
  UniqueFd fd_;
};

}  // namespace kiln::util
