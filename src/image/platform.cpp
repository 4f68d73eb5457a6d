// Platform names and matching. The rules follow containerd's platforms package
// in effect (the facts, not the code): architectures and variants are
// normalised before comparing, arm64's v8 is its only variant, and a newer arm
// or amd64 variant runs images built for older ones, preferring the closest.
#include "image/platform.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>

#include "image/json_text.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::image {
namespace {

// The variant's number ("v7" -> 7), or -1 when it has none.
int variant_number(std::string_view variant) {
  if (variant.size() < 2 || variant[0] != 'v') return -1;
  int n = 0;
  for (char c : variant.substr(1)) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

Platform Platform::normalized() const {
  Platform p = *this;
  p.os = util::ascii_lower(os);
  if (p.os == "macos") p.os = "darwin";
  std::string arch = util::ascii_lower(architecture);
  std::string var = util::ascii_lower(variant);
  if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
    arch = "amd64";
    if (var == "v1") var.clear();  // v1 is the baseline every amd64 image assumes
  } else if (arch == "i386" || arch == "i686" || arch == "386") {
    arch = "386";
  } else if (arch == "aarch64" || arch == "arm64") {
    arch = "arm64";
    if (var == "8" || var == "v8") var.clear();
  } else if (arch == "armhf") {
    arch = "arm";
    var = "v7";
  } else if (arch == "armel") {
    arch = "arm";
    var = "v6";
  } else if (arch == "arm") {
    if (var.empty() || var == "7") var = "v7";
    else if (var == "5" || var == "6" || var == "8") var = "v" + var;
  }
  p.architecture = arch;
  p.variant = var;
  return p;
}

Platform Platform::parse(std::string_view text) {
  auto parts = util::split(text, '/');
  Platform p;
  if (parts.size() == 1) {
    p.os = "linux";
    p.architecture = parts[0];
  } else if (parts.size() == 2 || parts.size() == 3) {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  } else {
    fail(ErrorKind::invalid_input, "invalid platform \"{}\": expected os/arch[/variant]", text);
  }
  for (const auto& part : parts)
    if (part.empty()) fail(ErrorKind::invalid_input, "invalid platform \"{}\": empty component", text);
  return p.normalized();
}

Platform Platform::from_json(const OrderedJson& value, std::string_view where) {
  field::require_object(value, where);
  Platform p;
  p.architecture = field::string(value, "architecture", where, true);
  p.os = field::string(value, "os", where, true);
  p.variant = field::string(value, "variant", where);
  p.os_version = field::string(value, "os.version", where);
  p.os_features = field::strings(value, "os.features", where);
  return p;
}

OrderedJson Platform::to_json() const {
  OrderedJson out = OrderedJson::object();
  out["architecture"] = architecture;
  out["os"] = os;
  if (!os_version.empty()) out["os.version"] = os_version;
  if (!os_features.empty()) out["os.features"] = os_features;
  if (!variant.empty()) out["variant"] = variant;
  return out;
}

std::string Platform::str() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) out += "/" + variant;
  return out;
}

Platform platform_from_machine(std::string_view machine) {
  Platform p;
  p.os = "linux";
  std::string m = util::ascii_lower(machine);
  if (m.starts_with("armv") && m.size() >= 5 && m[4] >= '5' && m[4] <= '8') {
    // armv7l, armv6l, armv5tel: 32-bit arm with the digit as variant (armv8l is a
    // 64-bit CPU in 32-bit mode, which runs v7 images best).
    p.architecture = "arm";
    p.variant = m[4] == '8' ? "v7" : std::string("v") + m[4];
    return p;
  }
  if (m == "ppc64le" || m == "s390x" || m == "riscv64" || m == "loong64" || m == "mips64le" || m == "mips64") {
    p.architecture = m;
    return p;
  }
  if (m == "loongarch64") {
    p.architecture = "loong64";
    return p;
  }
  p.architecture = m;
  return p.normalized();
}

Platform host_platform() {
  struct utsname u {};
  if (uname(&u) != 0) throw util::sys_error("uname");
  return platform_from_machine(u.machine);
}

std::optional<int> platform_rank(const Platform& want_raw, const Platform& candidate_raw) {
  Platform want = want_raw.normalized();
  Platform candidate = candidate_raw.normalized();
  if (want.os != candidate.os || want.architecture != candidate.architecture) return std::nullopt;
  if (want.variant == candidate.variant) return 0;
  int wanted = variant_number(want.variant);
  int offered = variant_number(candidate.variant);
  if (want.architecture == "arm" || want.architecture == "amd64") {
    // A CPU runs code for its own level and every level below it; prefer the
    // closest. amd64 without a variant is level 1 (the baseline).
    if (want.architecture == "amd64") {
      if (wanted < 0) wanted = 1;
      if (offered < 0) offered = 1;
    }
    if (wanted >= 0 && offered >= 0 && offered <= wanted) return 1 + (wanted - offered);
    return std::nullopt;
  }
  // Other architectures: a candidate without variant suits any wanted variant.
  if (candidate.variant.empty()) return 1;
  if (want.variant.empty()) return 2;
  return std::nullopt;
}

}  // namespace kiln::image
