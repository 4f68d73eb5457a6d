#include "util/build_id.hpp"

#include <elf.h>
#include <link.h>

#include <string>

namespace kiln::util {
namespace {

// The build id in one PT_NOTE segment, or empty. Notes are 4-byte aligned.
std::string build_id_in(const char* notes, std::size_t size) {
  std::size_t at = 0;
  auto align4 = [](std::size_t n) { return (n + 3) & ~std::size_t{3}; };
  while (at + sizeof(ElfW(Nhdr)) <= size) {
    const auto* header = reinterpret_cast<const ElfW(Nhdr)*>(notes + at);
    std::size_t name_at = at + sizeof(ElfW(Nhdr));
    std::size_t desc_at = name_at + align4(header->n_namesz);
    std::size_t next = desc_at + align4(header->n_descsz);
    if (next > size) break;
    if (header->n_type == NT_GNU_BUILD_ID && header->n_namesz == 4 &&
        std::string_view(notes + name_at, 4) == std::string_view("GNU", 4)) {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string hex;
      for (std::size_t i = 0; i < header->n_descsz; ++i) {
        auto byte = static_cast<unsigned char>(notes[desc_at + i]);
        hex += kHex[byte >> 4];
        hex += kHex[byte & 15];
      }
      return hex;
    }
    at = next;
  }
  return {};
}

}  // namespace

std::string_view program_build_id() noexcept {
  static const std::string id = [] {
    std::string found;
    // The first object dl_iterate_phdr reports is the main program.
    ::dl_iterate_phdr(
        [](struct dl_phdr_info* info, std::size_t, void* out) {
          auto& result = *static_cast<std::string*>(out);
          for (int i = 0; i < info->dlpi_phnum && result.empty(); ++i) {
            const auto& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_NOTE) continue;
            result = build_id_in(reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr), ph.p_memsz);
          }
          return 1;  // stop after the main program
        },
        &found);
    return found;
  }();
  return id;
}

}  // namespace kiln::util
