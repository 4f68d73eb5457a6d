// Running a helper program found in PATH, with stdout and stderr captured.
// posix_spawn, not fork: safe in a process that has threads.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace kiln::snapshot {

/// Runs program (looked up in PATH) with args (args[0] included) in cwd (empty: ours),
/// stdin from /dev/null; waits. Returns the exit status (128+signal when killed) and
/// the combined output. Throws kiln::Error(not_found) when the program is missing.
std::pair<int, std::string> run_program(const char* program, const std::vector<std::string>& args,
                                        const std::filesystem::path& cwd);

}  // namespace kiln::snapshot
