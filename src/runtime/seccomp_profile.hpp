// Seccomp profiles as data: kiln's built-in profile (the behaviour of Docker's
// default: an allowlist, EPERM for the rest, capability-gated extras), Docker's
// JSON profile format read into the same structure, and the plan that selects the
// rules for a capability set and architecture. Pure; seccomp_filter.cpp loads a
// plan with libseccomp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/capabilities.hpp"

namespace kiln::runtime {

enum class SeccompAction { allow, errno_return, kill_thread, kill_process, trap, trace, log };

/// One argument condition; ops as libseccomp's SCMP_CMP_*.
struct SeccompArg {
  enum class Op { ne, lt, le, eq, ge, gt, masked_eq };
  unsigned index = 0;
  std::uint64_t value = 0;
  std::uint64_t value_two = 0;  // masked_eq: (arg & value) == value_two
  Op op = Op::eq;
  friend bool operator==(const SeccompArg&, const SeccompArg&) = default;
};

/// Conditions under which a rule applies (Docker's includes/excludes).
struct SeccompFilter {
  std::vector<std::string> caps;    // "CAP_SYS_ADMIN"
  std::vector<std::string> arches;  // Go names: "amd64", "386", "arm64"...
  std::string min_kernel;           // "4.8"; includes only
};

struct SeccompRule {
  std::vector<std::string> names;
  SeccompAction action = SeccompAction::allow;
  std::optional<int> errno_ret;  // errno_return: the errno; EPERM when absent (as runc)
  std::vector<SeccompArg> args;  // all must hold (AND)
  SeccompFilter includes;        // all listed must be present
  SeccompFilter excludes;        // none listed may be present
};

struct SeccompProfile {
  SeccompAction default_action = SeccompAction::errno_return;
  int default_errno = 1;  // EPERM
  /// libseccomp names of the architectures the filter covers ("x86_64", "x86", "x32");
  /// empty: the native one only.
  std::vector<std::string> architectures;
  std::vector<SeccompRule> rules;
};

/// kiln's default profile: Docker's default behaviour written as kiln's own data.
const SeccompProfile& default_seccomp_profile();

/// Reads Docker's JSON profile format (defaultAction, defaultErrnoRet, architectures or
/// archMap, syscalls[names|name, action, errnoRet, args, includes, excludes]).
/// Throws kiln::Error(invalid_input) naming `what` and the offending field.
SeccompProfile parse_seccomp_profile(std::string_view json_text, std::string_view what);

/// One syscall's rule after selection, ready for libseccomp.
struct SeccompPlanRule {
  std::string syscall;
  SeccompAction action = SeccompAction::allow;
  int errno_ret = 0;
  std::vector<SeccompArg> args;
  friend bool operator==(const SeccompPlanRule&, const SeccompPlanRule&) = default;
};

struct SeccompPlan {
  SeccompAction default_action = SeccompAction::errno_return;
  int default_errno = 1;
  std::vector<std::string> architectures;
  std::vector<SeccompPlanRule> rules;
  /// For a call of an architecture the filter leaves out: 0 is libseccomp's default
  /// (kill the thread); else fail with this errno.
  int bad_arch_errno = 0;
};

/// The Go name of the architecture kiln was built for ("amd64", "arm64"...), as profiles
/// includes/excludes name them.
std::string native_go_arch();

/// Where a plan is made: capabilities the container holds, the Go name of the native
/// architecture, the running kernel's version ("6.1"), and whether chown must be faked.
struct SeccompContext {
  CapabilitySet caps;
  std::string arch = native_go_arch();
  std::string kernel;  // empty: every minKernel condition holds
  bool single_id = false;
};

/// Selects the rules that apply in a context. With single_id, chown, fchown, lchown,
/// fchownat (and chown32, fchown32, lchown32) return 0 without doing anything and every
/// other rule for them is left out.
SeccompPlan plan_seccomp(const SeccompProfile& profile, const SeccompContext& context);

/// The running kernel's "major.minor" from uname(2).
std::string running_kernel_version();

}  // namespace kiln::runtime
