// kiln: daemonless, rootless container images and containers. Dispatch only.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/command.hpp"

int main(int argc, char** argv) {
  int status = kiln::cli::main(argc, argv);
  // Flush and go: destroying the command tables and caches one by one, as a return
  // from main would, is work nobody needs from a process that ends (~0.08 ms of every
  // short command). Every file a command writes is closed by then.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(status);
}
