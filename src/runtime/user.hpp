// USER resolution: turns "name|uid[:group|gid]" into numeric ids by reading the
// image's /etc/passwd and /etc/group text, with Docker's (runc's GetExecUser)
// rules. Pure: the caller reads the files from the rootfs.
#pragma once

#include <string_view>

#include "runtime/container_spec.hpp"

namespace kiln::runtime {

/// Resolves a USER spec against passwd and group file contents (either may be empty).
/// - empty spec: root (0:0).
/// - a name must exist in passwd: "unable to find user NAME: no matching entries in passwd file";
///   a number need not (gid then defaults to 0).
/// - an explicit group (name or number) sets the gid and no supplementary groups; a name must
///   exist: "unable to find group NAME: no matching entries in group file".
/// - without one, the gid comes from passwd and the supplementary groups are every group that
///   lists the user's name as a member.
/// Throws kiln::Error(invalid_input).
UserIds resolve_user(std::string_view spec, std::string_view passwd_text, std::string_view group_text);

}  // namespace kiln::runtime
