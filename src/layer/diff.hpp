// Comparing two directory trees for the vfs driver: what changed between the
// merged lower layers (a lower copy) and the container's tree after a RUN step.
// Files count as changed when type, mode, owner, size, mtime (to the nanosecond),
// device number or symlink target differ; content is not compared, so copies
// must keep mtimes (as `cp -a` does).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace kiln::layer {

enum class ChangeKind { added, modified, deleted };

/// One changed path, relative to the trees' roots ("etc/passwd").
struct Change {
  std::string path;
  ChangeKind kind;
  friend bool operator==(const Change&, const Change&) = default;
};

/// Changes that turn lower into upper, in tar order (parents before children, names
/// sorted bytewise). Everything below an added directory is listed as added; only
/// the top of a deleted subtree is listed. Throws std::system_error naming the path.
std::vector<Change> diff_trees(const std::filesystem::path& lower, const std::filesystem::path& upper);

/// Orders paths as a depth-first walk with sorted names does ("a", "a/b", "a.c").
bool tar_order_less(const std::string& a, const std::string& b);

}  // namespace kiln::layer
