// Internal to the parser: splitting a logical line into keyword, flags and
// arguments, and the argument shape of each instruction (BuildKit's dispatch
// table). Errors are thrown without a location; parser.cpp adds it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dockerfile/ast.hpp"

namespace kiln::dockerfile::detail {

/// Builds the Instruction for one logical line (no lines, no heredocs yet).
Instruction instruction_from_line(std::string_view line, char escape);

/// Splits rest into words the way ARG, ENV and LABEL see them: on white space outside
/// quotes, quotes and escape tokens kept in the words.
std::vector<std::string> parse_words(std::string_view rest, char escape);

/// Go's strings.TrimSpace.
std::string_view trim_space(std::string_view text);
/// Splits on runs of [ \t\v\f\r] at most max-1 times (max < 0: no limit), as Go's
/// regexp Split with BuildKit's whitespace pattern.
std::vector<std::string> split_whitespace(std::string_view text, int max = -1);

}  // namespace kiln::dockerfile::detail
