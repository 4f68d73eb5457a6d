// What a container is, as plain data: the rootfs directory the caller prepared,
// the process (argv, env, cwd, user), its mounts, and its confinement
// (capabilities, seccomp, namespaces). Built without syscalls by the CLI and the
// builder, read by container.cpp and container_setup.cpp, which act on it.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <string>
#include <vector>

namespace kiln::runtime {

/// The numeric identity the container process runs as (see resolve_user).
struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
  /// Supplementary groups, set with setgroups(2); may be empty.
  std::vector<gid_t> groups;
  friend bool operator==(const UserIds&, const UserIds&) = default;
};

/// One mount inside the container. Named and anonymous volumes arrive here as binds of a
/// directory the caller prepared.
struct MountSpec {
  enum class Type { bind, tmpfs };
  Type type = Type::bind;
  std::string source;       // host path for bind; ignored for tmpfs
  std::string destination;  // absolute path inside the container
  bool read_only = false;
  /// tmpfs: "size=64m,mode=1777,noexec"...; flag words become mount flags (parse_mount_options).
  std::string options;
  /// A volume used for the first time: before the bind it takes the owner, mode and
  /// contents of the image's directory at the destination, or, when the image has none,
  /// the container user's uid and gid (podman's rule). Not recorded: a start-time fact.
  bool populate = false;
};

/// --cap-add / --cap-drop, applied to Docker's default set. Names with or without
/// "CAP_", any case; "ALL" allowed in both.
struct CapabilityChanges {
  std::vector<std::string> add;
  std::vector<std::string> drop;
};

/// --security-opt seccomp=...
struct SeccompChoice {
  enum class Mode { default_profile, unconfined, profile_file };
  Mode mode = Mode::default_profile;
  std::string path;  // profile_file: a Docker-format JSON profile
};

/// none: a new network namespace with only lo (up); host: the caller's namespace.
enum class NetworkMode { none, host };

struct ContainerSpec {
  std::string rootfs;  // a directory, already populated (snapshot mount or vfs copy)
  std::vector<std::string> args;  // argv; args[0] is looked up in the container's $PATH
  std::vector<std::string> env;   // "KEY=value"; PATH defaults to kDefaultPath when absent
  std::string cwd = "/";          // created when missing, as `docker run -w` does
  UserIds user;
  std::string hostname;           // empty: leave the UTS namespace's name as is
  std::vector<MountSpec> mounts;
  bool read_only_rootfs = false;
  CapabilityChanges capabilities;
  SeccompChoice seccomp;
  bool no_new_privileges = false;
  NetworkMode network = NetworkMode::none;
  bool tty = false;
  bool stdin_open = false;        // -i: without it stdin is /dev/null
  int stop_signal = SIGTERM;      // read by stop; the runtime itself only records it
  bool init = false;              // --init: kiln's reaper is pid 1 and forks the command
  /// The user namespace maps a single id (no subuid range). chown(2) to any other id fails
  /// there with EINVAL, so the seccomp filter turns the chown family (chown, fchown, lchown,
  /// fchownat and the 32-bit variants) into successful no-ops, as fakeroot does: package
  /// managers and `RUN chown` keep working, the files simply stay owned by the one id.
  bool single_id = false;
};

/// The PATH Docker uses when an image sets none.
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace kiln::runtime
