// Flags, typed views and expansion of instructions. Messages follow BuildKit's
// wording so users searching for them find the same answers.
#include "dockerfile/instructions.hpp"

#include <array>

#include "dockerfile/runes.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::dockerfile {
namespace {

enum class FlagType { string, strings, boolean };

struct FlagSpec {
  Kind kind;
  std::string_view name;
  FlagType type;
};

constexpr std::array<FlagSpec, 24> kFlags{{
    {Kind::from, "platform", FlagType::string},
    {Kind::run, "mount", FlagType::strings},
    {Kind::run, "network", FlagType::string},
    {Kind::run, "security", FlagType::string},
    {Kind::run, "device", FlagType::strings},
    {Kind::copy, "from", FlagType::string},
    {Kind::copy, "chown", FlagType::string},
    {Kind::copy, "chmod", FlagType::string},
    {Kind::copy, "link", FlagType::boolean},
    {Kind::copy, "parents", FlagType::boolean},
    {Kind::copy, "exclude", FlagType::strings},
    {Kind::add, "chown", FlagType::string},
    {Kind::add, "chmod", FlagType::string},
    {Kind::add, "checksum", FlagType::string},
    {Kind::add, "link", FlagType::boolean},
    {Kind::add, "keep-git-dir", FlagType::boolean},
    {Kind::add, "exclude", FlagType::strings},
    {Kind::add, "unpack", FlagType::boolean},
    {Kind::healthcheck, "interval", FlagType::string},
    {Kind::healthcheck, "timeout", FlagType::string},
    {Kind::healthcheck, "start-period", FlagType::string},
    {Kind::healthcheck, "start-interval", FlagType::string},
    {Kind::healthcheck, "retries", FlagType::string},
    {Kind::add, "parents", FlagType::boolean},
}};

[[noreturn]] void fail_at(const Instruction& instruction, std::string_view file,
                          std::string message) {
  throw Error(SourceLocation{std::string(file), instruction.start_line, 1}, std::move(message));
}

const FlagSpec* find_spec(Kind kind, std::string_view name) {
  for (const auto& spec : kFlags) {
    if (spec.kind == kind && spec.name == name) return &spec;
  }
  return nullptr;
}


}  // namespace

std::vector<Flag> parse_flags(const Instruction& instruction, std::string_view file) {
  std::vector<Flag> out;
  for (const auto& word : instruction.flags) {
    if (!word.starts_with("--")) {
      fail_at(instruction, file, fmt::format("Arg should start with -- : {}", word));
    }
    std::string_view body = std::string_view(word).substr(2);
    Flag flag;
    auto eq = body.find('=');
    flag.name = std::string(body.substr(0, eq));
    if (eq != std::string_view::npos) flag.value = std::string(body.substr(eq + 1));
    const FlagSpec* spec = find_spec(instruction.kind, flag.name);
    if (!spec) fail_at(instruction, file, fmt::format("Unknown flag: {}", flag.name));
    switch (spec->type) {
      case FlagType::boolean:
        if (flag.value) {
          std::string v = util::ascii_lower(*flag.value);
          if (v != "true" && v != "false") {
            fail_at(instruction, file, fmt::format("expecting boolean value for flag {}, not: {}",
                                                   flag.name, *flag.value));
          }
        }
        [[fallthrough]];
      case FlagType::string:
        for (const auto& seen : out) {
          if (seen.name == flag.name)
            fail_at(instruction, file, fmt::format("Duplicate flag specified: {}", flag.name));
        }
        if (spec->type == FlagType::string && !flag.value)
          fail_at(instruction, file, fmt::format("Missing a value on flag: {}", flag.name));
        break;
      case FlagType::strings:
        if (!flag.value)
          fail_at(instruction, file, fmt::format("Missing a value on flag: {}", flag.name));
        break;
    }
    out.push_back(std::move(flag));
  }
  return out;
}

