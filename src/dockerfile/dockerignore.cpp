// Pattern compilation for .dockerignore. Each pattern gets one of Docker's
// match types: exact (no wildcard), prefix ("dir/**"), suffix ("**/name",
// "**.go") or a glob of tokens, matched by backtracking; as Docker's regex
// ("^...(/.*)?$") it anchors the whole path and lets a match end at a '/'.
#include "dockerfile/dockerignore.hpp"

#include "dockerfile/runes.hpp"
#include "util/error.hpp"

namespace kiln::dockerfile {

// One element of a compiled pattern.
struct Token {
  enum class Type {
    literal,    // bytes that must appear as they are
    star,       // '*': any run of characters except '/'
    one,        // '?': one character except '/'
    set,        // '[...]': one character in (or, with '^', not in) the ranges
    dirs,       // '**' followed by more: any number of whole directories, even none
    rest,       // '**' at the end after a wildcard: anything
  };
  Type type = Type::literal;
  std::string text;
  bool negate = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;
};

struct DockerIgnore::Pattern {
  enum class Type { exact, prefix, suffix, glob };
  std::string text;               // cleaned, without '!'
  bool exception = false;
  Type type = Type::exact;
  std::vector<Token> tokens;      // for glob
  std::vector<std::string> parts; // text split at '/'

  bool match(std::string_view path) const {
    switch (type) {
      case Type::exact: return path == text;
      case Type::prefix: return path.starts_with(std::string_view(text).substr(0, text.size() - 2));
      case Type::suffix: {
        std::string_view suffix = std::string_view(text).substr(2);
        if (path.ends_with(suffix)) return true;
        return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);
      }
      case Type::glob: return glob(0, path, 0);
    }
    return false;
  }

  // Backtracking match of tokens[i...] against path[pos...]; like Docker's regex, a
  // match may stop at a '/' (the rest lies below a matched directory).
  bool glob(std::size_t i, std::string_view path, std::size_t pos) const {
    if (i == tokens.size()) return pos == path.size() || path[pos] == '/';
    const Token& t = tokens[i];
    switch (t.type) {
      case Token::Type::literal:
        return path.substr(pos).starts_with(t.text) && glob(i + 1, path, pos + t.text.size());
      case Token::Type::star:
        for (std::size_t end = pos;; ++end) {
          if (glob(i + 1, path, end)) return true;
          if (end == path.size() || path[end] == '/') return false;
        }
      case Token::Type::one:
      case Token::Type::set: {
        if (pos >= path.size()) return false;
        Rune r = decode_rune(path, pos);
        if (t.type == Token::Type::one) {
          if (r.value == '/') return false;
        } else {
          bool in = false;
          for (const auto& [low, high] : t.ranges) in = in || (r.value >= low && r.value <= high);
          if (in == t.negate) return false;
        }
        return glob(i + 1, path, pos + r.width);
      }
      case Token::Type::dirs:
        if (glob(i + 1, path, pos)) return true;
        for (std::size_t j = pos; j < path.size(); ++j) {
          if (path[j] == '/' && glob(i + 1, path, j + 1)) return true;
        }
        return false;
      case Token::Type::rest:
        for (std::size_t end = path.size() + 1; end-- > pos;) {
          if (glob(i + 1, path, end)) return true;
        }
        return false;
    }
    return false;
  }
};

namespace {

[[noreturn]] void bad(std::string message) {
  throw Error(std::move(message), ErrorKind::invalid_input);
}

// Rejects what filepath.Match rejects: an unterminated '[' class or a trailing '\'
// inside one.
void check_syntax(std::string_view pattern) {
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
      continue;
    }
    if (pattern[i] != '[') continue;
    std::size_t j = i + 1;
    if (j < pattern.size() && pattern[j] == '^') ++j;
    bool closed = false;
    bool first = true;
    for (; j < pattern.size(); ++j) {
      if (pattern[j] == '\\') {
        ++j;
        continue;
      }
      if (pattern[j] == ']' && !first) {
        closed = true;
        break;
      }
      first = false;
    }
    if (!closed) bad(fmt::format("syntax error in pattern: {}", go_quote(pattern)));
    i = j;
  }
}

