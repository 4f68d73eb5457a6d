// Argument shapes per instruction. These follow BuildKit's parser closely
// because the dump of their result is what conformance compares: e.g. ENV
// keeps quotes raw (expansion happens later), EXPOSE splits on white space,
// CMD falls back to one shell-form string when the JSON is malformed but fails
// when it is well-formed JSON holding something other than strings.
#include "dockerfile/line_parsers.hpp"

#include "dockerfile/runes.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace kiln::dockerfile::detail {
namespace {

[[noreturn]] void bad(std::string message) {
  throw Error(std::move(message), ErrorKind::invalid_input);
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

// Byte-wise unicode.IsSpace(rune(byte)) as BuildKit's flag scanner applies it.
bool is_space_byte(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0;
}

struct Parsed {
  std::vector<std::string> args;
  bool json = false;
  std::shared_ptr<Instruction> sub;
};

// Leading "--flag" words; returns the rest of the line. A bare "--" ends the flags.
std::string_view extract_flags(std::string_view line, std::vector<std::string>& flags) {
  enum { in_spaces, in_word, in_quote } phase = in_spaces;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (std::size_t pos = 0; pos <= line.size(); ++pos) {
    char c = pos < line.size() ? line[pos] : '\0';
    if (phase == in_spaces) {
      if (pos == line.size()) break;
      if (is_space_byte(static_cast<unsigned char>(c))) continue;
      if (c != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return line.substr(pos);
      phase = in_word;
    }
    if (pos == line.size()) {
      if (word != "--" && (blank_ok || !word.empty())) flags.push_back(word);
      break;
    }
    if (phase == in_word) {
      if (is_space_byte(static_cast<unsigned char>(c))) {
        phase = in_spaces;
        if (word == "--") return line.substr(pos);
        if (blank_ok || !word.empty()) flags.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (c == '\'' || c == '"') {
        quote = c;
        blank_ok = true;
        phase = in_quote;
        continue;
      }
      if (c == '\\') {
        if (pos + 1 == line.size()) continue;
        c = line[++pos];
      }
      word += c;
      continue;
    }
    // in_quote
    if (c == quote) {
      phase = in_word;
      continue;
    }
    if (c == '\\') {
      if (pos + 1 == line.size()) {
        phase = in_word;
        continue;
      }
      c = line[++pos];
    }
    word += c;
  }
  return {};
}

std::string_view trim_left_space(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    Rune r = decode_rune(text, pos);
    if (!is_space(r.value)) break;
    pos += r.width;
  }
  return text.substr(pos);
}

// A JSON array of strings. nullopt when rest is not JSON (shell form follows);
// throws when it is a JSON array holding something other than strings.
std::optional<std::vector<std::string>> parse_json(std::string_view rest) {
  rest = trim_left_space(rest);
  if (rest.empty() || rest.front() != '[') return std::nullopt;
  Json parsed = Json::parse(rest.begin(), rest.end(), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& element : parsed) {
    if (!element.is_string())
      bad("when using JSON array syntax, arrays must be comprised of strings only");
    out.push_back(element.get<std::string>());
  }
  return out;
}

Parsed parse_maybe_json(std::string_view rest) {
  if (rest.empty()) return {};
  if (auto array = parse_json(rest)) return {std::move(*array), true, nullptr};
  return {{std::string(rest)}, false, nullptr};
}

Parsed parse_whitespace_list(std::string_view rest) {
  if (rest.empty()) return {};
  return {split_whitespace(rest), false, nullptr};
}

Parsed parse_maybe_json_to_list(std::string_view rest) {
  if (auto array = parse_json(rest)) return {std::move(*array), true, nullptr};
  return parse_whitespace_list(rest);
}

Parsed parse_string(std::string_view rest) {
  if (rest.empty()) return {};
  return {{std::string(rest)}, false, nullptr};
}

// ENV and LABEL: `KEY name value...` (legacy, one pair) or `KEY a=b c=d`.
Parsed parse_name_value(std::string_view rest, std::string_view key, char escape) {
  auto words = parse_words(rest, escape);
  if (words.empty()) return {};
  Parsed out;
  if (words[0].find('=') == std::string::npos) {
    auto parts = split_whitespace(rest, 2);
    if (parts.size() < 2) bad(fmt::format("{} must have two arguments", key));
    out.args = {parts[0], parts[1], ""};
    return out;
  }
  for (const auto& word : words) {
    auto eq = word.find('=');
    if (eq == std::string::npos) {
      bad(fmt::format("Syntax error - can't find = in {}. Must be of the form: name=value",
                      go_quote(word)));
    }
    out.args.push_back(word.substr(0, eq));
    out.args.push_back(word.substr(eq + 1));
    out.args.push_back("=");
  }
  return out;
}

// HEALTHCHECK: a type word (CMD, NONE) and then a command like CMD's.
Parsed parse_health(std::string_view rest) {
  std::size_t sep = 0;
  while (sep < rest.size() && !is_space_byte(static_cast<unsigned char>(rest[sep]))) ++sep;
  std::size_t next = sep;
  while (next < rest.size() && is_space_byte(static_cast<unsigned char>(rest[next]))) ++next;
  if (sep == 0) return {};
  Parsed command = parse_maybe_json(rest.substr(next));
  command.args.insert(command.args.begin(), std::string(rest.substr(0, sep)));
  return command;
}

}  // namespace

std::string_view trim_space(std::string_view text) {
  text = trim_left_space(text);
  while (!text.empty()) {
    std::size_t start = text.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    Rune r = decode_rune(text, start);
    if (!is_space(r.value) || start + r.width != text.size()) break;
    text = text.substr(0, start);
  }
  return text;
}

std::vector<std::string> split_whitespace(std::string_view text, int max) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    if (max > 0 && static_cast<int>(out.size()) == max - 1) break;
    if (!is_blank(text[pos])) {
      ++pos;
      continue;
    }
    std::size_t end = pos;
    while (pos < text.size() && is_blank(text[pos])) ++pos;
    out.emplace_back(text.substr(start, end - start));
    start = pos;
  }
  out.emplace_back(text.substr(start));
  return out;
}

