// Commands about kiln itself: version, completion.
#include <iostream>

#include "cli/command.hpp"

namespace kiln::cli {
namespace {

const Registration kVersion{{"version"}, [] {
  return Command{
      .name = "version",
      .summary = "Print kiln's version",
      .max_args = 0,
      .needs_userns = false,
      .run = [](const Args&) {
        std::cout << "kiln version " << KILN_VERSION << "\n";
        return 0;
      },
  };
}};

const Registration kCompletion{{"completion"}, [] {
  return Command{
      .name = "completion",
      .usage_args = "bash|zsh|fish",
      .summary = "Print a shell completion script",
      .description = "The script is generated from the same option tables as --help and the man pages. "
                     "Load it with: source <(kiln completion bash)",
      .min_args = 1,
      .max_args = 1,
      .needs_userns = false,
      .run = [](const Args& args) {
        std::cout << render_completion(args.positional()[0]);
        return 0;
      },
  };
}};

}  // namespace
}  // namespace kiln::cli
