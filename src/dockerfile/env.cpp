// Env: ordered name/value pairs with in-place replacement.
#include "dockerfile/env.hpp"

namespace kiln::dockerfile {

Env::Env(std::initializer_list<std::pair<std::string, std::string>> entries) {
  for (const auto& [name, value] : entries) set(name, value);
}

void Env::set(std::string name, std::string value) {
  for (auto& entry : entries_) {
    if (entry.first == name) {
      entry.second = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> Env::get(std::string_view name) const {
  for (const auto& entry : entries_) {
    if (entry.first == name) return entry.second;
  }
  return std::nullopt;
}

std::vector<std::string> Env::strings() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, value] : entries_) out.push_back(name + "=" + value);
  return out;
}

EnvLookup Env::lookup() const {
  return [this](std::string_view name) { return get(name); };
}

}  // namespace kiln::dockerfile
