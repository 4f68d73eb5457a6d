// What happens to a created container between its record and its process: the
// rw layer mounted over the image's layers, the spec for this start (user
// resolved from the image's /etc/passwd, volumes as binds, generated /etc/hosts,
// /etc/hostname and /etc/resolv.conf), and removal with its volumes.
// Everything here runs inside kiln's user namespace.
#pragma once

#include <filesystem>
#include <string>

#include "runtime/container_record.hpp"
#include "snapshot/snapshot.hpp"
#include "store/store.hpp"

namespace kiln::runtime {

/// volumes/<name>/_data in the store, whether or not it exists.
fs::path volume_dir(const store::Store& store, std::string_view name);

/// Mounts (overlay drivers) or materialises once (vfs) the container's root file system.
/// Throws naming the driver and the container.
snapshot::MountedSnapshot mount_container(const store::Store& store, const store::ContainerRecord& record,
                                          const ContainerConfig& config);

/// The spec for one start with its rootfs at `rootfs`: config.spec plus the user's ids,
/// the volume mounts (named and anonymous volume dirs created as needed) and the
/// generated /etc files. Throws invalid_input for an unknown user or group.
ContainerSpec start_spec(const store::Store& store, const store::ContainerRecord& record,
                         const ContainerConfig& config, const fs::path& rootfs);

/// Removes the record, its rw layer and, with remove_volumes, its anonymous volumes
/// (named ones stay, as in Docker). The container must not be running. in_background:
/// the record goes now, the rw layer's tree is deleted by a child process (for kiln run
/// --rm, which exits right after: a second fewer for the shell, not for the disk).
void remove_container(store::Store& store, const store::ContainerRecord& record, bool remove_volumes,
                      bool in_background = false);

/// store.container(name) after reconcile(); throws not_found "no such container: X".
store::ContainerRecord reconciled(store::Store& store, std::string_view name_or_id);
/// Every container, stale running records fixed (see reconcile()).
std::vector<store::ContainerRecord> reconcile_all(store::Store& store);

}  // namespace kiln::runtime