namespace {
std::vector<Flag> loose_flags(const Instruction& instruction) {
  std::vector<Flag> out;
  for (const auto& word : instruction.flags) {
    std::string_view body = std::string_view(word).substr(word.starts_with("--") ? 2 : 0);
    auto eq = body.find('=');
    Flag flag{std::string(body.substr(0, eq)), std::nullopt};
    if (eq != std::string_view::npos) flag.value = std::string(body.substr(eq + 1));
    out.push_back(std::move(flag));
  }
  return out;
}
}  // namespace

std::optional<std::string> flag_value(const Instruction& instruction, std::string_view name) {
  std::optional<std::string> out;
  for (auto& flag : loose_flags(instruction)) {
    if (flag.name == name) out = flag.value.value_or("");
  }
  return out;
}

std::vector<std::string> flag_values(const Instruction& instruction, std::string_view name) {
  std::vector<std::string> out;
  for (auto& flag : loose_flags(instruction)) {
    if (flag.name == name) out.push_back(flag.value.value_or(""));
  }
  return out;
}

bool flag_bool(const Instruction& instruction, std::string_view name) {
  bool out = false;
  for (auto& flag : loose_flags(instruction)) {
    if (flag.name == name) out = !flag.value || util::ascii_lower(*flag.value) == "true";
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> key_values(const Instruction& instruction) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i + 1 < instruction.args.size(); i += 3) {
    out.emplace_back(instruction.args[i], instruction.args[i + 1]);
  }
  return out;
}

std::vector<ArgDeclaration> arg_declarations(const Instruction& instruction) {
  std::vector<ArgDeclaration> out;
  for (const auto& word : instruction.args) {
    auto eq = word.find('=');
    if (eq == std::string::npos) {
      out.push_back({word, std::nullopt});
    } else {
      out.push_back({word.substr(0, eq), word.substr(eq + 1)});
    }
  }
  return out;
}

FromSpec from_spec(const Instruction& instruction) {
  FromSpec out;
  if (!instruction.args.empty()) out.image = instruction.args[0];
  if (instruction.args.size() == 3) out.stage_name = util::ascii_lower(instruction.args[2]);
  out.platform = flag_value(instruction, "platform");
  return out;
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  // [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ or "0".
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return std::nullopt;
  long double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') value = value * 10 + (s[i++] - '0'), digits = true;
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value += (s[i++] - '0') * scale;
        scale /= 10;
        digits = true;
      }
    }
    if (!digits) return std::nullopt;
    std::size_t unit_start = i;
    while (i < s.size() && !(s[i] >= '0' && s[i] <= '9') && s[i] != '.') ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    long double scale;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e3L;
    else if (unit == "ms") scale = 1e6L;
    else if (unit == "s") scale = 1e9L;
    else if (unit == "m") scale = 60e9L;
    else if (unit == "h") scale = 3600e9L;
    else return std::nullopt;
    total += value * scale;
    s.remove_prefix(i);
  }
  if (total > 9.2e18L) return std::nullopt;
  auto ns = static_cast<std::int64_t>(total);
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

