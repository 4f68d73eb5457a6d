// Layers as the builder handles them: committing a directory (an overlay upper,
// or a tree the builder assembled) as a new layer in the store, finding a path
// in a stack of layer directories without mounting, and a mounted view of a
// stack (for RUN and COPY --from).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "layer/create.hpp"
#include "snapshot/snapshot.hpp"
#include "store/staging.hpp"
#include "store/store.hpp"

namespace kiln::build {

namespace fs = std::filesystem;

/// How commit_layer turns a directory into a layer.
struct CommitOptions {
  /// dir is an overlay / fuse-overlayfs upper dir (whiteouts, opaque markers).
  bool from_overlay_upper = false;
  /// dir is already in the store's layer-dir format and inside tmp/: move it into place
  /// instead of extracting the tarball again.
  bool move_dir = false;
  /// Clamp mtimes (SOURCE_DATE_EPOCH) and the record's time.
  std::optional<std::int64_t> timestamp;
};

/// Writes dir as a gzip layer blob on top of parent, publishes blob and layer dir, and
/// returns the record. With vfs changes (non-empty), only those paths are written.
store::LayerRecord commit_layer(store::Store& store, const fs::path& dir, const std::optional<util::Digest>& parent,
                                const CommitOptions& options, const std::vector<layer::Change>* changes = nullptr);

/// Layer dirs of a stack (chain ids base first), top-most first as SnapshotPlan wants.
std::vector<fs::path> lower_dirs(const store::Store& store, const std::vector<util::Digest>& layers);

/// The top-most layer dir holding rel (stopping at a whiteout), or nullopt. No mount.
std::optional<fs::path> find_in_layers(const store::Store& store, const std::vector<util::Digest>& layers,
                                       const std::string& rel);
/// The file's contents from the stack ("" when absent): /etc/passwd and friends.
std::string read_from_layers(const store::Store& store, const std::vector<util::Digest>& layers,
                             const std::string& rel);

/// A stack mounted somewhere in tmp/: read-only unless writable (then upper() collects
/// the changes; vfs: the whole tree). Unmounted and removed at scope exit.
class MountedStack {
public:
  MountedStack(store::Store& store, const std::string& driver, const std::vector<util::Digest>& layers,
               bool writable);
  MountedStack(MountedStack&&) noexcept = default;
  ~MountedStack();
  const fs::path& root() const noexcept { return root_; }
  const fs::path& upper() const noexcept { return upper_; }
  bool uses_upper() const noexcept { return uses_upper_; }
  /// Unmounts now (before the upper is read for a commit).
  void unmount();
  /// The staging dir holding everything (upper, work, target).
  const fs::path& staging() const { return staging_.path(); }
  /// Gives up the staging dir (its upper was moved into the store).
  void keep() { staging_.keep(); }

private:
  store::StagingDir staging_;
  snapshot::MountedSnapshot mount_;
  fs::path root_, upper_;
  bool uses_upper_ = false;
};

}  // namespace kiln::build
