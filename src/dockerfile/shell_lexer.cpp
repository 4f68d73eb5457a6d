// The word scanner behind ShellLexer. One Scan object walks one word rune by
// rune; process() collects both the joined result (process_word) and the
// split words (process_words). Splitting follows Docker: white space typed in
// the word or produced by an unquoted $VAR ends a word; quoted text, escaped
// characters and empty quotes ("") never split.
#include "dockerfile/shell_lexer.hpp"

#include <fnmatch.h>

#include "dockerfile/runes.hpp"
#include "util/error.hpp"

namespace kiln::dockerfile {

namespace {

constexpr char32_t kEnd = 0xFFFFFFFF;

[[noreturn]] void bad(std::string message) {
  throw Error(std::move(message), ErrorKind::invalid_input);
}

// Word collector: characters typed in the word split on white space, raw
// (quoted or escaped) text never does.
class Words {
public:
  void add_char(char32_t c) {
    if (is_space(c)) {
      if (in_word_ && !word_.empty()) {
        words_.push_back(std::move(word_));
        word_.clear();
        in_word_ = false;
      }
    } else {
      add_raw_char(c);
    }
  }
  void add_raw_char(char32_t c) {
    append_rune(word_, c);
    in_word_ = true;
  }
  void add_string(std::string_view text) {
    for (std::size_t pos = 0; pos < text.size();) {
      Rune r = decode_rune(text, pos);
      if (r.value == 0xFFFD && r.width == 1) {
        word_ += text[pos];  // keep invalid bytes as they were
        in_word_ = true;
      } else {
        add_char(r.value);
      }
      pos += r.width;
    }
  }
  void add_raw_string(std::string_view text) {
    word_ += text;
    in_word_ = true;
  }
  std::vector<std::string> finish() {
    if (!word_.empty()) words_.push_back(std::move(word_));
    word_.clear();
    in_word_ = false;
    return std::move(words_);
  }

private:
  std::string word_;
  std::vector<std::string> words_;
  bool in_word_ = false;
};

struct Scan {
  const ShellLexer& lexer;
  std::string_view text;
  const EnvLookup& env;
  std::set<std::string>* used;
  std::size_t pos = 0;

  char32_t peek() const {
    if (pos >= text.size()) return kEnd;
    return decode_rune(text, pos).value;
  }
  // Returns the next rune and appends its original bytes to *raw when given.
  char32_t next(std::string* raw = nullptr) {
    if (pos >= text.size()) return kEnd;
    Rune r = decode_rune(text, pos);
    if (raw) raw->append(text.substr(pos, r.width));
    pos += r.width;
    return r.value;
  }
  // Appends the next rune's original bytes (invalid UTF-8 passes through unchanged).
  void copy_next(std::string& out) { next(&out); }

  std::optional<std::string> get_env(const std::string& name) {
    auto value = env ? env(name) : std::nullopt;
    if (value && used) used->insert(name);
    return value;
  }

  // Reads up to stop (not included; consumed) or the end of the text when stop is kEnd.
  std::pair<std::string, std::vector<std::string>> process_until(char32_t stop) {
    std::string result;
    Words words;
    char32_t escape = static_cast<unsigned char>(lexer.escape());
    while (peek() != kEnd) {
      char32_t c = peek();
      if (stop != kEnd && c == stop) {
        next();
        return {std::move(result), words.finish()};
      }
      if (c == '$') {
        std::string value = process_dollar();
        result += value;
        words.add_string(value);
        continue;
      }
      if (!lexer.skip_quotes && (c == '\'' || c == '"')) {
        std::string value = c == '\'' ? process_single_quote() : process_double_quote();
        result += value;
        words.add_raw_string(value);
        continue;
      }
      std::string bytes;
      c = next(&bytes);
      if (c == escape) {
        if (lexer.raw_escapes) {
          words.add_raw_char(c);
          result += bytes;
        }
        bytes.clear();
        c = next(&bytes);
        if (c == kEnd) break;  // an escape token at the very end is dropped
        words.add_raw_string(bytes);
      } else if (c == 0xFFFD && bytes.size() == 1) {
        words.add_raw_string(bytes);  // an invalid byte: keep it, it is no space
      } else {
        words.add_char(c);
      }
      result += bytes;
    }
    if (stop != kEnd) {
      std::string s;
      append_rune(s, stop);
      bad("unexpected end of statement while looking for matching " + s);
    }
    return {std::move(result), words.finish()};
  }

