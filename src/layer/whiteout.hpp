// Whiteouts in their two spellings. In a layer tarball (OCI image spec), ".wh.NAME"
// deletes NAME from the layers below and ".wh..wh..opq" makes its directory
// opaque. On disk, for overlayfs, a deletion is a 0/0 character device (or, where
// mknod is refused, an empty file with the overlay.whiteout xattr, which needs the
// overlay.opaque=x marker on its parent) and an opaque directory carries
// overlay.opaque=y. Rootless overlay (mount option userxattr) reads the user.*
// names; overlay mounted by real root reads trusted.*: kiln writes both where it can.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "util/fd.hpp"

namespace kiln::layer {

inline constexpr std::string_view kWhiteoutPrefix = ".wh.";
inline constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
inline constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
/// The char 0/0 device fuse-overlayfs leaves (with an empty kOpaqueMarker file) in an
/// opaque directory of its upper dir.
inline constexpr std::string_view kFuseOpaqueWhiteout = ".wh..opq";

/// True for xattr names that carry overlayfs metadata (user.overlay.*, trusted.overlay.*,
/// fuse-overlayfs' user.fuseoverlayfs.*): never taken from a tarball, never written into one.
bool is_overlay_xattr(std::string_view name);
/// True for the entries fuse-overlayfs leaves in an opaque directory of its upper dir
/// (kOpaqueMarker, kFuseOpaqueWhiteout): markers, not content.
bool is_fuse_overlay_marker(std::string_view name);

/// Creates an overlay whiteout for name inside dir (which must not hold name): a 0/0
/// char device, or an xattr whiteout when mknod is not permitted. Throws.
void make_overlay_whiteout(util::Fd dir, const std::string& name);
/// Marks an open (not O_PATH) directory opaque for overlayfs. Throws.
void mark_overlay_opaque(util::Fd dir);

/// True when st (with the open file fd, or -1) is an overlay whiteout on disk.
bool is_overlay_whiteout(const struct stat& st, util::Fd fd);
/// True when the open directory is opaque in an upper dir: overlay.opaque=y,
/// user.fuseoverlayfs.opaque=y, or fuse-overlayfs' marker entries inside it.
bool is_overlay_opaque(util::Fd dir);

}  // namespace kiln::layer
