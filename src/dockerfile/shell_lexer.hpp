// Variable expansion and word splitting as Dockerfile instructions do it
// (BuildKit's "shell lexer"): $VAR, ${VAR}, ${VAR:-x} ${VAR:+x} ${VAR-x}
// ${VAR+x} ${VAR:?msg} ${VAR?msg}, ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p}
// ${VAR/p/r} ${VAR//p/r}, single and double quotes, the escape token. It is not
// a shell: no command substitution, no arithmetic, no globbing of words.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dockerfile/env.hpp"

namespace kiln::dockerfile {

/// Expands words with Docker's rules for a given escape token (\ or `).
/// Errors (bad substitution, unterminated quote, ${X:?msg}) throw kiln::Error
/// (invalid_input) without a location; callers add the instruction's.
class ShellLexer {
public:
  explicit ShellLexer(char escape = '\\') : escape_(escape) {}

  bool raw_quotes = false;    ///< keep quote characters in the output
  bool raw_escapes = false;   ///< keep escape tokens in the output
  bool skip_unset = false;    ///< leave "$X" / "${X...}" text as is when X is unset
  bool skip_quotes = false;   ///< treat quotes as ordinary characters

  /// One word: quotes removed, escapes applied, variables expanded, no splitting.
  /// Names of variables found set are added to *used when given.
  std::string process_word(std::string_view word, const EnvLookup& env,
                           std::set<std::string>* used = nullptr) const;
  std::string process_word(std::string_view word, const Env& env,
                           std::set<std::string>* used = nullptr) const {
    return process_word(word, env.lookup(), used);
  }
  /// Like process_word but splits the result into words on unquoted white space,
  /// including white space that came from an unquoted variable's value.
  std::vector<std::string> process_words(std::string_view word, const EnvLookup& env,
                                         std::set<std::string>* used = nullptr) const;
  std::vector<std::string> process_words(std::string_view word, const Env& env,
                                         std::set<std::string>* used = nullptr) const {
    return process_words(word, env.lookup(), used);
  }

  char escape() const { return escape_; }

private:
  char escape_;
};

}  // namespace kiln::dockerfile
