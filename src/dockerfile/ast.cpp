// Keyword table and the BuildKit-compatible dump of parsed instructions.
#include "dockerfile/ast.hpp"

#include <array>
#include <utility>

#include "dockerfile/runes.hpp"
#include "util/text.hpp"

namespace kiln::dockerfile {
namespace {

constexpr std::array<std::pair<Kind, std::string_view>, 18> kKeywords{{
    {Kind::add, "ADD"},
    {Kind::arg, "ARG"},
    {Kind::cmd, "CMD"},
    {Kind::copy, "COPY"},
    {Kind::entrypoint, "ENTRYPOINT"},
    {Kind::env, "ENV"},
    {Kind::expose, "EXPOSE"},
    {Kind::from, "FROM"},
    {Kind::healthcheck, "HEALTHCHECK"},
    {Kind::label, "LABEL"},
    {Kind::maintainer, "MAINTAINER"},
    {Kind::onbuild, "ONBUILD"},
    {Kind::run, "RUN"},
    {Kind::shell, "SHELL"},
    {Kind::stopsignal, "STOPSIGNAL"},
    {Kind::user, "USER"},
    {Kind::volume, "VOLUME"},
    {Kind::workdir, "WORKDIR"},
}};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

// Go's strings.ToLower for the keyword; keywords that matter are ASCII.
// Go's strings.TrimSpace, for the one place the dump applies it.
std::string trim_space(std::string text) {
  std::size_t begin = 0;
  while (begin < text.size()) {
    Rune r = decode_rune(text, begin);
    if (!is_space(r.value)) break;
    begin += r.width;
  }
  std::size_t end = text.size();
  while (end > begin) {
    std::size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    Rune r = decode_rune(text, start);
    if (!is_space(r.value) || start + r.width != end) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

}  // namespace

std::string_view keyword_of(Kind kind) {
  for (const auto& [k, word] : kKeywords) {
    if (k == kind) return word;
  }
  return "";
}

Kind kind_of(std::string_view keyword) {
  for (const auto& [k, word] : kKeywords) {
    if (equal_ignoring_case(word, keyword)) return k;
  }
  return Kind::unknown;
}

std::optional<std::string> Dockerfile::directive(std::string_view name) const {
  for (const auto& d : directives) {
    if (d.name == name) return d.value;
  }
  return std::nullopt;
}

std::string dump(const Instruction& instruction) {
  std::string out = util::ascii_lower(instruction.keyword);
  if (!instruction.flags.empty()) {
    // Go's %q of a []string: [ "a" "b" ].
    out += " [";
    for (std::size_t i = 0; i < instruction.flags.size(); ++i) {
      if (i > 0) out += ' ';
      out += go_quote(instruction.flags[i]);
    }
    out += ']';
  }
  if (instruction.sub) out += " " + trim_space("(" + dump(*instruction.sub) + ")\n");
  for (const auto& arg : instruction.args) out += " " + go_quote(arg);
  return trim_space(std::move(out));
}

std::string dump(const Dockerfile& dockerfile) {
  std::string out;
  for (const auto& instruction : dockerfile.instructions) out += "(" + dump(instruction) + ")\n";
  return out;
}

}  // namespace kiln::dockerfile
