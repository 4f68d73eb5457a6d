// A seccomp filter compiled once: libseccomp turns a SeccompPlan into classic BPF,
// which is kept in a cache directory keyed by everything the program depends on
// (the plan, libseccomp's version and the native architecture), so later containers
// skip the compilation (most of the CPU a container start costs) and only load the
// bytes. Loading does what libseccomp's seccomp_load does: no_new_privs, then
// seccomp(SECCOMP_SET_MODE_FILTER) with no flags.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/seccomp_profile.hpp"

namespace kiln::runtime {

/// A compiled filter: the struct sock_filter array as raw bytes (8 bytes per instruction).
struct SeccompProgram {
  std::string bpf;
};

/// Compiles a plan with libseccomp (native architecture plus the plan's). Throws
/// kiln::Error(invalid_input) for an unknown architecture, std::system_error otherwise.
SeccompProgram compile_seccomp(const SeccompPlan& plan);

/// The cache key of a plan: sha256 hex of the plan's canonical text, libseccomp's
/// version and the native architecture (`build` names the latter two). Pure.
std::string seccomp_cache_key(const SeccompPlan& plan, std::string_view build);

/// The libseccomp version and native architecture, as seccomp_cache_key's `build`.
std::string seccomp_build_id();

/// A cache file's text for a program: a header line, the body's sha256, the body.
std::string seccomp_cache_entry(const SeccompProgram& program);

/// The program in a cache file's text; nullopt when the text is not a whole, intact
/// entry (truncated, corrupt, another format). Pure.
std::optional<SeccompProgram> parse_seccomp_cache_entry(std::string_view text);

/// compile_seccomp through `cache_dir` (created when missing; empty: no cache). A bad
/// or missing entry is compiled and written again; a cache that cannot be written is
/// only a debug message.
SeccompProgram cached_seccomp(const SeccompPlan& plan, const std::filesystem::path& cache_dir);

/// Installs a compiled program in the calling thread: sets no_new_privs, then loads
/// the filter. Async-signal-safe apart from the throw. Throws std::system_error.
void install_seccomp(const SeccompProgram& program);

}  // namespace kiln::runtime