  std::string process_single_quote() {
    // Everything up to the next ' is literal; a ' cannot be escaped inside.
    std::string result;
    char32_t c = next();
    if (lexer.raw_quotes) append_rune(result, c);
    for (;;) {
      if (peek() == kEnd) bad("unexpected end of statement while looking for matching single-quote");
      if (peek() == '\'') {
        next();
        if (lexer.raw_quotes) result += '\'';
        return result;
      }
      copy_next(result);
    }
  }

  std::string process_double_quote() {
    // Literal except $ expansions; the escape token escapes only ", $ and itself.
    std::string result;
    char32_t escape = static_cast<unsigned char>(lexer.escape());
    next();
    if (lexer.raw_quotes) result += '"';
    for (;;) {
      char32_t c = peek();
      if (c == kEnd) bad("unexpected end of statement while looking for matching double-quote");
      if (c == '"') {
        next();
        if (lexer.raw_quotes) result += '"';
        return result;
      }
      if (c == '$') {
        result += process_dollar();
        continue;
      }
      std::string bytes;
      c = next(&bytes);
      if (c == escape) {
        if (lexer.raw_escapes) result += bytes;
        char32_t after = peek();
        if (after == kEnd) continue;  // reported as unterminated on the next turn
        if (after == '"' || after == '$' || after == escape) {
          bytes.clear();
          next(&bytes);
        }
      }
      result += bytes;
    }
  }

  // A name after $: digits (positional), one special character, or letters,
  // digits and underscores.
  std::string process_name() {
    std::string name;
    while (peek() != kEnd) {
      char32_t c = peek();
      if (name.empty() && is_digit(c)) {
        while (peek() != kEnd && is_digit(peek())) copy_next(name);
        return name;
      }
      if (name.empty() && (c == '@' || c == '*' || c == '#' || c == '?' || c == '-' ||
                           c == '$' || c == '!' || c == '0')) {
        copy_next(name);
        return name;
      }
      if (!is_letter(c) && !is_digit(c) && c != '_') break;
      copy_next(name);
    }
    return name;
  }

  std::string word_until(char32_t stop) {
    try {
      return process_until(stop).first;
    } catch (const Error&) {
      if (peek() == kEnd) bad("syntax error: missing '}'");
      throw;
    }
  }

