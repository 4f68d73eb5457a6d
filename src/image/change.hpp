// `--change` instructions (commit, import): Dockerfile-style lines such as
// `CMD ["sh"]`, `ENV A=b C=d`, `EXPOSE 80/tcp` parsed into data and applied to
// an image config. Only the instructions podman accepts there are allowed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "image/config.hpp"

namespace kiln::image {

/// One parsed change line.
struct Change {
  std::string instruction;         // upper case: CMD, ENTRYPOINT, ENV, ...
  std::vector<std::string> args;   // JSON-form elements, words, or key/value pairs flattened
  bool json_form = false;          // CMD/ENTRYPOINT/VOLUME written as a JSON array
  std::string text;                // the line as given, for messages and history
};

/// Parses "CMD [\"sh\"]", "CMD=sh -c x", "ENV A=b C=d", "ENV A b", "LABEL a=b",
/// "EXPOSE 80 53/udp 8000-8001". For ENV and LABEL, args alternate key, value.
/// Throws invalid_input 'invalid change "<line>": <why>' (unknown instruction, missing
/// or malformed argument).
Change parse_change(std::string_view line);
/// Applies a parsed change: CMD/ENTRYPOINT shell form runs through the config's Shell
/// (default /bin/sh -c), WORKDIR joins a relative path to the current one, ENV/LABEL
/// set, EXPOSE/VOLUME add, USER/STOPSIGNAL set, ONBUILD appends.
void apply_change(RunConfig& config, const Change& change);
/// Parses and applies each line in order.
void apply_changes(RunConfig& config, const std::vector<std::string>& lines);

/// Splits Dockerfile-style words: whitespace separates, quotes group and are removed,
/// backslash escapes (not inside single quotes). Throws invalid_input on an open quote.
std::vector<std::string> split_words(std::string_view text);

}  // namespace kiln::image