HealthcheckSpec healthcheck_spec(const Instruction& in, std::string_view file) {
  if (in.args.empty()) fail_at(in, file, "HEALTHCHECK requires at least one argument");
  HealthcheckSpec out;
  std::string type = util::ascii_upper(in.args[0]);
  if (type == "NONE") {
    if (in.args.size() > 1) fail_at(in, file, "HEALTHCHECK NONE takes no arguments");
    if (!in.flags.empty()) fail_at(in, file, "HEALTHCHECK NONE takes no flags");
    out.test = {"NONE"};
    return out;
  }
  if (type != "CMD") {
    fail_at(in, file, fmt::format("Unknown type {} in HEALTHCHECK (try CMD)", go_quote(type)));
  }
  if (in.args.size() < 2) fail_at(in, file, "Missing command after HEALTHCHECK CMD");
  parse_flags(in, file);
  if (in.json) {
    out.test = {"CMD"};
    out.test.insert(out.test.end(), in.args.begin() + 1, in.args.end());
  } else {
    out.test = {"CMD-SHELL", in.args[1]};
  }
  auto duration = [&](std::string_view name) {
    auto value = flag_value(in, name);
    if (!value || value->empty()) return std::chrono::nanoseconds(0);
    auto d = parse_duration(*value);
    if (!d) fail_at(in, file, fmt::format("time: invalid duration {}", go_quote(*value)));
    if (d->count() != 0 && *d < std::chrono::milliseconds(1))
      fail_at(in, file, fmt::format("{} cannot be less than 1ms", name));
    return *d;
  };
  out.interval = duration("interval");
  out.timeout = duration("timeout");
  out.start_period = duration("start-period");
  out.start_interval = duration("start-interval");
  if (auto retries = flag_value(in, "retries"); retries && !retries->empty()) {
    try {
      std::size_t used = 0;
      out.retries = std::stoi(*retries, &used);
      if (used != retries->size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      fail_at(in, file, fmt::format("invalid --retries value {}", go_quote(*retries)));
    }
    if (out.retries < 0) fail_at(in, file, "--retries cannot be negative");
  }
  return out;
}

bool expands_variables(Kind kind) {
  switch (kind) {
    case Kind::add: case Kind::arg: case Kind::copy: case Kind::env: case Kind::expose:
    case Kind::from: case Kind::label: case Kind::stopsignal: case Kind::user:
    case Kind::volume: case Kind::workdir:
      return true;
    case Kind::cmd: case Kind::entrypoint: case Kind::healthcheck: case Kind::maintainer:
    case Kind::onbuild: case Kind::run: case Kind::shell: case Kind::unknown:
      return false;
  }
  return false;
}

Instruction expand(const Instruction& instruction, const ShellLexer& lexer, const EnvLookup& env,
                   std::set<std::string>* used, std::string_view file) {
  Instruction out = instruction;
  auto word = [&](const std::string& text) {
    try {
      return lexer.process_word(text, env, used);
    } catch (const Error& e) {
      fail_at(instruction, file, e.what());
    }
  };
  if (instruction.kind == Kind::run || expands_variables(instruction.kind)) {
    for (auto& flag : out.flags) {
      auto eq = flag.find('=');
      if (eq != std::string::npos) flag = flag.substr(0, eq + 1) + word(flag.substr(eq + 1));
    }
  }
  if (!expands_variables(instruction.kind)) return out;
  Kind kind = instruction.kind;
  if (kind == Kind::env || kind == Kind::label) {
    for (std::size_t i = 0; i + 1 < out.args.size(); i += 3) {
      out.args[i] = word(out.args[i]);
      out.args[i + 1] = word(out.args[i + 1]);
    }
  } else if (kind == Kind::arg) {
    for (auto& arg : out.args) {
      auto eq = arg.find('=');
      if (eq != std::string::npos) arg = arg.substr(0, eq + 1) + word(arg.substr(eq + 1));
    }
  } else if (kind == Kind::expose) {
    std::vector<std::string> ports;
    for (const auto& arg : instruction.args) {
      try {
        for (auto& port : lexer.process_words(arg, env, used)) ports.push_back(std::move(port));
      } catch (const Error& e) {
        fail_at(instruction, file, e.what());
      }
    }
    out.args = std::move(ports);
  } else if (kind == Kind::from) {
    if (!out.args.empty()) out.args[0] = word(out.args[0]);
  } else if (kind == Kind::add || kind == Kind::copy) {
    // Heredoc sources (<<EOF) name their body and are kept as written.
    for (auto& arg : out.args) {
      if (!arg.starts_with("<<")) arg = word(arg);
    }
  } else {
    for (auto& arg : out.args) arg = word(arg);
  }
  return out;
}

}  // namespace kiln::dockerfile
