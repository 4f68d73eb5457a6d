// What a container changed in its image: `kiln diff` prints it (A/C/D as
// `docker diff` does) and commit turns it into a layer. Overlay drivers read the
// rw layer's upper dir (whiteouts are deletions, opaque directories hide the
// lowers' entries, anything else is added or changed depending on the lowers);
// vfs compares the container's tree with a fresh copy of the image's layers.
// The mount points the runtime itself creates when the image lacks them (/proc,
// /sys, /dev, /etc/hosts, /etc/hostname, /etc/resolv.conf) are not changes, as
// Docker keeps them in a separate init layer. Runs inside kiln's user namespace.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "layer/diff.hpp"
#include "store/store.hpp"

namespace kiln::runtime {

/// The layer dirs of the container's image, TOP-MOST FIRST (a SnapshotPlan's lowers).
std::vector<std::filesystem::path> image_lowers(const store::Store& store, const store::ContainerRecord& record);

/// True for a path (relative, "etc/hosts") the runtime creates as a mount point, or below one.
bool is_runtime_mount_point(std::string_view path);

/// Changes in an overlay-format upper dir against lowers (top-most first), in tar order
/// (parents before children), paths relative. A directory that exists below counts as
/// changed when its owner or mode changed, when it is opaque, or when anything beneath it
/// changed. Runtime mount points the lowers lack are left out. Throws naming the path.
std::vector<layer::Change> upper_changes(const std::filesystem::path& upper,
                                         const std::vector<std::filesystem::path>& lowers);

/// The container's changes against its image (any driver), in tar order. Throws.
std::vector<layer::Change> container_changes(store::Store& store, const store::ContainerRecord& record);

/// `docker diff` lines: "A /new", "C /etc", "D /etc/group", sorted by path.
std::vector<std::string> diff_lines(const std::vector<layer::Change>& changes);

}  // namespace kiln::runtime
