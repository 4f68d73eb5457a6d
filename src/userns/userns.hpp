// Entering kiln's user namespace. A non-root user gets a new user + mount
// namespace in which 0 maps to their uid and 1..N to their /etc/subuid and
// /etc/subgid ranges (set up by the setuid newuidmap/newgidmap helpers). Without
// a subuid entry kiln falls back to a single-id map (0 -> uid) and says so once.
// root keeps the host ids and only gets a private mount namespace.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::userns {

/// One line of a uid_map/gid_map: ids [container, container+size) -> [host, host+size).
struct IdRange {
  std::uint32_t container_id = 0;
  std::uint32_t host_id = 0;
  std::uint32_t size = 0;
  friend bool operator==(const IdRange&, const IdRange&) = default;
};

struct IdMap {
  std::vector<IdRange> uids;
  std::vector<IdRange> gids;
  /// True when only one id is mapped (no subuid range): chown to other ids cannot work.
  bool single_id() const noexcept { return uids.size() == 1 && uids[0].size == 1; }
};

/// Parses /etc/subuid-format text ("name:start:count" lines) and returns the ranges for
/// the user given by name or numeric id. Malformed lines are skipped.
std::vector<IdRange> parse_subid(std::string_view text, std::string_view user_name, uid_t uid);

/// The map kiln sets up for this user: 0 -> uid, then 1.. -> each subordinate range in turn.
IdMap plan_map(uid_t uid, gid_t gid, const std::vector<IdRange>& sub_uids, const std::vector<IdRange>& sub_gids);

/// Parses the text of /proc/<pid>/uid_map.
std::vector<IdRange> parse_id_map(std::string_view text);

/// Maps a container id to the host id through ranges; nullopt when unmapped.
std::optional<std::uint32_t> to_host(const std::vector<IdRange>& ranges, std::uint32_t container_id);

/// How enter() will set up the namespace for a non-root user: the map, whether the setuid
/// helpers write it, and the one warning to print when falling back to a single id.
struct EntryPlan {
  IdMap map;
  bool use_helpers = false;  // newuidmap/newgidmap; false: write the single-id map ourselves
  std::string warning;       // empty when there is nothing to say
};

/// Decides the entry plan from the user's subid files' text and which helper programs
/// exist (empty path: not found). Pure: no system calls.
EntryPlan plan_entry(uid_t uid, gid_t gid, std::string_view user_name, std::string_view subuid_text,
                     std::string_view subgid_text, const std::string& newuidmap_path,
                     const std::string& newgidmap_path);

/// plan_entry for this user, reading /etc/subuid, /etc/subgid, the password database
/// (getpwuid, not $USER) and $PATH.
EntryPlan plan_entry_for(uid_t uid, gid_t gid);

/// The argv of newuidmap/newgidmap (`name`) writing `ranges` for process `target`:
/// NAME PID then container, host, size per range. Pure.
std::vector<std::string> map_helper_args(const char* name, pid_t target, const std::vector<IdRange>& ranges);

/// The full path of an executable found in $PATH (a standard list when unset); empty if none.
std::string find_program(std::string_view name);

/// The environment variable that marks kiln's child processes as already inside; its
/// value names the user and mount namespaces so a stale copy is not trusted.
inline constexpr const char* kInsideEnv = "KILN_USERNS_INSIDE";

struct EnterOptions {
  /// Where the user-namespace holder is recorded (holder.hpp): with a subuid range, join
  /// (or start) it instead of running newuidmap/newgidmap. Empty: no holder.
  std::filesystem::path holder_dir;
};

/// Enters kiln's namespaces (idempotent: inside already, it returns at once). Must be
/// called while the process is single-threaded. Throws kiln::Error with a hint when
/// user namespaces are disabled. Sets kInsideEnv for child processes.
void enter(const EnterOptions& options = {});

/// True once enter() has put this process into kiln's namespaces (or it was inherited).
bool inside();

/// The invoking user's uid on the host: getuid() outside, the host id of 0 inside kiln's
/// namespace (so "am I rootless?" has the same answer before and after enter()).
uid_t host_uid();

/// The id map in force for this process (/proc/self/uid_map, gid_map).
IdMap current_map();

/// The map kiln would use for the invoking user (from /etc/subuid, /etc/subgid); the user
/// is looked up by uid (getpwuid), and inside kiln's namespace the host uid is used.
IdMap planned_map_for_invoking_user();

}  // namespace kiln::userns
