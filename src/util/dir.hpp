// Directory listings in name order: what layer creation, layer diffs and the build
// context need to walk a tree deterministically.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.hpp"

namespace kiln::util {

/// The entries of the open directory `dir` (without . and ..), sorted by name. `what`
/// names the directory in the error thrown when it cannot be read.
std::vector<std::string> sorted_entries(Fd dir, std::string_view what);

/// The same for a directory given by path.
std::vector<std::string> sorted_entries(const std::filesystem::path& dir);

}  // namespace kiln::util
