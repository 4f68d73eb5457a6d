// The user-namespace holder: a process of kiln's own binary that does nothing but
// keep one user namespace (with the newuidmap/newgidmap map) alive, so that later
// kiln commands join it with setns(2) instead of running the two setuid helpers
// again. It is recorded in <dir>/userns-holder (the user's runtime directory: gone
// at reboot) with its pid, start time and namespace inode; a record is trusted only
// when all three still match, the namespace belongs to this user, and its maps equal
// the planned map. Anything else is replaced. `kiln system migrate` stops it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "userns/userns.hpp"

namespace kiln::userns {

/// What the record file says about the holder.
struct HolderRecord {
  pid_t pid = 0;
  std::uint64_t start_time = 0;    // field 22 of /proc/<pid>/stat
  std::uint64_t userns_inode = 0;  // inode of /proc/<pid>/ns/user
  friend bool operator==(const HolderRecord&, const HolderRecord&) = default;
};

/// What is found at the recorded pid now.
struct HolderObservation {
  std::uint64_t start_time = 0;
  std::uint64_t userns_inode = 0;
  uid_t owner_uid = 0;  // the user namespace's owner (NS_GET_OWNER_UID)
  IdMap map;            // its uid_map and gid_map
};

/// The record file's text: "pid N\nstart N\nuserns N\n".
std::string format_holder_record(const HolderRecord& record);

/// Parses a record; nullopt for anything but three positive fields in that form. Pure.
std::optional<HolderRecord> parse_holder_record(std::string_view text);

/// True when what is at the recorded pid is the recorded holder (same start time and
/// namespace inode), the namespace belongs to `uid`, and its maps equal `planned`. Pure.
bool holder_matches(const HolderRecord& record, const HolderObservation& seen, uid_t uid, const IdMap& planned);

/// The record file's path in a holder directory.
std::filesystem::path holder_record_path(const std::filesystem::path& dir);

/// Joins the recorded holder's user namespace (setns) if it matches the plan, else
/// starts a new holder (mapped by newuidmap/newgidmap) and joins that. Returns false,
/// having changed nothing, when no holder could be used (the caller then enters a
/// namespace of its own). Throws only for errors after the namespace was joined.
bool join_or_start_holder(const std::filesystem::path& dir, const EntryPlan& plan);

/// Stops the recorded holder (SIGKILL, only if it is verifiably ours) and removes the
/// record. True when a live holder was stopped.
bool stop_holder(const std::filesystem::path& dir);

}  // namespace kiln::userns
