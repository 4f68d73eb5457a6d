// The history lines a build writes into the image config, in buildah's
// spelling so `history` output reads as users of buildah and docker expect:
//   metadata:  "/bin/sh -c #(nop) ENV A=b"
//   RUN:       "/bin/sh -c echo hi", with build args "|2 A=1 B=2 /bin/sh -c echo hi"
//   COPY/ADD:  "/bin/sh -c #(nop) COPY file:<hex> in /dst "
// Pure functions, unit-tested.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::build {

/// "/bin/sh -c #(nop) " + text, as buildah writes metadata instructions.
std::string nop_created_by(std::string_view text);

/// A RUN step's history line: the command as the shell sees it (shell form) or the
/// JSON-ish argv joined with spaces (exec form), prefixed with "|N K=V ..." when
/// build args are in effect.
std::string run_created_by(const std::vector<std::string>& argv,
                           const std::vector<std::pair<std::string, std::string>>& args);

/// "/bin/sh -c #(nop) COPY file:<hex> in <dest> ": kind is "file", "dir" or "multi".
std::string copy_created_by(std::string_view keyword, std::string_view kind, std::string_view hex,
                            std::string_view dest);

/// A JSON array of strings as Docker prints exec forms: ["a","b"].
std::string json_words(const std::vector<std::string>& words);

}  // namespace kiln::build
