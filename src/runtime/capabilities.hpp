// Capabilities: the set a container gets (Docker's default 14, changed by
// --cap-add/--cap-drop; pure, unit-tested) and applying it to the current
// process with libcap (bounding set, then effective/permitted/inheritable,
// ambient cleared).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/container_spec.hpp"

namespace kiln::runtime {

/// A set of capabilities as a bit mask (bit n = capability number n), as /proc prints it.
struct CapabilitySet {
  std::uint64_t bits = 0;
  bool has(int cap) const noexcept { return cap >= 0 && cap < 64 && (bits >> cap) & 1; }
  void add(int cap) noexcept { bits |= std::uint64_t{1} << cap; }
  void remove(int cap) noexcept { bits &= ~(std::uint64_t{1} << cap); }
  /// "CAP_CHOWN", ... in number order.
  std::vector<std::string> names() const;
  friend bool operator==(const CapabilitySet&, const CapabilitySet&) = default;
};

/// The highest capability number kiln knows (CAP_CHECKPOINT_RESTORE, 40).
inline constexpr int kLastKnownCapability = 40;

/// The number of a capability name: "chown", "CAP_CHOWN", "Cap_Chown" -> 0; nullopt if unknown.
std::optional<int> capability_number(std::string_view name);
/// "CAP_CHOWN" for 0; "CAP_<n>" for a number kiln has no name for.
std::string capability_name(int number);

/// Docker's default set: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID
/// SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE (0xa80425fb).
CapabilitySet docker_default_capabilities();
/// Every capability kiln knows (0..kLastKnownCapability).
CapabilitySet all_capabilities();

/// Docker's rules: "ALL" in add: everything but the drops; "ALL" in drop: only the adds;
/// otherwise (default - drop) + add. Throws kiln::Error(invalid_input)
/// `unknown capability: "CAP_FOO"`.
CapabilitySet compute_capabilities(const CapabilityChanges& changes);

/// The sets to install. Docker gives a non-root user an empty effective/permitted set
/// while the bounding set stays the container's set (what setuid binaries can gain).
struct CapabilityPlan {
  CapabilitySet bounding;
  CapabilitySet effective;
  CapabilitySet permitted;
  CapabilitySet inheritable;
  /// The kernel's highest capability (kernel_last_capability()), read before the
  /// container's /proc/sys exists.
  int last = kLastKnownCapability;
};
CapabilityPlan plan_capabilities(CapabilitySet set, uid_t uid);

/// /proc/sys/kernel/cap_last_cap, or kLastKnownCapability when unreadable.
int kernel_last_capability();

/// Installs a plan in the current process: raises effective to permitted (lost by the
/// setuid in switch_user), drops every other capability from the bounding set, sets the
/// three sets and clears the ambient set. Needs CAP_SETPCAP; throws std::system_error.
void apply_capabilities(const CapabilityPlan& plan);

}  // namespace kiln::runtime
