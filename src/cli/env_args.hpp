// Environment variables from the command line, as docker and podman read them:
// -e NAME=VALUE, -e NAME (taken from kiln's own environment, left out when unset),
// and --env-file FILE (one entry a line; blank lines and # comments skipped).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln::cli {

/// Appends one -e entry to env. Throws kiln::Error (invalid_input) for an empty name.
void add_env_arg(std::vector<std::string>& env, std::string_view entry);

/// Parses the text of an --env-file named `path` (for messages). Throws kiln::Error with
/// "path:line" for an empty name or a name with white space in it, as docker refuses them.
std::vector<std::string> parse_env_file(std::string_view text, std::string_view path);

/// Reads and parses an --env-file. Throws kiln::Error naming the file.
std::vector<std::string> read_env_file(const std::string& path);

}  // namespace kiln::cli
