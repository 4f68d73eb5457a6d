// The overlay mount option string and the short links that keep it small.
// mount(2) copies its data argument into one page, so an image with 150 layers
// under /home/someone/.local/share/kiln/layers/<64 hex>/diff cannot name its
// lowers directly. Each lower gets a symlink <links_dir>/<10 chars> derived from
// its path, and the mount runs with links_dir as working directory, so lowerdir
// lists only the 10-character relative names (11 bytes a layer with the colon).
// Pure functions here; the links themselves are made by make_short_links().
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::snapshot {

namespace fs = std::filesystem;

/// The largest mount data mount(2) accepts: one page including the final NUL.
inline constexpr std::size_t kMaxMountData = 4095;

/// Name of the empty directory inside links_dir used as a filler lower
/// (no lowers, or a read-only mount of a single lower: overlay wants two).
inline constexpr std::string_view kEmptyLowerName = "empty";

/// The short link name for a lower dir: 10 lowercase base32 characters of the
/// SHA-256 of its normalised path. Stable across processes; no state needed.
std::string short_link_name(const fs::path& lower);

/// Escapes the characters overlay's option parser treats specially (',' ':' '\').
std::string escape_overlay_path(std::string_view path);

/// Everything overlay's mount needs, with lowers given as names relative to links_dir.
struct OverlayOptions {
  std::vector<std::string> lower_names;  ///< top-most first
  fs::path upper;                        ///< empty for a read-only mount
  fs::path work;
  bool userxattr = true;                 ///< kernel overlay in a userns; off for fuse-overlayfs
  bool volatile_upper = false;           ///< ",volatile": no syncs of upper (Linux >= 5.10)
};

/// The lowers of a plan as link names, padded with kEmptyLowerName where overlay
/// needs it (none, or one lower without upper). Throws on duplicate short names.
std::vector<std::string> lower_link_names(const std::vector<fs::path>& lowers, bool read_only);

/// "lowerdir=a:b,upperdir=...,workdir=...[,userxattr][,volatile]". Throws kiln::Error(invalid_input)
/// when the result exceeds kMaxMountData, naming the number of layers.
std::string overlay_mount_data(const OverlayOptions& options);

/// Creates (or repairs) <links_dir>/<short name> -> lower for each lower and the empty
/// filler dir; safe against concurrent kiln processes making the same links. Throws.
void make_short_links(const fs::path& links_dir, const std::vector<fs::path>& lowers);

}  // namespace kiln::snapshot
