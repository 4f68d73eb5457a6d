// Creating layer tarballs from directories: a whole tree (an overlay upper dir
// or an extracted rootfs), or only the changes diff_trees found (vfs). Output is
// deterministic: pax tar, entries in sorted depth-first order, numeric ids with
// empty user/group names, only mtimes in whole seconds (optionally clamped), hardlinks by inode.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "layer/compress.hpp"
#include "layer/diff.hpp"
#include "util/digest.hpp"
#include "util/fd.hpp"

namespace kiln::layer {

struct CreateOptions {
  Compression compression = Compression::gzip;
  int level = 0;  // 0: the codec's default
  /// Clamp every mtime to at most this (SOURCE_DATE_EPOCH), for reproducible builds.
  std::optional<std::int64_t> source_date_epoch;
  /// dir is an overlay upper dir: whiteout devices / xattrs become ".wh.NAME",
  /// opaque dirs get ".wh..wh..opq", overlay xattrs are dropped.
  bool from_overlay_upper = false;
};

struct CreateResult {
  util::Digest diff_id;      // sha256 of the uncompressed tar
  util::Digest blob_digest;  // sha256 of what was written to out
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t entries = 0;
};

/// Writes everything below dir (not dir itself) as a layer to out (not owned,
/// written sequentially). Owners are the ids stat() reports (inside kiln's userns:
/// container ids). Sockets are skipped. Throws std::system_error naming the path.
CreateResult create_layer(const std::filesystem::path& dir, util::Fd out, const CreateOptions& options = {});

/// Writes only the changes (from diff_trees(lower, dir)) as a layer: added and
/// modified paths from dir with their parent directories, ".wh.NAME" for deletions.
CreateResult create_layer_from_changes(const std::filesystem::path& dir, const std::vector<Change>& changes,
                                       util::Fd out, const CreateOptions& options = {});

}  // namespace kiln::layer
