// Typed views of parsed instructions for the builder: flags (--from, --mount,
// --chown...), ENV/LABEL pairs, ARG declarations, FROM parts, HEALTHCHECK
// settings, and variable expansion of the instructions Docker expands
// (ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR, ARG
// defaults; not RUN CMD ENTRYPOINT SHELL, whose shell does it).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dockerfile/ast.hpp"
#include "dockerfile/shell_lexer.hpp"

namespace kiln::dockerfile {

/// One --name[=value] flag.
struct Flag {
  std::string name;                   ///< without the leading "--"
  std::optional<std::string> value;   ///< nullopt for a bare --name
};

/// The flags of an instruction, checked against those its kind accepts. Throws
/// kiln::Error at the instruction ("Unknown flag: foo", "Missing a value on flag: from").
std::vector<Flag> parse_flags(const Instruction& instruction, std::string_view file = {});
/// The value of --name (the last one if repeated), or nullopt when absent.
std::optional<std::string> flag_value(const Instruction& instruction, std::string_view name);
/// Every value of a repeatable flag, in order (--mount, --exclude).
std::vector<std::string> flag_values(const Instruction& instruction, std::string_view name);
/// A boolean flag: true for --link and --link=true, false when absent or =false.
bool flag_bool(const Instruction& instruction, std::string_view name);

/// ENV or LABEL as name/value pairs (values still unexpanded, quotes kept).
std::vector<std::pair<std::string, std::string>> key_values(const Instruction& instruction);

/// One name of an ARG instruction, with its default if it has one.
struct ArgDeclaration {
  std::string name;
  std::optional<std::string> default_value;  ///< unexpanded, quotes kept
};
/// The declarations of an ARG instruction (`ARG a b=1`).
std::vector<ArgDeclaration> arg_declarations(const Instruction& instruction);

/// FROM image [AS name] with --platform.
struct FromSpec {
  std::string image;                     ///< unexpanded
  std::optional<std::string> stage_name; ///< lower-cased, as BuildKit compares them
  std::optional<std::string> platform;   ///< unexpanded --platform value
};
/// Parts of a FROM instruction (validated by validate()).
FromSpec from_spec(const Instruction& instruction);

/// HEALTHCHECK settings as an image config stores them (durations 0 = inherit default).
struct HealthcheckSpec {
  std::vector<std::string> test;         ///< {"NONE"}, {"CMD", args...} or {"CMD-SHELL", cmd}
  std::chrono::nanoseconds interval{0}, timeout{0}, start_period{0}, start_interval{0};
  int retries = 0;
};
/// Parses a HEALTHCHECK instruction; throws kiln::Error on bad options.
HealthcheckSpec healthcheck_spec(const Instruction& instruction, std::string_view file = {});

/// Go's time.ParseDuration ("1m30s", "250ms", "0"); nullopt when malformed.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

/// Whether Docker expands variables in this kind's arguments.
bool expands_variables(Kind kind);

/// A copy of instruction with its arguments and flag values expanded (when its kind
/// expands; RUN expands only flag values). EXPOSE words are split (ProcessWords); other
/// arguments stay one word each; ENV/LABEL names and values are expanded. Names of
/// variables used are added to *used. Throws kiln::Error located at the instruction.
Instruction expand(const Instruction& instruction, const ShellLexer& lexer, const EnvLookup& env,
                   std::set<std::string>* used = nullptr, std::string_view file = {});

}  // namespace kiln::dockerfile