  std::string process_dollar() {
    next();  // the $
    if (peek() != '{') {
      std::string name = process_name();
      if (name.empty()) return "$";
      auto value = get_env(name);
      if (!value && lexer.skip_unset) return "$" + name;
      return value.value_or("");
    }
    next();  // the {
    switch (peek()) {
      case kEnd: bad("syntax error: missing '}'");
      case '{': case '}': case ':': bad("syntax error: bad substitution");
      default: break;
    }
    std::string name = process_name();
    char32_t c = next();
    switch (c) {
      case '}': {
        auto value = get_env(name);
        if (!value && lexer.skip_unset) return "${" + name + "}";
        return value.value_or("");
      }
      case '?': {
        std::string word = word_until('}');
        auto value = get_env(name);
        if (!value) {
          if (lexer.skip_unset) return "${" + name + "?" + word + "}";
          bad(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
        }
        return *value;
      }
      case ':': {
        char32_t modifier = next();
        std::string word = word_until('}');
        auto value = get_env(name);
        if (!value && lexer.skip_unset) {
          std::string m;
          append_rune(m, modifier);
          return "${" + name + ":" + m + word + "}";
        }
        std::string v = value.value_or("");
        switch (modifier) {
          case '+': return v.empty() ? "" : word;
          case '-': return v.empty() ? word : v;
          case '?':
            if (!value) bad(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
            if (v.empty()) bad(name + ": " + (word.empty() ? "is not allowed to be empty" : word));
            return v;
          default: {
            std::string m;
            if (modifier != kEnd) append_rune(m, modifier);
            bad("unsupported modifier (" + m + ") in substitution");
          }
        }
      }
      case '+': case '-': {
        std::string word = word_until('}');
        auto value = get_env(name);
        if (!value && lexer.skip_unset) return "${" + name + static_cast<char>(c) + word + "}";
        if (c == '+') return value ? word : "";
        return value ? *value : word;
      }
      case '#': case '%': {
        bool longest = peek() == c;
        if (longest) next();
        std::string pattern = word_until('}');
        auto value = get_env(name);
        if (!value && lexer.skip_unset) {
          std::string op(longest ? 2 : 1, static_cast<char>(c));
          return "${" + name + op + pattern + "}";
        }
        return c == '#' ? trim_prefix(value.value_or(""), pattern, longest)
                        : trim_suffix(value.value_or(""), pattern, longest);
      }
      case '/': {
        bool all = peek() == '/';
        if (all) next();
        std::string pattern = word_until_either();
        std::string replacement;
        if (ended_on_slash_) replacement = word_until('}');
        auto value = get_env(name);
        if (!value && lexer.skip_unset) {
          return "${" + name + (all ? "//" : "/") + pattern + "/" + replacement + "}";
        }
        return replace(value.value_or(""), pattern, replacement, all);
      }
      default: {
        std::string m;
        if (c != kEnd) append_rune(m, c);
        if (c == kEnd) bad("syntax error: missing '}'");
        bad("unsupported modifier (" + m + ") in substitution");
      }
    }
  }

  // ${VAR/pattern/replacement}: the pattern ends at '/' or at '}' (no replacement).
  bool ended_on_slash_ = false;
  std::string word_until_either() {
    std::string pattern;
    while (peek() != kEnd && peek() != '/' && peek() != '}') {
      char32_t c = peek();
      if (c == '$') {
        pattern += process_dollar();
      } else if (c == static_cast<unsigned char>(lexer.escape())) {
        next();
        if (peek() != kEnd) copy_next(pattern);
      } else {
        copy_next(pattern);
      }
    }
    if (peek() == kEnd) bad("syntax error: missing '}'");
    ended_on_slash_ = next() == '/';
    return pattern;
  }

  static bool matches(const std::string& pattern, const std::string& text) {
    return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
  }
  static std::string trim_prefix(const std::string& value, const std::string& pattern,
                                 bool longest) {
    if (longest) {
      for (std::size_t n = value.size() + 1; n-- > 0;)
        if (matches(pattern, value.substr(0, n))) return value.substr(n);
    } else {
      for (std::size_t n = 0; n <= value.size(); ++n)
        if (matches(pattern, value.substr(0, n))) return value.substr(n);
    }
    return value;
  }
  static std::string trim_suffix(const std::string& value, const std::string& pattern,
                                 bool longest) {
    if (longest) {
      for (std::size_t n = 0; n <= value.size(); ++n)
        if (matches(pattern, value.substr(n))) return value.substr(0, n);
    } else {
      for (std::size_t n = value.size() + 1; n-- > 0;)
        if (matches(pattern, value.substr(n))) return value.substr(0, n);
    }
    return value;
  }
  static std::string replace(const std::string& value, const std::string& pattern,
                             const std::string& replacement, bool all) {
    if (pattern.empty()) return value;
    std::string out;
    std::size_t i = 0;
    while (i < value.size()) {
      std::size_t found = std::string::npos;
      for (std::size_t end = value.size(); end > i; --end) {
        if (matches(pattern, value.substr(i, end - i))) {
          found = end;
          break;
        }
      }
      if (found == std::string::npos) {
        out += value[i++];
        continue;
      }
      out += replacement;
      i = found;
      if (!all) {
        out += value.substr(i);
        return out;
      }
    }
    return out;
  }
};

}  // namespace

std::string ShellLexer::process_word(std::string_view word, const EnvLookup& env,
                                     std::set<std::string>* used) const {
  Scan scan{*this, word, env, used};
  try {
    return scan.process_until(kEnd).first;
  } catch (const Error& e) {
    bad(fmt::format("failed to process \"{}\": {}", word, e.what()));
  }
}

std::vector<std::string> ShellLexer::process_words(std::string_view word, const EnvLookup& env,
                                                   std::set<std::string>* used) const {
  Scan scan{*this, word, env, used};
  try {
    return scan.process_until(kEnd).second;
  } catch (const Error& e) {
    bad(fmt::format("failed to process \"{}\": {}", word, e.what()));
  }
}

}  // namespace kiln::dockerfile
