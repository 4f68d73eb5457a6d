// Capability names, Docker's set arithmetic, and installing a set with libcap.
#include "runtime/capabilities.hpp"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <type_traits>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {
namespace {

// Index = capability number (linux/capability.h), without the CAP_ prefix.
constexpr std::array<std::string_view, kLastKnownCapability + 1> kNames = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"};

constexpr std::array<std::string_view, 14> kDockerDefaults = {
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
    "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"};

std::string normalize(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "ALL") return upper;
  return upper.starts_with("CAP_") ? upper : "CAP_" + upper;
}

bool contains_all(const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(), [](const std::string& n) { return normalize(n) == "ALL"; });
}

/// The set named by a list, ignoring "ALL" (handled by the caller); throws on unknown names.
CapabilitySet parse_list(const std::vector<std::string>& names) {
  CapabilitySet set;
  for (const auto& name : names) {
    if (normalize(name) == "ALL") continue;
    auto number = capability_number(name);
    if (!number) fail(ErrorKind::invalid_input, "unknown capability: \"{}\"", normalize(name));
    set.add(*number);
  }
  return set;
}

}  // namespace

int kernel_last_capability() {
  auto text = util::try_read_file("/proc/sys/kernel/cap_last_cap");
  if (!text) return kLastKnownCapability;
  try {
    return std::stoi(*text);
  } catch (const std::exception&) {
    return kLastKnownCapability;
  }
}

std::vector<std::string> CapabilitySet::names() const {
  std::vector<std::string> out;
  for (int cap = 0; cap < 64; ++cap)
    if (has(cap)) out.push_back(capability_name(cap));
  return out;
}

std::optional<int> capability_number(std::string_view name) {
  std::string wanted = normalize(name);
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (wanted.substr(4) == kNames[i]) return static_cast<int>(i);
  return std::nullopt;
}

std::string capability_name(int number) {
  if (number >= 0 && number <= kLastKnownCapability) return fmt::format("CAP_{}", kNames[static_cast<std::size_t>(number)]);
  return fmt::format("CAP_{}", number);
}

CapabilitySet docker_default_capabilities() {
  CapabilitySet set;
  for (auto name : kDockerDefaults) set.add(*capability_number(name));
  return set;
}

CapabilitySet all_capabilities() {
  CapabilitySet set;
  for (int cap = 0; cap <= kLastKnownCapability; ++cap) set.add(cap);
  return set;
}

CapabilitySet compute_capabilities(const CapabilityChanges& changes) {
  CapabilitySet add = parse_list(changes.add);
  CapabilitySet drop = parse_list(changes.drop);
  if (contains_all(changes.add)) return {all_capabilities().bits & ~drop.bits};
  if (contains_all(changes.drop)) return add;
  return {(docker_default_capabilities().bits & ~drop.bits) | add.bits};
}

CapabilityPlan plan_capabilities(CapabilitySet set, uid_t uid) {
  CapabilityPlan plan;
  plan.bounding = set;
  if (uid == 0) {
    plan.effective = set;
    plan.permitted = set;
    // inheritable stays empty, as in Docker since the fix for CVE-2022-24769.
  }
  return plan;
}

void apply_capabilities(const CapabilityPlan& plan) {
  using CapHandle = std::unique_ptr<std::remove_pointer_t<cap_t>, decltype([](cap_t c) { cap_free(c); })>;
  int last = plan.last;

  // After a setuid to non-root (with PR_SET_KEEPCAPS) only the permitted set survives:
  // raise the effective set from it so the bounding-set drops below are allowed.
  CapHandle current(cap_get_proc());
  if (!current) throw util::sys_error("cap_get_proc");
  for (int cap = 0; cap <= last; ++cap) {
    cap_flag_value_t value = CAP_CLEAR;
    cap_value_t v = cap;
    if (cap_get_flag(current.get(), v, CAP_PERMITTED, &value) == 0)
      cap_set_flag(current.get(), CAP_EFFECTIVE, 1, &v, value);
  }
  if (cap_set_proc(current.get()) < 0) throw util::sys_error("capset (raise effective)");

  for (int cap = 0; cap <= last; ++cap)
    if (!plan.bounding.has(cap) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      throw util::sys_error("prctl PR_CAPBSET_DROP {}", capability_name(cap));

  CapHandle wanted(cap_init());
  if (!wanted) throw util::sys_error("cap_init");
  for (int cap = 0; cap <= last; ++cap) {
    cap_value_t v = cap;
    if (plan.effective.has(cap)) cap_set_flag(wanted.get(), CAP_EFFECTIVE, 1, &v, CAP_SET);
    if (plan.permitted.has(cap)) cap_set_flag(wanted.get(), CAP_PERMITTED, 1, &v, CAP_SET);
    if (plan.inheritable.has(cap)) cap_set_flag(wanted.get(), CAP_INHERITABLE, 1, &v, CAP_SET);
  }
  if (cap_set_proc(wanted.get()) < 0) throw util::sys_error("capset");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    throw util::sys_error("prctl PR_CAP_AMBIENT_CLEAR_ALL");
}

}  // namespace kiln::runtime
