// History lines in buildah's spelling.
#include "build/history.hpp"

#include <fmt/format.h>

#include "util/json.hpp"

namespace kiln::build {

std::string nop_created_by(std::string_view text) { return fmt::format("/bin/sh -c #(nop) {}", text); }

std::string run_created_by(const std::vector<std::string>& argv,
                           const std::vector<std::pair<std::string, std::string>>& args) {
  std::string out;
  if (!args.empty()) {
    out = fmt::format("|{}", args.size());
    for (const auto& [name, value] : args) out += fmt::format(" {}={}", name, value);
    out += " ";
  }
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (i) out += " ";
    out += argv[i];
  }
  return out;
}

std::string copy_created_by(std::string_view keyword, std::string_view kind, std::string_view hex,
                            std::string_view dest) {
  return fmt::format("/bin/sh -c #(nop) {} {}:{} in {} ", keyword, kind, hex, dest);
}

std::string json_words(const std::vector<std::string>& words) {
  Json array = Json::array();
  for (const auto& w : words) array.push_back(w);
  return array.dump();
}

}  // namespace kiln::build
