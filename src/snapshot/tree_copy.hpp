// Applying one layer directory (its own diff, overlay format: char 0/0 whiteouts or
// empty files with overlay.whiteout=y, directories with overlay.opaque=y) on top of a
// destination tree, as vfs needs it.
// Everything is copied: modes, owners, xattrs, symlinks, hardlinks within the
// layer, special files, timestamps; file data by reflink (FICLONE) when the file
// system can, else copy_file_range, else read/write.
#pragma once

#include <filesystem>

namespace kiln::snapshot {

/// Applies layer_dir onto dest_dir (which must exist): whiteouts remove, opaque
/// directories replace, other entries replace or (directories) merge. Never follows a
/// symlink inside dest_dir. chown failures with EPERM/EINVAL (single-id user namespace,
/// no privilege) and xattrs the file system refuses are ignored; the rest throws,
/// naming the path.
void apply_layer_dir(const std::filesystem::path& layer_dir, const std::filesystem::path& dest_dir);

/// True when a layer-dir entry is a whiteout: a character device with device number 0/0.
bool is_whiteout_mode(unsigned mode, unsigned long long rdev) noexcept;

}  // namespace kiln::snapshot
