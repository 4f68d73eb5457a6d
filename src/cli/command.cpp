// The registry of commands and the parsed-arguments accessors.
#include "cli/command.hpp"

#include <algorithm>
#include <memory>

namespace kiln::cli {

namespace {
// Registration keeps the names and the maker: building every command's table (and
// sorting the list at each registration) was most of a short command's start-up. A
// lookup builds the one table it finds; the list of all is built, and sorted, once,
// the first time anything asks for it.
struct Entry {
  std::vector<std::string> names;
  Command (*make)();
  std::unique_ptr<Command> built;
};

std::vector<Entry>& entries() {
  static std::vector<Entry> all;
  return all;
}

std::vector<Command>& registry() {
  static std::vector<Command> commands = [] {
    std::vector<Command> all;
    all.reserve(entries().size());
    for (auto& entry : entries()) all.push_back(entry.make());
    std::sort(all.begin(), all.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
    return all;
  }();
  return commands;
}
}  // namespace

Registration::Registration(std::initializer_list<std::string_view> names, Command (*make)()) {
  entries().push_back({std::vector<std::string>(names.begin(), names.end()), make, nullptr});
}

std::vector<std::vector<std::string>> registered_names() {
  std::vector<std::vector<std::string>> out;
  for (const auto& entry : entries()) out.push_back(entry.names);
  return out;
}

const std::vector<Command>& commands() { return registry(); }

const Command* find_command(std::string_view name) {
  for (auto& entry : entries()) {
    if (std::find(entry.names.begin(), entry.names.end(), name) == entry.names.end()) continue;
    if (!entry.built) entry.built = std::make_unique<Command>(entry.make());
    return entry.built.get();
  }
  return nullptr;
}

const std::vector<Option>& global_options() {
  static const std::vector<Option> options = {
      {.long_name = "root", .arg = "DIR", .help = "Store root (default $XDG_DATA_HOME/kiln)",
       .complete = Complete::dir},
      {.long_name = "runroot", .arg = "DIR", .help = "Runtime state directory (default $XDG_RUNTIME_DIR/kiln)",
       .complete = Complete::dir},
      {.long_name = "storage-driver", .arg = "DRIVER", .help = "Snapshot driver",
       .complete = Complete::choice, .choices = {"overlay", "fuse-overlayfs", "vfs"}},
      {.long_name = "log-level", .arg = "LEVEL", .help = "Diagnostics on stderr",
       .complete = Complete::choice, .choices = {"error", "warn", "info", "debug"}, .default_value = "warn"},
  };
  return options;
}

bool Args::given(std::string_view name) const {
  return std::any_of(values_.begin(), values_.end(), [&](const Value& v) { return v.name == name; });
}

bool Args::flag(std::string_view name) const {
  auto value = get(name);
  return value && (*value == "true" || *value == "1");
}

std::optional<std::string> Args::get(std::string_view name) const {
  for (auto it = values_.rbegin(); it != values_.rend(); ++it)
    if (it->name == name) return it->value;
  return std::nullopt;
}

std::string Args::get_or(std::string_view name, std::string_view fallback) const {
  auto value = get(name);
  return value ? *value : std::string(fallback);
}

std::vector<std::string> Args::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& v : values_)
    if (v.name == name) out.push_back(v.value);
  return out;
}

}  // namespace kiln::cli
