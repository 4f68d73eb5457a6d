// Running a helper program (fuse-overlayfs, fusermount3) to completion.
#include "snapshot/program.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

extern char** environ;

namespace kiln::snapshot {

namespace fs = std::filesystem;

std::pair<int, std::string> run_program(const char* program, const std::vector<std::string>& args,
                                        const fs::path& cwd) {
  util::UniqueFd err(util::adopt, ::memfd_create("kiln-program-stderr", MFD_CLOEXEC));
  if (!err) throw util::sys_error("memfd_create");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.get(), 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, program, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (rc == ENOENT) fail(ErrorKind::not_found, "{} not found in PATH (install the package that provides it)", program);
    throw util::sys_error_code(rc, "spawn {}", program);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw util::sys_error("waitpid {}", program);
  }
  ::lseek(err.get(), 0, SEEK_SET);
  std::string output = util::read_all(err);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, output};
}

}  // namespace kiln::snapshot
