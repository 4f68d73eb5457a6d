// The JSON library kiln uses everywhere (nlohmann-json), and a helper that
// parses with an error naming what was being parsed.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace kiln {
using Json = nlohmann::json;
/// Keeps keys in insertion order: for output that mirrors docker/podman field order.
using OrderedJson = nlohmann::ordered_json;

namespace util {
/// Parses text; throws kiln::Error(invalid_input) "<what>: invalid JSON: <detail>".
Json parse_json(std::string_view text, std::string_view what);
}  // namespace util
}  // namespace kiln