std::vector<std::string> parse_words(std::string_view rest, char escape_char) {
  enum { in_spaces, in_word, in_quote } phase = in_spaces;
  const char32_t escape = static_cast<unsigned char>(escape_char);
  std::vector<std::string> words;
  std::string word;
  char32_t quote = 0;
  bool blank_ok = false;
  Rune r{0, 0};
  for (std::size_t pos = 0; pos <= rest.size(); pos += r.width) {
    if (pos != rest.size()) r = decode_rune(rest, pos);
    auto take = [&] { word.append(rest.substr(pos, r.width)); };
    if (phase == in_spaces) {
      if (pos == rest.size()) break;
      if (is_space(r.value)) continue;
      phase = in_word;
    }
    if (pos == rest.size()) {
      if (blank_ok || !word.empty()) words.push_back(word);
      break;
    }
    if (phase == in_word) {
      if (is_space(r.value)) {
        phase = in_spaces;
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (r.value == '\'' || r.value == '"') {
        quote = r.value;
        blank_ok = true;
        phase = in_quote;
      }
      if (r.value == escape) {
        if (pos + r.width == rest.size()) continue;  // an escape at the very end is dropped
        // Unquoted, the escape and the character after it are both kept, even a quote.
        take();
        pos += r.width;
        r = decode_rune(rest, pos);
      }
      take();
      continue;
    }
    // in_quote
    if (r.value == quote) phase = in_word;
    if (r.value == escape && quote != '\'') {
      if (pos + r.width == rest.size()) {
        phase = in_word;
        continue;
      }
      take();
      pos += r.width;
      r = decode_rune(rest, pos);
    }
    take();
  }
  return words;
}

Instruction instruction_from_line(std::string_view line, char escape) {
  Instruction out;
  out.original = std::string(line);
  std::string_view trimmed = trim_space(line);
  auto command = split_whitespace(trimmed, 2);
  out.keyword = command[0];
  out.kind = kind_of(out.keyword);
  std::string_view rest;
  if (command.size() == 2) {
    // Flags are read from the untrimmed remainder of the line.
    std::string_view after = trimmed.substr(trimmed.size() - command[1].size());
    rest = trim_space(extract_flags(after, out.flags));
  }

  Parsed parsed;
  switch (out.kind) {
    case Kind::add:
    case Kind::copy:
    case Kind::volume: parsed = parse_maybe_json_to_list(rest); break;
    case Kind::arg: parsed.args = parse_words(rest, escape); break;
    case Kind::cmd:
    case Kind::entrypoint:
    case Kind::run:
    case Kind::shell: parsed = parse_maybe_json(rest); break;
    case Kind::env: parsed = parse_name_value(rest, "ENV", escape); break;
    case Kind::label: parsed = parse_name_value(rest, "LABEL", escape); break;
    case Kind::expose:
    case Kind::from: parsed = parse_whitespace_list(rest); break;
    case Kind::healthcheck: parsed = parse_health(rest); break;
    case Kind::maintainer:
    case Kind::stopsignal:
    case Kind::user:
    case Kind::workdir: parsed = parse_string(rest); break;
    case Kind::onbuild:
      if (!rest.empty()) parsed.sub = std::make_shared<Instruction>(instruction_from_line(rest, escape));
      break;
    case Kind::unknown: parsed.args = {""}; break;
  }
  out.args = std::move(parsed.args);
  out.json = parsed.json;
  out.sub = std::move(parsed.sub);
  return out;
}

}  // namespace kiln::dockerfile::detail
