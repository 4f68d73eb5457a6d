// The parsed form of a Dockerfile: one Instruction per logical line (after
// continuations are joined), with its flags, its arguments in the shape
// BuildKit's parser gives them, JSON (exec) form, heredoc bodies and the
// lines it spans. dump() renders it in BuildKit's parser-test format, which
// the conformance test compares byte for byte.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::dockerfile {

/// The instruction keywords kiln knows; unknown keeps any other word (rejected by parse()).
enum class Kind {
  add, arg, cmd, copy, entrypoint, env, expose, from, healthcheck, label,
  maintainer, onbuild, run, shell, stopsignal, user, volume, workdir, unknown,
};

/// The upper-case keyword of a kind ("RUN"); "" for unknown.
std::string_view keyword_of(Kind kind);
/// The kind named by a keyword, case-insensitively; Kind::unknown otherwise.
Kind kind_of(std::string_view keyword);

/// A here-document attached to RUN, COPY or ADD (`<<EOF`, `<<-EOF`, `<<"EOF"`).
struct Heredoc {
  std::string name;      ///< delimiter with quotes removed; also the file name for COPY <<EOF
  std::string content;   ///< body lines with their newlines; leading tabs removed for <<-
  bool expand = true;    ///< false when any part of the delimiter was quoted
  bool chomp = false;    ///< the <<- form
  unsigned fd = 0;       ///< the digits before <<, e.g. 3 in 3<<EOF (0 when none)
};

/// One instruction as parsed.
struct Instruction {
  Kind kind = Kind::unknown;
  std::string keyword;               ///< as written, e.g. "RUN" or "run"
  std::string original;              ///< the logical line, continuations joined
  int start_line = 0;                ///< 1-based, first physical line
  int end_line = 0;                  ///< 1-based, last physical line (heredoc bodies included)
  std::vector<std::string> flags;    ///< leading "--name=value" words, quotes removed
  /// Arguments by kind: JSON elements or the rest of the line as one string (RUN CMD
  /// ENTRYPOINT SHELL), words (FROM EXPOSE ADD COPY VOLUME ARG), triples name,value,sep
  /// (ENV LABEL; sep "=" or "" for the legacy `ENV name value`), {type, command...}
  /// (HEALTHCHECK), the rest as one string (USER WORKDIR STOPSIGNAL MAINTAINER), {""}
  /// for an unknown keyword, empty for ONBUILD (see sub).
  std::vector<std::string> args;
  bool json = false;                 ///< arguments came from a JSON array (exec form)
  std::vector<Heredoc> heredocs;
  std::shared_ptr<Instruction> sub;  ///< the instruction ONBUILD wraps
  std::vector<std::string> comments; ///< comment lines directly above, without '#'
};

/// A parser directive from the top of the file (`# escape=`, `# syntax=`, `# check=`).
struct Directive {
  std::string name;   ///< lower case
  std::string value;
  int line = 0;
};

/// Something suspicious but accepted, such as an empty line inside a continuation.
struct ParseWarning {
  int line = 0;
  std::string message;
};

/// A whole parsed Dockerfile.
struct Dockerfile {
  std::string file;                       ///< name used in error locations
  char escape = '\\';                     ///< the escape token in effect
  std::vector<Directive> directives;
  std::vector<Instruction> instructions;
  std::vector<ParseWarning> warnings;

  /// The value of a parser directive, if present ("syntax", "check", "escape").
  std::optional<std::string> directive(std::string_view name) const;
};

/// One instruction in BuildKit's dump format, without the surrounding parentheses:
/// `run "echo hi"`, `copy ["--from=a"] "x" "/y"`, `onbuild (run "x")`.
std::string dump(const Instruction& instruction);
/// All instructions, each as "(...)\n": the text BuildKit's parser tests compare.
std::string dump(const Dockerfile& dockerfile);

}  // namespace kiln::dockerfile
