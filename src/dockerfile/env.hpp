// Variables as the Dockerfile front end passes them around: an ordered list
// (ENV and ARG values keep their definition order, as an image config's Env
// does) and a lookup function for expansion.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::dockerfile {

/// Looks a variable up by name; nullopt when it is unset (set-but-empty is "").
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// Ordered variables (ENV, ARG values): set() of an existing name replaces it in place.
class Env {
public:
  Env() = default;
  Env(std::initializer_list<std::pair<std::string, std::string>> entries);
  /// Sets name to value, keeping the position of an earlier definition.
  void set(std::string name, std::string value);
  /// The value, or nullopt when name is not set.
  std::optional<std::string> get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  /// Entries in definition order.
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
  /// "NAME=value" strings in definition order, as an image config's Env.
  std::vector<std::string> strings() const;
  /// A lookup function that reads this Env (which must outlive it).
  EnvLookup lookup() const;

private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

}  // namespace kiln::dockerfile
