// File-system helpers used everywhere: whole-file reads, atomic publication
// (write to a temporary name beside the target, fsync, rename), directory
// creation and removal, and TempDir (a directory removed at scope exit).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "util/fd.hpp"

namespace kiln::util {

namespace fs = std::filesystem;

/// open(2) with O_CLOEXEC; throws std::system_error naming the path.
UniqueFd open_file(const fs::path& path, int flags, mode_t mode = 0644);
/// open(2) for reading; throws (not_found for ENOENT).
UniqueFd open_read(const fs::path& path);
/// Like open_read, but an absent file gives an empty UniqueFd.
UniqueFd try_open_read(const fs::path& path);
/// openat(2) relative to a directory fd, O_CLOEXEC; throws.
UniqueFd open_at(Fd dir, const fs::path& path, int flags, mode_t mode = 0644);

/// Reads a whole file; throws (not_found for ENOENT).
std::string read_file(const fs::path& path);
/// Reads a whole file, or nullopt when it does not exist.
std::optional<std::string> try_read_file(const fs::path& path);
/// Reads everything from a descriptor until EOF.
std::string read_all(Fd fd);
/// Writes all of data, retrying short writes and EINTR; throws.
void write_all(Fd fd, std::string_view data);

/// Publishes data at path atomically and durably: writes "<path>.tmp-<pid>-<n>" in the
/// same directory, fsyncs it, renames it over path, fsyncs the directory.
void write_file_atomic(const fs::path& path, std::string_view data, mode_t mode = 0644);
/// Like write_file_atomic without the fsyncs: readers see the old or the new content,
/// never a mix, but a power loss may lose the write. For files made again on demand.
void write_file_replace(const fs::path& path, std::string_view data, mode_t mode = 0644);
/// Creates path (which must not exist) with data, fsynced when durable (its directory
/// is not). For a directory nobody else reads yet, such as a staging entry, where the
/// temporary name and rename of write_file_atomic would only cost.
void write_new_file(const fs::path& path, std::string_view data, bool durable, mode_t mode = 0644);
/// rename(2) then fsync of the target's directory; throws.
void rename_durable(const fs::path& from, const fs::path& to);
/// fsync(2) of a file or directory by path; throws.
void fsync_path(const fs::path& path);

/// mkdir -p with the given mode for created directories; throws.
void make_dirs(const fs::path& path, mode_t mode = 0755);
/// rm -rf that copes with read-only directories inside (chmods as it goes); absent is fine.
void remove_tree(const fs::path& path) noexcept;
/// Same, but throws on failure.
void remove_tree_or_throw(const fs::path& path);

/// Bytes used by all regular files below a directory (hardlinks counted once).
std::uint64_t disk_usage(const fs::path& path);

/// A directory created with mkdtemp inside a parent, removed (recursively) when destroyed
/// unless keep() was called.
class TempDir {
public:
  /// Creates parent/<prefix>XXXXXX; throws.
  TempDir(const fs::path& parent, std::string_view prefix);
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();

  const fs::path& path() const noexcept { return path_; }
  /// Leaves the directory in place (after it was renamed away, for instance).
  void keep() noexcept { keep_ = true; }

private:
  fs::path path_;
  bool keep_ = false;
};

}  // namespace kiln::util
