// The three Snapshotter implementations, visible to snapshot.cpp (the factory and
// the probe) and to tests; callers use make_snapshotter() instead.
#pragma once

#include <memory>

#include "snapshot/snapshot.hpp"

namespace kiln::snapshot {

/// Kernel overlayfs with userxattr, lowers through short links (overlay_snapshot.cpp).
std::unique_ptr<Snapshotter> make_overlay_snapshotter();
/// The fuse-overlayfs program (fuse_snapshot.cpp).
std::unique_ptr<Snapshotter> make_fuse_snapshotter();
/// Full copies (vfs_snapshot.cpp).
std::unique_ptr<Snapshotter> make_vfs_snapshotter();

/// Throws kiln::Error naming /dev/fuse and the fix when it cannot be opened read-write.
void check_dev_fuse();

}  // namespace kiln::snapshot
