// Staging entries in a store's tmp/: every write lands in one before rename(2)
// publishes it. An entry is a directory named <prefix>-<pid>-XXXXXX whose
// creator holds flock(2) on it for as long as it lives, so a sweeper can tell a
// live writer's entry (lock busy) from a crashed one's (lock free, pid gone)
// without trusting pids alone: pids are reused and may come from another pid
// namespace; locks die with their process.
#pragma once

#include <chrono>
#include <filesystem>
#include <string_view>
#include <vector>

#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::store {

namespace fs = std::filesystem;

/// A locked, uniquely named directory in tmp/, removed at scope exit unless keep() was called.
class StagingDir {
public:
  /// Creates tmp_dir/<prefix>-<pid>-XXXXXX and locks it; throws.
  StagingDir(const fs::path& tmp_dir, std::string_view prefix);
  StagingDir(StagingDir&&) noexcept = default;
  StagingDir& operator=(StagingDir&&) = delete;

  const fs::path& path() const noexcept { return dir_.path(); }
  /// Leaves the directory in place: its content was renamed away, or it became the
  /// published object itself (the lock is still released at scope exit).
  void keep() noexcept { dir_.keep(); }
  /// The descriptor holding the lock.
  int lock_fd() const noexcept { return lock_.get(); }

private:
  util::UniqueFd lock_;  // declared first: destroyed after the directory is removed
  util::TempDir dir_;
};

/// Deletes the entries in a child process of their own and returns at once: the caller
/// is about to exit and nobody waits for the deletion. The child keeps the entries
/// locked until they are gone (flock belongs to the open file, which fork shares), so
/// a sweep leaves them alone; should it die half-way, the next sweep finishes. Without
/// a child (fork failed) they are deleted here. Empties `entries` either way.
void remove_in_background(std::vector<StagingDir>& entries) noexcept;

/// The pid embedded in a staging entry's name, or 0 when the name has none.
int staging_owner_pid(std::string_view name) noexcept;

/// Removes every entry of tmp_dir whose lock is free and whose owner is dead (or that is
/// older than `grace`: a pid may have been reused). Returns the removed paths. Never throws
/// for a single entry it cannot remove; it is left for the next sweep.
std::vector<fs::path> sweep_staging(const fs::path& tmp_dir,
                                    std::chrono::seconds grace = std::chrono::seconds(600));

}  // namespace kiln::store
