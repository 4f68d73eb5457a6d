// The line loop of the Dockerfile parser. Physical lines are read keeping
// their newlines (heredoc bodies need them); a logical line is built by
// joining continuation lines (escape token, then only blanks, at the end),
// skipping comment lines and empty lines inside it as BuildKit does. Parser
// directives are recognised only while every line so far was a directive.
#include "dockerfile/parser.hpp"

#include <algorithm>

#include "dockerfile/line_parsers.hpp"
#include "dockerfile/runes.hpp"
#include "dockerfile/shell_lexer.hpp"
#include "util/error.hpp"

namespace kiln::dockerfile {
namespace {

struct Lines {
  std::string_view text;
  std::size_t pos = 0;
  /// The next physical line including its '\n', or nullopt at the end.
  std::optional<std::string_view> next() {
    if (pos >= text.size()) return std::nullopt;
    std::size_t end = text.find('\n', pos);
    end = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view line = text.substr(pos, end - pos);
    pos = end;
    return line;
  }
};

std::string_view trim_newline(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

std::string_view trim_leading_space(std::string_view line) {
  std::size_t pos = 0;
  while (pos < line.size()) {
    Rune r = decode_rune(line, pos);
    if (!is_space(r.value)) break;
    pos += r.width;
  }
  return line.substr(pos);
}

bool is_comment(std::string_view line) {
  line = trim_leading_space(line);
  return !line.empty() && line.front() == '#';
}

bool is_regex_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_alnum(char c) { return is_ascii_alpha(c) || (c >= '0' && c <= '9'); }

// `#\s*name\s*=\s*value\s*` with name [a-zA-Z][a-zA-Z0-9]*; nullopt when it does not match.
std::optional<Directive> match_directive(std::string_view line) {
  if (line.empty() || line.front() != '#') return std::nullopt;
  std::size_t pos = 1;
  while (pos < line.size() && is_regex_space(line[pos])) ++pos;
  if (pos >= line.size() || !is_ascii_alpha(line[pos])) return std::nullopt;
  std::size_t name_start = pos;
  while (pos < line.size() && is_ascii_alnum(line[pos])) ++pos;
  std::string name(line.substr(name_start, pos - name_start));
  while (pos < line.size() && is_regex_space(line[pos])) ++pos;
  if (pos >= line.size() || line[pos] != '=') return std::nullopt;
  ++pos;
  while (pos < line.size() && is_regex_space(line[pos])) ++pos;
  std::size_t end = line.size();
  while (end > pos && is_regex_space(line[end - 1])) --end;
  if (end == pos) return std::nullopt;
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return Directive{name, std::string(line.substr(pos, end - pos)), 0};
}

class Parser {
public:
  Parser(std::string_view text, std::string file) : lines_{text} { out_.file = std::move(file); }

  Dockerfile run();

private:
  [[noreturn]] void fail_at(int line, std::string message) {
    throw Error(SourceLocation{out_.file, line, line > 0 ? 1 : 0}, std::move(message));
  }

  // Directive handling for one physical line (newline already trimmed). Returns
  // true when the line was a directive.
  bool directive(std::string_view line) {
    ++directive_line_;
    if (directives_done_) return false;
    auto found = match_directive(line);
    if (!found || (found->name != "escape" && found->name != "syntax" && found->name != "check")) {
      directives_done_ = true;
      return false;
    }
    for (const auto& seen : out_.directives) {
      if (seen.name == found->name)
        fail_at(current_ + 1, fmt::format("only one {} parser directive can be used", found->name));
    }
    found->line = directive_line_;
    if (found->name == "escape") {
      if (found->value != "`" && found->value != "\\")
        fail_at(current_ + 1, fmt::format("invalid escape token '{}' does not match ` or \\",
                                      found->value));
      out_.escape = found->value[0];
    }
    out_.directives.push_back(*found);
    return true;
  }

  // Newline trimmed, optionally left-trimmed, directives looked for, comments blanked.
  std::string_view process_line(std::string_view raw, bool strip_left, bool* was_directive) {
    std::string_view line = trim_newline(raw);
    if (strip_left) line = trim_leading_space(line);
    bool found = directive(line);
    if (was_directive) *was_directive = found;
    if (is_comment(line)) return {};
    return line;
  }

  // Removes a trailing continuation token (escape, then blanks); false when there is none.
  // An escaped escape token ("\\") at the end does not continue the line.
  bool trim_continuation(std::string_view& line) const {
    std::size_t end = line.size();
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
    if (end == 0 || line[end - 1] != out_.escape) return false;
    if (end >= 2 && line[end - 2] == out_.escape) return false;
    line = line.substr(0, end - 1);
    return true;
  }

  void read_heredocs(Instruction& instruction, int start);

  Lines lines_;
  Dockerfile out_;
  int current_ = 0;          // physical lines consumed
  int directive_line_ = 0;
  bool directives_done_ = false;
};

// Heredoc delimiters on a RUN/COPY/ADD line: words like `<<EOF`, `<<-"EOF"`, `3<<EOF`.
std::vector<Heredoc> heredocs_in_line(std::string_view line) {
  ShellLexer words_lexer('\\');
  words_lexer.raw_quotes = true;
  words_lexer.raw_escapes = true;
  words_lexer.skip_unset = true;
  std::vector<std::string> words;
  try {
    words = words_lexer.process_words(line, EnvLookup{});
  } catch (const Error&) {
    return {};  // BuildKit ignores lexing errors here: no heredocs
  }
  std::vector<Heredoc> out;
  for (const auto& word : words) {
    std::size_t pos = 0;
    while (pos < word.size() && word[pos] >= '0' && word[pos] <= '9') ++pos;
    if (word.compare(pos, 2, "<<") != 0) continue;
    std::string digits = word.substr(0, pos);
    pos += 2;
    bool chomp = pos < word.size() && word[pos] == '-';
    if (chomp) ++pos;
    std::string rest = word.substr(pos);
    if (rest.empty() || rest.find('<') != std::string::npos) continue;
    ShellLexer name_lexer('\\');
    name_lexer.skip_unset = true;
    auto plain = name_lexer.process_words(rest, EnvLookup{});
    if (plain.size() != 1) continue;
    name_lexer.raw_quotes = true;
    auto raw = name_lexer.process_words(rest, EnvLookup{});
    auto quotes = [](const std::string& s) {
      return std::count(s.begin(), s.end(), '\'') + std::count(s.begin(), s.end(), '"');
    };
    Heredoc doc;
    doc.name = plain[0];
    doc.expand = raw.size() == 1 && quotes(plain[0]) == quotes(raw[0]);
    doc.chomp = chomp;
    doc.fd = digits.empty() ? 0 : static_cast<unsigned>(std::stoul(digits));
    out.push_back(std::move(doc));
  }
  return out;
}

bool can_contain_heredoc(const Instruction& instruction) {
  const Instruction& target =
      instruction.kind == Kind::onbuild && instruction.sub ? *instruction.sub : instruction;
  if (target.kind != Kind::run && target.kind != Kind::copy && target.kind != Kind::add)
    return false;
  return !target.json;
}

std::string chomp_tabs(std::string_view content) {
  std::string out;
  bool line_start = true;
  for (char c : content) {
    if (line_start && c == '\t') continue;
    line_start = c == '\n';
    out += c;
  }
  return out;
}

void Parser::read_heredocs(Instruction& instruction, int start) {
  for (auto& doc : heredocs_in_line(instruction.original)) {
    bool terminated = false;
    while (auto raw = lines_.next()) {
      ++current_;
      std::string_view candidate = trim_newline(*raw);
      if (doc.chomp) {
        while (!candidate.empty() && candidate.front() == '\t') candidate.remove_prefix(1);
      }
      if (candidate == doc.name) {
        terminated = true;
        break;
      }
      doc.content += *raw;
    }
    if (!terminated) fail_at(start, "unterminated heredoc");
    if (doc.chomp) doc.content = chomp_tabs(doc.content);
    instruction.heredocs.push_back(std::move(doc));
  }
}

Dockerfile Parser::run() {
  std::vector<std::string> comments;
  while (auto raw = lines_.next()) {
    std::string_view first = *raw;
    if (current_ == 0 && first.starts_with("\xEF\xBB\xBF")) first.remove_prefix(3);
    if (is_comment(first)) {
      // As BuildKit: the first byte is dropped, not the leading blanks and the #.
      std::string comment(detail::trim_space(first.substr(1)));
      if (comment.empty()) {
        comments.clear();
      } else {
        comments.push_back(comment);
      }
    }
    bool was_directive = false;
    std::string_view line = process_line(first, true, &was_directive);
    if (was_directive && !comments.empty()) comments.pop_back();
    ++current_;
    int start = current_;
    bool end_of_line = !trim_continuation(line);
    if (end_of_line && line.empty()) continue;

    std::string joined(line);
    bool empty_continuation = false;
    while (!end_of_line) {
      auto more = lines_.next();
      if (!more) break;
      std::string_view next_line = process_line(*more, false, nullptr);
      ++current_;
      if (is_comment(trim_newline(*more))) continue;
      if (trim_leading_space(next_line).empty()) {
        empty_continuation = true;
        continue;
      }
      end_of_line = !trim_continuation(next_line);
      joined += next_line;
    }
    if (empty_continuation) {
      out_.warnings.push_back({current_, "Empty continuation line found in: " + joined});
    }

    Instruction instruction;
    try {
      instruction = detail::instruction_from_line(joined, out_.escape);
      if (can_contain_heredoc(instruction) && joined.find("<<") != std::string::npos)
        read_heredocs(instruction, start);
    } catch (const Error& e) {
      if (!e.where().file.empty()) throw;
      fail_at(start, e.what());
    }
    instruction.start_line = start;
    instruction.end_line = current_;
    instruction.comments = std::move(comments);
    comments.clear();
    out_.instructions.push_back(std::move(instruction));
  }
  if (out_.instructions.empty()) fail_at(current_, "file with no instructions");
  return std::move(out_);
}

}  // namespace

Dockerfile parse_syntax(std::string_view text, std::string file) {
  return Parser(text, std::move(file)).run();
}

Dockerfile parse(std::string_view text, std::string file) {
  Dockerfile out = parse_syntax(text, std::move(file));
  validate(out);
  return out;
}

}  // namespace kiln::dockerfile
