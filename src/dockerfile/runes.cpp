// Rune classes and Go-compatible quoting for the Dockerfile front end.
#include "dockerfile/runes.hpp"

#include <fmt/format.h>

namespace kiln::dockerfile {

Rune decode_rune(std::string_view text, std::size_t pos) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char b0 = byte(pos);
  if (b0 < 0x80) return {b0, 1};
  std::size_t need = 0;
  char32_t value = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    need = 1, value = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    need = 2, value = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    need = 3, value = b0 & 0x07, min = 0x10000;
  } else {
    return {0xFFFD, 1};
  }
  if (pos + need >= text.size()) return {0xFFFD, 1};
  for (std::size_t i = 1; i <= need; ++i) {
    unsigned char b = byte(pos + i);
    if ((b & 0xC0) != 0x80) return {0xFFFD, 1};
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return {0xFFFD, 1};
  return {value, need + 1};
}

void append_rune(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool is_space(char32_t c) {
  switch (c) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_digit(char32_t c) {
  if (c >= '0' && c <= '9') return true;
  // Arabic-Indic, Devanagari, fullwidth: the blocks a Dockerfile might plausibly hold.
  return (c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9) ||
         (c >= 0x966 && c <= 0x96F) || (c >= 0xFF10 && c <= 0xFF19);
}

bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c < 0xC0) return c == 0xAA || c == 0xB5 || c == 0xBA;
  if (c == 0xD7 || c == 0xF7) return false;
  if (is_space(c) || is_digit(c)) return false;
  // Punctuation, symbols and marks blocks that hold no letters.
  if (c >= 0x2000 && c <= 0x2BFF) return false;  // punctuation, arrows, math, boxes
  if (c >= 0x3000 && c <= 0x303F) return false;  // CJK punctuation
  if (c >= 0xFE30 && c <= 0xFE4F) return false;  // CJK compatibility forms
  if (c >= 0xFF00 && c <= 0xFF20) return false;  // fullwidth punctuation
  if (c >= 0xE000 && c <= 0xF8FF) return false;  // private use
  if (c == 0xFFFD || c == 0xFEFF) return false;
  if (c >= 0x1F000 && c <= 0x1FAFF) return false;  // emoji and pictographs
  if (c >= 0x300 && c <= 0x36F) return false;  // combining marks
  return true;
}

namespace {

// Go's unicode.IsPrint outside ASCII, approximated: everything valid except
// controls, format characters and separators other than U+0020.
bool printable(char32_t c) {
  if (c >= 0x80 && c <= 0x9F) return false;
  if (c == 0xAD || c == 0x61C || c == 0x180E || c == 0xFEFF) return false;
  if (c >= 0x200B && c <= 0x200F) return false;
  if (c >= 0x2028 && c <= 0x202E) return false;
  if (c >= 0x2060 && c <= 0x206F) return false;
  if (c >= 0xFFF9 && c <= 0xFFFB) return false;
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  if (c >= 0xE000 && c <= 0xF8FF) return false;
  if (c == 0xFFFE || c == 0xFFFF) return false;
  if (is_space(c)) return false;
  return true;
}

}  // namespace

std::string go_quote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t pos = 0; pos < text.size();) {
    unsigned char b = static_cast<unsigned char>(text[pos]);
    if (b < 0x80) {
      switch (b) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default:
          if (b < 0x20 || b == 0x7F) {
            out += fmt::format("\\x{:02x}", b);
          } else {
            out += static_cast<char>(b);
          }
      }
      ++pos;
      continue;
    }
    Rune r = decode_rune(text, pos);
    if (r.value == 0xFFFD && r.width == 1) {
      out += fmt::format("\\x{:02x}", b);
    } else if (printable(r.value)) {
      out.append(text.substr(pos, r.width));
    } else if (r.value < 0x10000) {
      out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(r.value));
    } else {
      out += fmt::format("\\U{:08x}", static_cast<std::uint32_t>(r.value));
    }
    pos += r.width;
  }
  out += '"';
  return out;
}

}  // namespace kiln::dockerfile
