// A seccomp filter compiled once: libseccomp turns a SeccompPlan into classic BPF,
// which is kept in a cache directory keyed by everything the program depends on
// (the plan, libseccomp's version and the native architecture), so later containers
// skip the compilation (most of the CPU a container start costs) and only load the
// bytes. Loading is seccomp(SECCOMP_SET_MODE_FILTER) with no flags, as libseccomp's
// seccomp_load, but without its no_new_privs (Docker sets that only on request).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/container_spec.hpp"
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

/// Whether this kernel runs x32 system calls (CONFIG_X86_X32_ABI, and not turned off
/// with syscall.x32=n): asked once with an x32 getpid. True off x86_64, and when this
/// process already runs under a seccomp filter that might punish the question.
bool kernel_runs_x32() noexcept;

/// Leaves x32 out of a plan when the kernel has none: every x32 call fails with ENOSYS
/// there anyway, which the filter then answers itself (bad_arch_errno). A third fewer
/// instructions in Docker's default profile, which lists x86_64, x86 and x32.
void drop_unavailable_architectures(SeccompPlan& plan);

/// The program a container with this seccomp choice gets: nullopt for unconfined; else
/// the default profile or the named file, planned for the capabilities, the running
/// kernel and single_id, without the architectures the kernel lacks, compiled through
/// `cache_dir` (empty: no cache). The default profile is part of kiln's binary, so its
/// cache key is the binary's build id and those facts: a hit needs no plan at all.
std::optional<SeccompProgram> container_seccomp(const SeccompChoice& choice, bool single_id,
                                                const CapabilitySet& caps, const std::filesystem::path& cache_dir);

/// Installs a compiled program in the calling thread. It leaves no_new_privs alone
/// (Docker sets it only for --security-opt no-new-privileges), so the caller must either
/// hold CAP_SYS_ADMIN in its user namespace or have set no_new_privs itself.
/// Async-signal-safe apart from the throw. Throws std::system_error.
void install_seccomp(const SeccompProgram& program);

}  // namespace kiln::runtime
