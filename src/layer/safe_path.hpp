// Path safety for layer extraction: turning a tar entry name into a clean path
// relative to the layer root, and reaching, creating and removing things beneath
// a root directory fd without ever leaving it. Parent lookups go through
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): a symlink met on the way is
// followed as if the root were "/" (the chroot semantics Docker's extraction
// has), so neither "../" nor an absolute or relative symlink can lead outside.
// The final component of a path is never followed.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "util/fd.hpp"

namespace kiln::layer {

/// Cleans a tar entry name: strips leading '/' and "./", drops "." components and
/// repeated slashes, resolves ".." lexically. Returns "" for the root itself and
/// nullopt when ".." would climb above the root (the caller rejects the entry).
std::optional<std::string> clean_entry_path(std::string_view name);

/// Splits a clean path into parent ("" for the root) and last component.
std::pair<std::string, std::string> split_parent(const std::string& clean);

/// Opens the directory at a clean relative path beneath root (O_PATH, or flags), resolving symlinks inside the root only. Throws
/// std::system_error (ENOENT, ENOTDIR, EXDEV...) naming the path.
util::UniqueFd open_dir_in_root(util::Fd root, const std::string& clean, int flags = O_PATH);

/// Like open_dir_in_root, but creates missing directories (mode 0755, owned by the
/// caller) one component at a time, as Docker does for parents a tar does not list.
util::UniqueFd make_dirs_in_root(util::Fd root, const std::string& clean);

/// Removes name inside dir (recursively for a directory) without following any
/// symlink; absent is fine. Throws on other failures.
void remove_at(util::Fd dir, const std::string& name);

/// True if something (of any type) exists at dir/name; never follows a symlink.
bool exists_at(util::Fd dir, const std::string& name, struct stat* st = nullptr);

}  // namespace kiln::layer
