// kiln: daemonless, rootless container images and containers. Dispatch only.
#include "cli/command.hpp"

int main(int argc, char** argv) { return kiln::cli::main(argc, argv); }
