// Crash injection for the store's crash-safety tests: a named point between two
// steps of a publication. When KILN_STORE_FAILPOINT names it, the process dies
// right there with _exit(99), as a kill -9 would leave things (no destructors,
// no cleanup). Costs one getenv() per point otherwise.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace kiln::store {

/// Dies with _exit(99) when KILN_STORE_FAILPOINT equals name.
inline void failpoint(std::string_view name) noexcept {
  const char* wanted = std::getenv("KILN_STORE_FAILPOINT");
  if (wanted && name == wanted) ::_exit(99);
}

}  // namespace kiln::store
