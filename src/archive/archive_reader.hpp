// Reading the members of an image archive (docker-archive, oci-archive) or of an
// image directory (oci-dir) without trusting their names. A tar stream (plain,
// gzip, zstd, bzip2 or xz; from a file or a pipe) is read once, front to back, and
// every regular member is spooled into a directory of ours under a numbered name:
// member names are only ever keys of a map, never paths on disk. Symlinks and
// hardlinks between members are followed inside the archive. A directory source
// is read beneath its root (openat2 RESOLVE_IN_ROOT), so a link or a "../" in a
// name cannot reach outside it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "util/fd.hpp"

namespace kiln::archive {

namespace fs = std::filesystem;

/// Cleans a member name ("./a//b" -> "a/b"); nullopt when it is empty, names the root
/// or climbs above it ("../x", "a/../../x"). A leading "/" is dropped as tar does.
std::optional<std::string> clean_member_name(std::string_view name);

/// Resolves a link target found in member `from` (relative to its directory, or to the
/// archive root when absolute); nullopt when it climbs above the root.
std::optional<std::string> resolve_member_link(std::string_view from, std::string_view target);

class ArchiveReader {
public:
  /// Reads a whole tar stream (any supported compression) from fd, spooling regular
  /// members into spool_dir (which must exist and be empty). label names the archive in
  /// errors. Throws kiln::Error(invalid_input) for a corrupt or truncated stream (messages
  /// name the member, not the archive: the caller adds that).
  static ArchiveReader read_tar(util::Fd fd, const fs::path& spool_dir, std::string label);
  /// A directory holding an image layout; members are read from it on demand.
  static ArchiveReader open_dir(const fs::path& dir, const fs::path& spool_dir);

  ArchiveReader(ArchiveReader&&) noexcept = default;
  ~ArchiveReader();

  /// What errors say about the archive: its path, or "stdin".
  const std::string& label() const noexcept { return label_; }
  /// True when the member exists (after following links) as a regular file.
  bool has(std::string_view name) const;
  /// A member's whole content; throws kiln::Error(not_found) 'missing member "X"' and
  /// invalid_input when it is larger than limit (JSON members are small).
  std::string read(std::string_view name, std::uint64_t limit = 64u << 20) const;
  /// A new file inside the spool directory with the member's bytes (a hard link to the
  /// spooled copy, or a copy from a directory source): the caller may move or delete it.
  fs::path file(std::string_view name);
  std::uint64_t size(std::string_view name) const;

private:
  struct Member {
    enum class Kind { file, link } kind = Kind::file;
    std::string spooled;      // file: name inside spool_dir_ (tar sources)
    std::string target;       // link: the member it points at (clean)
    std::uint64_t size = 0;
  };
  ArchiveReader(std::string label, fs::path spool_dir) : label_(std::move(label)), spool_dir_(std::move(spool_dir)) {}
  // The clean name of the regular member name leads to; throws not_found.
  std::string resolve(std::string_view name) const;
  util::UniqueFd open_member(std::string_view name) const;

  std::string label_;
  fs::path spool_dir_;
  util::UniqueFd dir_;  // a directory source's root, else empty
  std::map<std::string, Member, std::less<>> members_;
  unsigned next_copy_ = 0;
};

}  // namespace kiln::archive
