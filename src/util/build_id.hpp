// The GNU build id of the running program (the linker's hash of its contents, in an
// ELF note): a key for caches of things derived from kiln's own code.
#pragma once

#include <string_view>

namespace kiln::util {

/// Lowercase hex of the main program's NT_GNU_BUILD_ID note; empty when it has none
/// (linked with --build-id=none). Read once from the loaded program headers.
std::string_view program_build_id() noexcept;

}  // namespace kiln::util
