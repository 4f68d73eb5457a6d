// Platforms (os/architecture/variant) as OCI indexes and Docker manifest lists
// describe them: the host's, parsing "linux/arm64/v8" as --platform gives it,
// normalising uname and alias names to Go's (x86_64 -> amd64), and ranking an
// index entry against a wanted platform (arm v7 runs v6 and v5 images).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.hpp"

namespace kiln::image {

/// One platform. Field names follow the OCI spec; os_version is "os.version".
struct Platform {
  std::string architecture;  // Go's GOARCH: amd64, arm64, arm, 386, ppc64le, s390x, riscv64
  std::string os;            // linux
  std::string variant;       // v7 for arm, v8 for arm64, empty otherwise
  std::string os_version;
  std::vector<std::string> os_features;

  /// Parses "os/arch[/variant]" (--platform) or "arch"; normalised. Throws invalid_input.
  static Platform parse(std::string_view text);
  /// Reads an OCI platform object; throws invalid_input naming where.
  static Platform from_json(const OrderedJson& value, std::string_view where);
  /// {architecture, os, os.version, os.features, variant} in the OCI spec's field order.
  OrderedJson to_json() const;
  /// "linux/arm64/v8", "linux/amd64".
  std::string str() const;
  /// The same platform with aliases resolved (x86_64 -> amd64, aarch64 -> arm64,
  /// arm64 variant v8 -> "", arm without variant -> v7).
  Platform normalized() const;

  friend bool operator==(const Platform&, const Platform&) = default;
};

/// The platform for a uname(2) machine string: "x86_64" -> amd64, "armv7l" -> arm/v7.
Platform platform_from_machine(std::string_view machine);
/// This host's platform (uname), os "linux".
Platform host_platform();

/// How well a candidate suits the wanted platform: nullopt when it cannot run
/// there, else a rank where smaller is better (0 = exact variant).
std::optional<int> platform_rank(const Platform& want, const Platform& candidate);

}  // namespace kiln::image
