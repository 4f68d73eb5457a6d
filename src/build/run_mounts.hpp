// RUN --mount specs ("type=cache,target=/root/.cache,sharing=locked") as data:
// parsed and checked without touching anything, so they can be unit-tested
// and be part of a step's cache key.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace kiln::build {

/// One --mount of a RUN instruction.
struct RunMount {
  enum class Type { bind, cache, tmpfs, secret };
  Type type = Type::bind;
  std::string target;             ///< absolute path in the container
  std::string source;             ///< bind: path in the context or the from= root
  std::string from;               ///< bind/cache: a stage or image
  std::string id;                 ///< cache: default target; secret: default basename(target)
  std::optional<bool> read_only;  ///< bind default true, cache false
  std::optional<mode_t> mode;     ///< cache 0755, secret 0400
  uid_t uid = 0;
  gid_t gid = 0;
  std::string sharing = "shared"; ///< cache: shared, private, locked
  std::string size;               ///< tmpfs size=
  bool required = false;          ///< secret: fail when not given
  std::string env;                ///< secret: expose as this variable instead of a file
};

/// Parses one --mount value; throws kiln::Error(invalid_input) naming the bad field.
RunMount parse_run_mount(std::string_view spec);

}  // namespace kiln::build
