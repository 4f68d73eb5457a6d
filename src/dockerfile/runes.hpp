// UTF-8 runes as the Dockerfile grammar sees them: decoding, Unicode space and
// letter classes (BuildKit splits words with Go's unicode.IsSpace and reads
// variable names with unicode.IsLetter), and Go's strconv.Quote, which the
// parser dump format uses for every argument.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::dockerfile {

/// A decoded code point and the bytes it took; invalid UTF-8 gives U+FFFD, width 1.
struct Rune {
  char32_t value;
  std::size_t width;
};

/// Decodes the rune starting at text[pos]; pos must be < text.size().
Rune decode_rune(std::string_view text, std::size_t pos);
/// Appends the UTF-8 encoding of c to out.
void append_rune(std::string& out, char32_t c);
/// Go's unicode.IsSpace: ASCII white space, U+0085, U+00A0 and the Unicode Zs/Zl/Zp spaces.
bool is_space(char32_t c);
/// Go's unicode.IsLetter, approximated outside ASCII (letters of every script count).
bool is_letter(char32_t c);
/// Go's unicode.IsDigit for ASCII and the common decimal digit blocks.
bool is_digit(char32_t c);
/// Go's strconv.Quote: "a\"b", control bytes as \x00, printable UTF-8 kept.
std::string go_quote(std::string_view text);

}  // namespace kiln::dockerfile
