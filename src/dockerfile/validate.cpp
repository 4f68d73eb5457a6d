// validate(): the checks BuildKit makes when it turns parser nodes into
// instructions (argument counts, flags, ONBUILD triggers, stage names), with
// BuildKit's wording, located at the instruction's first line.
#include <string>

#include "dockerfile/instructions.hpp"
#include "dockerfile/line_parsers.hpp"
#include "dockerfile/parser.hpp"
#include "dockerfile/runes.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::dockerfile {
namespace {

[[noreturn]] void fail_at(const Instruction& instruction, std::string_view file,
                          std::string message) {
  throw Error(SourceLocation{std::string(file), instruction.start_line, 1}, std::move(message));
}

bool valid_stage_name(std::string_view name) {
  if (name.empty() || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

void require_args(const Instruction& in, std::string_view file, std::size_t min,
                  std::optional<std::size_t> exact = std::nullopt) {
  std::string name(keyword_of(in.kind));
  if (exact && in.args.size() != *exact) {
    fail_at(in, file, fmt::format("{} requires exactly one argument", name));
  }
  if (in.args.size() < min) {
    if (min == 1) fail_at(in, file, fmt::format("{} requires at least one argument", name));
    fail_at(in, file, fmt::format("{} requires at least two arguments, but only one was "
                                  "provided. Destination could not be determined.", name));
  }
}

void validate_one(const Instruction& in, std::string_view file) {
  if (in.kind == Kind::unknown) {
    fail_at(in, file, fmt::format("unknown instruction {}", go_quote(in.keyword)));
  }
  parse_flags(in, file);
  switch (in.kind) {
    case Kind::from: {
      bool ok = in.args.size() == 1 || (in.args.size() == 3 && util::ascii_lower(in.args[1]) == "as");
      if (!ok) fail_at(in, file, "FROM requires either one or three arguments");
      if (in.args.size() == 3 && !valid_stage_name(util::ascii_lower(in.args[2]))) {
        fail_at(in, file, fmt::format("invalid name for build stage: {}, name can't start with a "
                                      "number or contain symbols", go_quote(in.args[2])));
      }
      break;
    }
    case Kind::run:
      if (in.args.empty() && in.heredocs.empty()) require_args(in, file, 1);
      break;
    case Kind::env:
    case Kind::label:
      require_args(in, file, 1);
      for (const auto& [name, value] : key_values(in)) {
        if (name.empty()) {
          fail_at(in, file, fmt::format("{} names can not be blank", keyword_of(in.kind)));
        }
      }
      break;
    case Kind::arg:
      require_args(in, file, 1);
      for (const auto& decl : arg_declarations(in)) {
        if (decl.name.empty()) fail_at(in, file, "ARG names can not be blank");
      }
      break;
    case Kind::expose: require_args(in, file, 1); break;
    case Kind::volume:
      require_args(in, file, 1);
      for (const auto& arg : in.args) {
        if (detail::trim_space(arg).empty())
          fail_at(in, file, "VOLUME specified can not be an empty string");
      }
      break;
    case Kind::add:
    case Kind::copy: require_args(in, file, 2); break;
    case Kind::workdir:
    case Kind::user:
    case Kind::stopsignal:
    case Kind::maintainer: require_args(in, file, 1, 1); break;
    case Kind::shell:
      if (!in.json) fail_at(in, file, "SHELL requires the arguments to be in JSON form");
      require_args(in, file, 1);
      break;
    case Kind::healthcheck: healthcheck_spec(in, file); break;
    case Kind::onbuild: {
      if (!in.sub) fail_at(in, file, "ONBUILD requires at least one argument");
      Instruction trigger = *in.sub;
      trigger.start_line = in.start_line;
      trigger.heredocs = in.heredocs;
      if (trigger.kind == Kind::onbuild)
        fail_at(in, file, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger.kind == Kind::from || trigger.kind == Kind::maintainer) {
        fail_at(in, file, fmt::format("{} isn't allowed as an ONBUILD trigger", util::ascii_upper(trigger.keyword)));
      }
      validate_one(trigger, file);
      break;
    }
    case Kind::cmd:
    case Kind::entrypoint:
    case Kind::unknown: break;
  }
}

}  // namespace

void validate(const Dockerfile& dockerfile) {
  for (const auto& instruction : dockerfile.instructions) validate_one(instruction, dockerfile.file);
}

}  // namespace kiln::dockerfile
