// The cache of compiled seccomp programs: one file per key in a directory of the
// store's cache, written without fsync (a lost or torn entry is detected by its
// digest and compiled again), read back in one go.
#include <cstdint>

#include "runtime/seccomp_program.hpp"
#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::runtime {
namespace {

constexpr std::string_view kEntryMagic = "kiln-seccomp-bpf 1\n";

}  // namespace

std::string seccomp_cache_key(const SeccompPlan& plan, std::string_view build) {
  // One line per fact; every field that reaches libseccomp is here.
  std::string text = fmt::format("kiln-seccomp-plan 1\n{}\ndefault {} {}\n", build,
                                 static_cast<int>(plan.default_action), plan.default_errno);
  for (const auto& arch : plan.architectures) text += fmt::format("arch {}\n", arch);
  for (const auto& rule : plan.rules) {
    text += fmt::format("rule {} {} {} {}", rule.syscall, static_cast<int>(rule.action), rule.errno_ret,
                        rule.args.size());
    for (const auto& arg : rule.args)
      text += fmt::format(" {}:{}:{}:{}", arg.index, static_cast<int>(arg.op), arg.value, arg.value_two);
    text += '\n';
  }
  return std::string(util::sha256_of(text).hex());
}

std::string seccomp_cache_entry(const SeccompProgram& program) {
  std::string text(kEntryMagic);
  text += util::sha256_of(program.bpf).hex();
  text += '\n';
  text += program.bpf;
  return text;
}

std::optional<SeccompProgram> parse_seccomp_cache_entry(std::string_view text) {
  constexpr std::size_t kHexSize = 64;
  constexpr std::size_t kInstructionSize = 8;  // sizeof(struct sock_filter)
  if (!text.starts_with(kEntryMagic)) return std::nullopt;
  text.remove_prefix(kEntryMagic.size());
  if (text.size() < kHexSize + 1 || text[kHexSize] != '\n') return std::nullopt;
  std::string_view hex = text.substr(0, kHexSize);
  std::string_view body = text.substr(kHexSize + 1);
  if (body.empty() || body.size() % kInstructionSize != 0) return std::nullopt;
  if (util::sha256_of(body).hex() != hex) return std::nullopt;
  return SeccompProgram{std::string(body)};
}

SeccompProgram cached_seccomp(const SeccompPlan& plan, const std::filesystem::path& cache_dir) {
  if (cache_dir.empty()) return compile_seccomp(plan);
  std::filesystem::path entry = cache_dir / (seccomp_cache_key(plan, seccomp_build_id()) + ".bpf");
  if (auto text = util::try_read_file(entry))
    if (auto program = parse_seccomp_cache_entry(*text)) return std::move(*program);
  SeccompProgram program = compile_seccomp(plan);
  try {
    util::make_dirs(cache_dir, 0700);
    util::write_file_replace(entry, seccomp_cache_entry(program), 0600);
  } catch (const std::exception& e) {
    util::debug("seccomp cache not written: {}", util::describe(e));
  }
  return program;
}

}  // namespace kiln::runtime
