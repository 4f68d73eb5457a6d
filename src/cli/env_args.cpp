// -e and --env-file: the entries docker and podman accept, and the errors they give.
#include "cli/env_args.hpp"

#include <cstdlib>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::cli {
namespace {

std::string_view name_of(std::string_view entry) { return entry.substr(0, entry.find('=')); }

}  // namespace

void add_env_arg(std::vector<std::string>& env, std::string_view entry) {
  if (name_of(entry).empty()) fail(ErrorKind::invalid_input, "invalid environment variable \"{}\": no name", entry);
  if (entry.find('=') != std::string_view::npos) {
    env.emplace_back(entry);
    return;
  }
  std::string name(entry);
  if (const char* value = std::getenv(name.c_str())) env.push_back(name + "=" + value);
}

std::vector<std::string> parse_env_file(std::string_view text, std::string_view path) {
  std::vector<std::string> env;
  int number = 0;
  for (const auto& raw : util::split(text, '\n')) {
    ++number;
    auto line = util::trim(raw);
    if (line.empty() || line[0] == '#') continue;
    // Leading white space is trimmed; white space inside the name is an error (docker).
    auto name = name_of(line);
    if (name.find_first_of(" \t") != std::string_view::npos)
      fail(ErrorKind::invalid_input, "{}:{}: variable \"{}\" contains white space", path, number, name);
    try {
      add_env_arg(env, line);
    } catch (...) {
      util::rethrow_with("{}:{}", path, number);
    }
  }
  return env;
}

std::vector<std::string> read_env_file(const std::string& path) {
  std::string text;
  try {
    text = util::read_file(path);
  } catch (...) {
    util::rethrow_with("read env file {}", path);
  }
  return parse_env_file(text, path);
}

}  // namespace kiln::cli
