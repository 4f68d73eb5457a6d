// GlobalArgs and StageScope: where each ARG's value comes from.
#include "dockerfile/args.hpp"

#include <algorithm>
#include <array>

#include "dockerfile/instructions.hpp"
#include "util/error.hpp"

namespace kiln::dockerfile {
namespace {

constexpr std::array<std::string_view, 10> kProxyArgs{
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
    "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
};

constexpr std::array<std::string_view, 8> kPlatformArgs{
    "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
    "BUILDPLATFORM",  "BUILDOS",  "BUILDARCH",  "BUILDVARIANT",
};

std::string word_or_fail(const ShellLexer& lexer, const std::string& text, const EnvLookup& env,
                         const Instruction& at, std::string_view file) {
  try {
    return lexer.process_word(text, env);
  } catch (const Error& e) {
    throw Error(SourceLocation{std::string(file), at.start_line, 1}, e.what());
  }
}

std::string normalize_arch(std::string arch, std::string& variant) {
  if (arch == "x86_64" || arch == "x86-64") return "amd64";
  if (arch == "aarch64") return "arm64";
  if (arch == "armhf") {
    variant = "v7";
    return "arm";
  }
  if (arch == "armel") {
    variant = "v6";
    return "arm";
  }
  if (arch == "i386" || arch == "i686") return "386";
  return arch;
}

}  // namespace

std::string Platform::str() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) out += "/" + variant;
  return out;
}

Platform Platform::parse(std::string_view text) {
  if (text.empty()) throw Error("invalid platform \"\": empty", ErrorKind::invalid_input);
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  for (auto& part : parts) {
    for (char& c : part) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (part.empty() || parts.size() > 3) {
      throw Error(fmt::format("invalid platform \"{}\": expected os/arch[/variant]", text),
                  ErrorKind::invalid_input);
    }
  }
  Platform out;
  if (parts.size() == 1) {
    static constexpr std::array<std::string_view, 5> kOses{"linux", "windows", "darwin",
                                                           "freebsd", "netbsd"};
    bool is_os = std::find(kOses.begin(), kOses.end(), parts[0]) != kOses.end();
    if (is_os) {
      out.os = parts[0];
    } else {
      out.architecture = normalize_arch(parts[0], out.variant);
    }
    return out;
  }
  out.os = parts[0];
  if (parts.size() == 3) out.variant = parts[2];
  out.architecture = normalize_arch(parts[1], out.variant);
  if (out.architecture == "arm64" && out.variant == "v8") out.variant.clear();
  return out;
}

Env platform_args(const Platform& target, const Platform& build) {
  return Env{
      {"TARGETPLATFORM", target.str()}, {"TARGETOS", target.os},
      {"TARGETARCH", target.architecture}, {"TARGETVARIANT", target.variant},
      {"BUILDPLATFORM", build.str()}, {"BUILDOS", build.os},
      {"BUILDARCH", build.architecture}, {"BUILDVARIANT", build.variant},
  };
}

bool is_proxy_arg(std::string_view name) {
  return std::find(kProxyArgs.begin(), kProxyArgs.end(), name) != kProxyArgs.end();
}

bool is_predefined_arg(std::string_view name) {
  return is_proxy_arg(name) ||
         std::find(kPlatformArgs.begin(), kPlatformArgs.end(), name) != kPlatformArgs.end();
}

GlobalArgs::GlobalArgs(const Dockerfile& dockerfile, const BuildArgs& build_args, Env predefined)
    : values_(std::move(predefined)) {
  ShellLexer lexer(dockerfile.escape);
  for (const auto& instruction : dockerfile.instructions) {
    if (instruction.kind == Kind::from) break;
    if (instruction.kind != Kind::arg) continue;
    for (const auto& decl : arg_declarations(instruction)) {
      names_.insert(decl.name);
      if (auto given = build_args.find(decl.name); given != build_args.end()) {
        values_.set(decl.name, given->second);
      } else if (decl.default_value) {
        values_.set(decl.name, word_or_fail(lexer, *decl.default_value, values_.lookup(),
                                            instruction, dockerfile.file));
      }
    }
  }
}

bool GlobalArgs::declared(std::string_view name) const {
  return names_.contains(std::string(name)) || is_predefined_arg(name);
}

StageScope::StageScope(const GlobalArgs& globals, const BuildArgs& build_args, char escape)
    : globals_(globals), build_args_(build_args), lexer_(escape) {}

void StageScope::set_image_env(const Env& env) { env_ = env; }

EnvLookup StageScope::lookup() const {
  return [this](std::string_view name) -> std::optional<std::string> {
    if (auto value = env_.get(name)) return value;
    return args_.get(name);
  };
}

void StageScope::declare(const Instruction& arg, std::string_view file) {
  for (const auto& decl : arg_declarations(arg)) {
    declared_names_.insert(decl.name);
    if (auto given = build_args_.find(decl.name); given != build_args_.end()) {
      consumed_.insert(decl.name);
      args_.set(decl.name, given->second);
    } else if (decl.default_value) {
      args_.set(decl.name, word_or_fail(lexer_, *decl.default_value, lookup(), arg, file));
    } else if (auto global = globals_.values().get(decl.name)) {
      args_.set(decl.name, *global);
    }
  }
}

std::vector<std::pair<std::string, std::string>> StageScope::apply_env(const Instruction& env,
                                                                       std::string_view file) {
  // All values see the environment from before this instruction: ENV a=1 b=$a uses the old a.
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& [name, value] : key_values(env)) {
    pairs.emplace_back(word_or_fail(lexer_, name, lookup(), env, file),
                       word_or_fail(lexer_, value, lookup(), env, file));
  }
  for (const auto& [name, value] : pairs) env_.set(name, value);
  return pairs;
}

Instruction StageScope::expand(const Instruction& instruction, std::string_view file) {
  return dockerfile::expand(instruction, lexer_, lookup(), nullptr, file);
}

std::vector<std::pair<std::string, std::string>> StageScope::args_in_effect() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : args_.entries()) {
    if (!is_proxy_arg(name)) out.emplace_back(name, value);
  }
  return out;
}

Env StageScope::run_env() const {
  Env out = env_;
  for (const auto& [name, value] : args_.entries()) {
    if (!env_.contains(name)) out.set(name, value);
  }
  for (const auto& [name, value] : build_args_) {
    if (is_proxy_arg(name) && !out.contains(name)) out.set(name, value);
  }
  return out;
}

std::vector<std::string> unused_build_args(const BuildArgs& build_args,
                                           const std::set<std::string>& consumed) {
  std::vector<std::string> out;
  for (const auto& [name, value] : build_args) {
    if (!consumed.contains(name) && !is_predefined_arg(name)) out.push_back(name);
  }
  return out;
}

}  // namespace kiln::dockerfile