std::shared_ptr<DockerIgnore::Pattern> compile(std::string text) {
  auto p = std::make_shared<DockerIgnore::Pattern>();
  if (!text.empty() && text[0] == '!') {
    if (text.size() == 1) bad("illegal exclusion pattern: \"!\"");
    p->exception = true;
    text = text.substr(1);
  }
  check_syntax(text);
  using Type = DockerIgnore::Pattern::Type;
  Type type = Type::exact;
  std::vector<Token> tokens;
  auto literal = [&](std::string_view bytes) {
    if (tokens.empty() || tokens.back().type != Token::Type::literal) tokens.push_back({});
    tokens.back().text += bytes;
  };
  auto add = [&](Token::Type t) {
    Token token;
    token.type = t;
    tokens.push_back(std::move(token));
  };
  for (std::size_t i = 0; i < text.size();) {
    bool first = i == 0;
    char c = text[i++];
    if (c == '*') {
      if (i < text.size() && text[i] == '*') {
        ++i;
        if (i < text.size() && text[i] == '/') ++i;  // "**/" is "**"
        if (i == text.size()) {
          if (type == Type::exact) {
            type = Type::prefix;
          } else {
            add(Token::Type::rest);
            type = Type::glob;
          }
        } else {
          add(Token::Type::dirs);
          type = Type::glob;
        }
        if (first) type = Type::suffix;
      } else {
        add(Token::Type::star);
        type = Type::glob;
      }
    } else if (c == '?') {
      add(Token::Type::one);
      type = Type::glob;
    } else if (c == '\\') {
      if (i < text.size()) {
        Rune r = decode_rune(text, i);
        literal(std::string_view(text).substr(i, r.width));
        i += r.width;
        type = Type::glob;
      } else {
        literal("\\");
      }
    } else if (c == '[') {
      // check_syntax() guarantees the closing ']'.
      Token set;
      set.type = Token::Type::set;
      if (i < text.size() && text[i] == '^') {
        set.negate = true;
        ++i;
      }
      bool opening = true;
      while (i < text.size() && (text[i] != ']' || opening)) {
        opening = false;
        if (text[i] == '\\') ++i;
        Rune low = decode_rune(text, i);
        i += low.width;
        char32_t high = low.value;
        if (i + 1 < text.size() && text[i] == '-' && text[i + 1] != ']') {
          ++i;
          if (text[i] == '\\') ++i;
          Rune r = decode_rune(text, i);
          i += r.width;
          high = r.value;
        }
        set.ranges.emplace_back(low.value, high);
      }
      ++i;  // the ']'
      tokens.push_back(std::move(set));
      type = Type::glob;
    } else if (c == ']') {
      literal("]");
      type = Type::glob;
    } else {
      literal(std::string_view(&c, 1));
    }
  }
  p->type = type;
  p->text = text;
  p->tokens = std::move(tokens);
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = text.find('/', start);
    p->parts.push_back(text.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return p;
}

std::vector<std::string> split_slash(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    out.emplace_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string_view trim(std::string_view text) {
  const char* ws = " \t\r\n\f\v";
  std::size_t b = text.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return text.substr(b, text.find_last_not_of(ws) - b + 1);
}

}  // namespace

std::string clean_path(std::string_view path) {
  if (path.empty()) return ".";
  bool rooted = path[0] == '/';
  std::vector<std::string> parts;
  for (auto& part : split_slash(path)) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

DockerIgnore::DockerIgnore(std::vector<std::string> patterns) {
  for (auto& raw : patterns) {
    std::string text(trim(raw));
    if (text.empty()) continue;
    bool exception = text[0] == '!';
    if (exception && text.size() > 1) {
      text = "!" + clean_path(text.substr(1));
    } else if (!exception) {
      text = clean_path(text);
    }
    auto compiled = compile(text);
    has_exceptions_ = has_exceptions_ || compiled->exception;
    compiled_.push_back(std::move(compiled));
    texts_.push_back(std::move(text));
  }
}

DockerIgnore DockerIgnore::parse(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<std::string> patterns;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.starts_with("#")) continue;  // comments only in column one, before trimming
    line = trim(line);
    if (line.empty()) continue;
    bool exception = line[0] == '!';
    if (exception) line = trim(line.substr(1));
    std::string pattern;
    if (!line.empty()) {
      pattern = clean_path(line);
      if (pattern.size() > 1 && pattern[0] == '/') pattern.erase(0, 1);
    }
    patterns.push_back(exception ? "!" + pattern : pattern);
  }
  return DockerIgnore(std::move(patterns));
}

bool DockerIgnore::excluded(std::string_view path) const {
  std::string file = clean_path(path);
  std::size_t slash = file.rfind('/');
  std::string parent = slash == std::string::npos ? "." : file.substr(0, slash);
  auto parent_dirs = split_slash(parent);
  bool matched = false;
  for (const auto& pattern : compiled_) {
    // An exception only matters once excluded, an exclusion only while not.
    if (pattern->exception != matched) continue;
    bool match = pattern->match(file);
    if (!match && parent != ".") {
      std::string prefix;
      for (std::size_t i = 0; i < parent_dirs.size() && !match; ++i) {
        if (i > 0) prefix += '/';
        prefix += parent_dirs[i];
        match = pattern->match(prefix);
      }
    }
    if (match) matched = !pattern->exception;
  }
  return matched;
}

bool DockerIgnore::may_include_under(std::string_view dir) const {
  auto dir_parts = split_slash(clean_path(dir));
  for (const auto& pattern : compiled_) {
    if (!pattern->exception) continue;
    bool possible = true;
    for (std::size_t i = 0; i < dir_parts.size(); ++i) {
      if (i >= pattern->parts.size()) break;  // the pattern names dir or an ancestor
      const std::string& part = pattern->parts[i];
      if (part.find("**") != std::string::npos) break;
      auto one = compile(part);
      if (!one->match(dir_parts[i])) {
        possible = false;
        break;
      }
    }
    if (possible) return true;
  }
  return false;
}

std::string dockerfile_ignore_name(std::string_view dockerfile_path) {
  return std::string(dockerfile_path) + ".dockerignore";
}

}  // namespace kiln::dockerfile
