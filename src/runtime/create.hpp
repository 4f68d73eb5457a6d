// Creating a container from an image: the flags of `kiln create`/`kiln run` as
// data (CreateOptions), Docker's rules for combining them with the image config
// (ENTRYPOINT/CMD, Env, WorkingDir, User, Volumes, StopSignal), the snapshot
// driver choice, and the record with its empty rw layer in the store. The pure
// parts (volume and signal syntax, names, the merge) are unit-tested.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/config.hpp"
#include "runtime/container_record.hpp"
#include "store/store.hpp"

namespace kiln::runtime {

/// The flags of create/run, already split into values (env files read, NAME-only -e
/// looked up by the caller).
struct CreateOptions {
  std::string image;                                  ///< as typed
  std::optional<std::string> name;                    ///< --name; random adjective_noun otherwise
  std::optional<std::string> entrypoint;              ///< --entrypoint; "" clears it
  std::vector<std::string> command;                   ///< words after IMAGE: replace CMD
  std::vector<std::string> env;                       ///< "KEY=value", override the image's
  std::optional<std::string> workdir;
  std::optional<std::string> user;
  std::optional<std::string> hostname;
  std::vector<std::string> volumes;                   ///< -v strings
  std::vector<std::string> tmpfs;                     ///< --tmpfs strings
  std::map<std::string, std::string> labels;
  bool read_only = false;
  bool tty = false;
  bool stdin_open = false;
  bool init = false;
  bool auto_remove = false;
  bool no_new_privileges = false;
  NetworkMode network = NetworkMode::host;
  CapabilityChanges capabilities;
  SeccompChoice seccomp;
  std::optional<std::string> stop_signal;
  std::optional<int> stop_timeout;
  bool single_id = false;                             ///< userns::current_map().single_id()
};

/// "SIGTERM", "TERM", "term", "15" -> 15; throws kiln::Error(invalid_input).
int parse_signal(std::string_view text);
/// 15 -> "SIGTERM" (a number as text when unknown).
std::string signal_name(int sig);

/// One -v value: "/host:/ctr[:ro|rw]" (bind; relative host paths made absolute),
/// "name:/ctr[:ro]" (named volume), "/ctr" (anonymous). Throws invalid_input.
VolumeConfig parse_volume(std::string_view text);
/// One --tmpfs value: "/ctr[:options]".
VolumeConfig parse_tmpfs(std::string_view text);

/// A random "adjective_noun" name, as podman and docker give.
std::string random_name();

/// The container config from the image config and the flags (Docker's rules), without the
/// id-derived defaults (hostname) and without I/O. Throws invalid_input (no command, a
/// bad volume or signal).
ContainerConfig merge_config(const image::RunConfig& image_config, const CreateOptions& options);

/// The snapshot driver: `requested` (flag, config, KILN_STORAGE_DRIVER) if given, else the
/// store's remembered one, else probed in the store's tmp/ and remembered.
std::string choose_driver(store::Store& store, const std::optional<std::string>& requested);

/// Creates the record of a container of `image` and its empty rw layer (upper/work; the
/// vfs copy is made at first start). Throws conflict for a name in use.
store::ContainerRecord create_container(store::Store& store, const store::ImageRecord& image,
                                        const CreateOptions& options, const std::string& driver);

/// The image record and parsed config of a container's image.
image::ImageConfig image_config_of(const store::Store& store, const store::ImageRecord& image);

}  // namespace kiln::runtime
