// Docker's JSON seccomp profile format read into kiln's SeccompProfile, and the
// selection of rules for a container's capabilities, architecture and kernel.
#include "runtime/seccomp_profile.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "util/error.hpp"
#include "util/json.hpp"

namespace kiln::runtime {
namespace {

// libseccomp's architecture names (seccomp_arch_resolve_name).
constexpr std::string_view kArchitectures[] = {
    "x86", "x86_64", "x32", "arm", "aarch64", "loongarch64", "mips", "mips64", "mips64n32",
    "mipsel", "mipsel64", "mipsel64n32", "ppc", "ppc64", "ppc64le", "s390", "s390x",
    "parisc", "parisc64", "riscv64"};

[[noreturn]] void bad(std::string_view what, std::string_view detail) {
  fail(ErrorKind::invalid_input, "{}: invalid seccomp profile: {}", what, detail);
}

SeccompAction parse_action(const Json& value, std::string_view what) {
  if (!value.is_string()) bad(what, "action must be a string");
  auto name = value.get<std::string>();
  if (name == "SCMP_ACT_ALLOW") return SeccompAction::allow;
  if (name == "SCMP_ACT_ERRNO") return SeccompAction::errno_return;
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SeccompAction::kill_thread;
  if (name == "SCMP_ACT_KILL_PROCESS") return SeccompAction::kill_process;
  if (name == "SCMP_ACT_TRAP") return SeccompAction::trap;
  if (name == "SCMP_ACT_TRACE") return SeccompAction::trace;
  if (name == "SCMP_ACT_LOG") return SeccompAction::log;
  bad(what, fmt::format("unsupported action \"{}\"", name));
}

SeccompArg::Op parse_op(const std::string& name, std::string_view what) {
  using Op = SeccompArg::Op;
  if (name == "SCMP_CMP_NE") return Op::ne;
  if (name == "SCMP_CMP_LT") return Op::lt;
  if (name == "SCMP_CMP_LE") return Op::le;
  if (name == "SCMP_CMP_EQ") return Op::eq;
  if (name == "SCMP_CMP_GE") return Op::ge;
  if (name == "SCMP_CMP_GT") return Op::gt;
  if (name == "SCMP_CMP_MASKED_EQ") return Op::masked_eq;
  bad(what, fmt::format("unknown argument operator \"{}\"", name));
}

/// "SCMP_ARCH_X86_64" -> "x86_64"; throws on an architecture libseccomp does not know.
std::string parse_arch(const Json& value, std::string_view what) {
  if (!value.is_string()) bad(what, "architecture must be a string");
  auto name = value.get<std::string>();
  std::string short_name = name.starts_with("SCMP_ARCH_") ? name.substr(10) : name;
  for (auto& c : short_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (std::find(std::begin(kArchitectures), std::end(kArchitectures), short_name) == std::end(kArchitectures))
    bad(what, fmt::format("unknown architecture \"{}\"", name));
  return short_name;
}

std::vector<std::string> string_list(const Json& object, const char* key, std::string_view what) {
  std::vector<std::string> out;
  if (!object.contains(key) || object[key].is_null()) return out;
  if (!object[key].is_array()) bad(what, fmt::format("\"{}\" must be a list of strings", key));
  for (const auto& item : object[key]) {
    if (!item.is_string()) bad(what, fmt::format("\"{}\" must be a list of strings", key));
    out.push_back(item.get<std::string>());
  }
  return out;
}

SeccompFilter parse_filter(const Json& object, std::string_view what) {
  SeccompFilter filter;
  if (object.is_null()) return filter;
  if (!object.is_object()) bad(what, "includes/excludes must be objects");
  filter.caps = string_list(object, "caps", what);
  for (auto& cap : filter.caps)
    if (!cap.starts_with("CAP_")) cap = "CAP_" + cap;
  filter.arches = string_list(object, "arches", what);
  if (object.contains("minKernel") && object["minKernel"].is_string())
    filter.min_kernel = object["minKernel"].get<std::string>();
  return filter;
}

SeccompArg parse_arg(const Json& object, std::string_view what) {
  if (!object.is_object()) bad(what, "args entries must be objects");
  SeccompArg arg;
  try {
    arg.index = object.at("index").get<unsigned>();
    arg.value = object.value("value", std::uint64_t{0});
    arg.value_two = object.value("valueTwo", std::uint64_t{0});
    arg.op = parse_op(object.at("op").get<std::string>(), what);
  } catch (const Json::exception& e) {
    bad(what, fmt::format("bad argument condition: {}", e.what()));
  }
  if (arg.index > 5) bad(what, fmt::format("argument index {} out of range (0-5)", arg.index));
  return arg;
}

/// "6.1.0-13-amd64" -> {6, 1}.
std::pair<int, int> major_minor(std::string_view version) {
  int major = 0, minor = 0;
  std::sscanf(std::string(version).c_str(), "%d.%d", &major, &minor);
  return {major, minor};
}

bool has_cap(const CapabilitySet& caps, const std::string& name) {
  auto number = capability_number(name);
  return number && caps.has(*number);
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

/// Docker's inclusion test: every included cap/arch present, the kernel recent enough,
/// and no excluded cap or arch present.
bool applies(const SeccompRule& rule, const SeccompContext& context) {
  for (const auto& cap : rule.includes.caps)
    if (!has_cap(context.caps, cap)) return false;
  if (!rule.includes.arches.empty() && !contains(rule.includes.arches, context.arch)) return false;
  if (!rule.includes.min_kernel.empty() && !context.kernel.empty() &&
      major_minor(context.kernel) < major_minor(rule.includes.min_kernel))
    return false;
  for (const auto& cap : rule.excludes.caps)
    if (has_cap(context.caps, cap)) return false;
  if (contains(rule.excludes.arches, context.arch)) return false;
  return true;
}

const std::vector<std::string> kChownFamily = {"chown", "fchown", "lchown", "fchownat",
                                               "chown32", "fchown32", "lchown32"};

}  // namespace

std::string native_go_arch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#elif defined(__arm__)
  return "arm";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#else
  return "unknown";
#endif
}

std::string running_kernel_version() {
  struct utsname names {};
  if (::uname(&names) < 0) return {};
  return names.release;
}

SeccompProfile parse_seccomp_profile(std::string_view json_text, std::string_view what) {
  Json doc = util::parse_json(json_text, what);
  if (!doc.is_object()) bad(what, "the top level must be an object");
  SeccompProfile profile;
  if (!doc.contains("defaultAction")) bad(what, "missing \"defaultAction\"");
  profile.default_action = parse_action(doc["defaultAction"], what);
  if (doc.contains("defaultErrnoRet") && !doc["defaultErrnoRet"].is_null()) {
    if (!doc["defaultErrnoRet"].is_number_unsigned()) bad(what, "\"defaultErrnoRet\" must be a number");
    profile.default_errno = doc["defaultErrnoRet"].get<int>();
  }
  for (const auto& arch : doc.value("architectures", Json::array())) profile.architectures.push_back(parse_arch(arch, what));
  // archMap: the native architecture's entry brings its sub-architectures.
  if (doc.contains("archMap") && doc["archMap"].is_array()) {
    std::string go_arch = native_go_arch();
    std::string native = go_arch == "amd64" ? "x86_64" : go_arch == "arm64" ? "aarch64" : go_arch;
    for (const auto& entry : doc["archMap"]) {
      if (!entry.is_object() || !entry.contains("architecture")) bad(what, "archMap entries need \"architecture\"");
      if (parse_arch(entry["architecture"], what) != native) continue;
      if (!contains(profile.architectures, native)) profile.architectures.push_back(native);
      for (const auto& sub : entry.value("subArchitectures", Json::array()))
        if (auto name = parse_arch(sub, what); !contains(profile.architectures, name)) profile.architectures.push_back(name);
    }
  }
  if (doc.contains("syscalls") && !doc["syscalls"].is_null()) {
    if (!doc["syscalls"].is_array()) bad(what, "\"syscalls\" must be a list");
    std::size_t index = 0;
    for (const auto& entry : doc["syscalls"]) {
      std::string where = fmt::format("syscalls[{}]", index++);
      if (!entry.is_object()) bad(what, fmt::format("{} must be an object", where));
      SeccompRule rule;
      rule.names = string_list(entry, "names", what);
      if (entry.contains("name") && entry["name"].is_string()) rule.names.push_back(entry["name"].get<std::string>());
      if (rule.names.empty()) bad(what, fmt::format("{} has no \"names\"", where));
      if (!entry.contains("action")) bad(what, fmt::format("{} has no \"action\"", where));
      rule.action = parse_action(entry["action"], what);
      if (entry.contains("errnoRet") && !entry["errnoRet"].is_null()) {
        if (!entry["errnoRet"].is_number_unsigned()) bad(what, fmt::format("{}.errnoRet must be a number", where));
        rule.errno_ret = entry["errnoRet"].get<int>();
      }
      if (entry.contains("args") && !entry["args"].is_null()) {
        if (!entry["args"].is_array()) bad(what, fmt::format("{}.args must be a list", where));
        for (const auto& arg : entry["args"]) rule.args.push_back(parse_arg(arg, what));
      }
      if (entry.contains("includes")) rule.includes = parse_filter(entry["includes"], what);
      if (entry.contains("excludes")) rule.excludes = parse_filter(entry["excludes"], what);
      profile.rules.push_back(std::move(rule));
    }
  }
  return profile;
}

SeccompPlan plan_seccomp(const SeccompProfile& profile, const SeccompContext& context) {
  SeccompPlan plan;
  plan.default_action = profile.default_action;
  plan.default_errno = profile.default_errno;
  plan.architectures = profile.architectures;
  auto add = [&plan](SeccompPlanRule rule) {
    if (std::find(plan.rules.begin(), plan.rules.end(), rule) == plan.rules.end()) plan.rules.push_back(std::move(rule));
  };
  for (const auto& rule : profile.rules) {
    if (!applies(rule, context)) continue;
    for (const auto& name : rule.names) {
      if (context.single_id && contains(kChownFamily, name)) continue;
      add({name, rule.action, rule.action == SeccompAction::errno_return ? rule.errno_ret.value_or(1) : 0, rule.args});
    }
  }
  // ERRNO with 0 makes the kernel skip the call and return 0: a fakeroot chown.
  if (context.single_id)
    for (const auto& name : kChownFamily) add({name, SeccompAction::errno_return, 0, {}});
  return plan;
}

}  // namespace kiln::runtime
