// Dockerfile text -> Dockerfile (ast.hpp). parse_syntax() is BuildKit's
// parser proper: directives, continuations, comments, heredocs, argument
// shapes; it accepts unknown keywords as BuildKit's parser does. parse() adds
// the instruction checks a build needs (unknown instruction, argument counts,
// flags, ONBUILD triggers). Both are pure: the caller reads the file.
#pragma once

#include <string>
#include <string_view>

#include "dockerfile/ast.hpp"

namespace kiln::dockerfile {

/// Parses text; file names it in errors. Throws kiln::Error(invalid_input) located at
/// file:line:1, e.g. "file with no instructions", "unterminated heredoc".
Dockerfile parse_syntax(std::string_view text, std::string file = "Dockerfile");

/// parse_syntax() plus validate().
Dockerfile parse(std::string_view text, std::string file = "Dockerfile");

/// Checks every instruction: known keyword (`unknown instruction "RUNN"`), argument
/// counts, flags allowed for the instruction, ONBUILD triggers, HEALTHCHECK options,
/// SHELL in JSON form, stage names. Throws kiln::Error at the instruction's file:line:1.
void validate(const Dockerfile& dockerfile);

}  // namespace kiln::dockerfile
