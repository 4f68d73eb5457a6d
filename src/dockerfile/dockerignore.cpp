// Pattern compilation for .dockerignore. Each pattern gets one of Docker's
// match types: exact (no wildcard), prefix ("dir/**"), suffix ("**/name",
// "**.go") or a regular expression; the regex anchors the whole path and lets
// a match continue below a directory ("(/.*)?$").
#include "dockerfile/dockerignore.hpp"

#include "dockerfile/runes.hpp"
#include "util/error.hpp"

namespace kiln::dockerfile {

struct DockerIgnore::Pattern {
  enum class Type { exact, prefix, suffix, regex };
  std::string text;               // cleaned, without '!'
  bool exception = false;
  Type type = Type::exact;
  std::regex regex;
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
      case Type::regex: return std::regex_match(path.begin(), path.end(), regex);
    }
    return false;
  }
};

namespace {

[[noreturn]] void bad(std::string message) {
  throw Error(std::move(message), ErrorKind::invalid_input);
}

bool regex_special(char c) {
  return c == '.' || c == '+' || c == '(' || c == ')' || c == '|' || c == '{' || c == '}' ||
         c == '$';
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
  std::string re = "^";
  Type type = Type::exact;
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
            re += ".*";
            type = Type::regex;
          }
        } else {
          re += "(.*/)?";  // any number of directories, even none
          type = Type::regex;
        }
        if (first) type = Type::suffix;
      } else {
        re += "[^/]*";
        type = Type::regex;
      }
    } else if (c == '?') {
      re += "[^/]";
      type = Type::regex;
    } else if (regex_special(c)) {
      re += '\\';
      re += c;
    } else if (c == '\\') {
      if (i < text.size()) {
        re += '\\';
        re += text[i++];
        type = Type::regex;
      } else {
        re += "\\\\";
      }
    } else if (c == '[' || c == ']') {
      re += c;
      type = Type::regex;
    } else {
      re += c;
    }
  }
  re += "(/.*)?$";
  p->type = type;
  p->text = text;
  if (type == Type::regex) {
    try {
      p->regex = std::regex(re, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      bad(fmt::format("syntax error in pattern: {}", go_quote(text)));
    }
  }
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
