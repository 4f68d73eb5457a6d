// Small text helpers shared by the CLI and the modules: splitting, trimming,
// human sizes as podman prints them, durations ("3 minutes ago"), RFC 3339 times.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::util {

std::vector<std::string> split(std::string_view text, char sep);
/// Splits at the first sep: {"a", "b=c"} for split_once("a=b=c", '='); nullopt without sep.
std::optional<std::pair<std::string, std::string>> split_once(std::string_view text, char sep);
std::string_view trim(std::string_view text);
/// ASCII-only case mapping (no locale): Dockerfile keywords, platform names, headers.
std::string ascii_lower(std::string_view text);
std::string ascii_upper(std::string_view text);
bool starts_with(std::string_view text, std::string_view prefix);

/// Decimal units with 3 significant digits as podman/docker print sizes: "4.19 MB", "512 B".
std::string human_size(std::uint64_t bytes);
/// "About a minute ago", "3 hours ago", as docker's units.HumanDuration + " ago".
std::string human_ago(std::chrono::system_clock::time_point when,
                      std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
/// RFC 3339 with nanoseconds and Z, as Go marshals time.Time in UTC.
std::string rfc3339(std::chrono::system_clock::time_point when);
/// Parses RFC 3339 (fractional seconds and offsets accepted); nullopt if malformed.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace kiln::util
