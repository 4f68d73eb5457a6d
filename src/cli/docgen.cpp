// kiln-docgen: renders man pages and completion scripts from the option tables at
// build time (built, not installed).
//   kiln-docgen man COMMAND PROSE.md OUT.1
//   kiln-docgen completion bash|zsh|fish OUT
//   kiln-docgen commands          one man page name per line (kiln-image-ls)
#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.hpp"

int main(int argc, char** argv) {
  using namespace kiln::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    return out ? 0 : 1;
  };
  if (args.size() == 4 && args[0] == "man") {
    const Command* cmd = nullptr;
    for (const auto& c : commands()) {
      std::string page = c.name;
      std::replace(page.begin(), page.end(), ' ', '-');
      if (page == args[1] || c.name == args[1]) cmd = &c;
    }
    if (!cmd) {
      std::cerr << "kiln-docgen: no command \"" << args[1] << "\"\n";
      return 1;
    }
    std::ifstream in(args[2]);
    std::stringstream prose;
    prose << in.rdbuf();
    return write(args[3], render_man_page(*cmd, prose.str()));
  }
  if (args.size() == 3 && args[0] == "completion") return write(args[2], render_completion(args[1]));
  if (args.size() == 1 && args[0] == "commands") {
    for (const auto& c : commands()) {
      if (c.hidden) continue;
      std::string page = c.name;
      std::replace(page.begin(), page.end(), ' ', '-');
      std::cout << "kiln-" << page << "\n";
    }
    return 0;
  }
  std::cerr << "usage: kiln-docgen man COMMAND PROSE.md OUT | completion SHELL OUT | commands\n";
  return 2;
}
