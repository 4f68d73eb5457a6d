// The cache of compiled seccomp programs: one file per key in a directory of the
// store's cache, written without fsync (a lost or torn entry is detected by its
// digest and compiled again), read back in one go.
#include <cstdint>

#include "runtime/seccomp_program.hpp"
#include "util/build_id.hpp"
#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace kiln::runtime {
namespace {

constexpr std::string_view kEntryMagic = "kiln-seccomp-bpf 1\n";

// The program under `key` in cache_dir; on a miss (or a bad entry) make_plan() is
// compiled and the entry written again.
template <typename MakePlan>
SeccompProgram cached_program(const std::filesystem::path& cache_dir, const std::string& key, MakePlan&& make_plan) {
  std::filesystem::path entry = cache_dir / (key + ".bpf");
  if (auto text = util::try_read_file(entry))
    if (auto program = parse_seccomp_cache_entry(*text)) return std::move(*program);
  SeccompProgram program = compile_seccomp(make_plan());
  try {
    util::make_dirs(cache_dir, 0700);
    util::write_file_replace(entry, seccomp_cache_entry(program), 0600);
  } catch (const std::exception& e) {
    util::debug("seccomp cache not written: {}", util::describe(e));
  }
  return program;
}

}  // namespace

std::string seccomp_cache_key(const SeccompPlan& plan, std::string_view build) {
  // One line per fact; every field that reaches libseccomp is here.
  std::string text = fmt::format("kiln-seccomp-plan 1\n{}\ndefault {} {}\n", build,
                                 static_cast<int>(plan.default_action), plan.default_errno);
  for (const auto& arch : plan.architectures) text += fmt::format("arch {}\n", arch);
  if (plan.bad_arch_errno) text += fmt::format("bad-arch errno {}\n", plan.bad_arch_errno);
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
  return cached_program(cache_dir, seccomp_cache_key(plan, seccomp_build_id()), [&] { return plan; });
}

std::optional<SeccompProgram> container_seccomp(const SeccompChoice& choice, bool single_id,
                                                const CapabilitySet& caps, const std::filesystem::path& cache_dir) {
  if (choice.mode == SeccompChoice::Mode::unconfined) return std::nullopt;
  SeccompContext context;
  context.caps = caps;
  context.kernel = running_kernel_version();
  context.single_id = single_id;
  auto make_plan = [&] {
    SeccompPlan plan = choice.mode == SeccompChoice::Mode::profile_file
                           ? plan_seccomp(parse_seccomp_profile(util::read_file(choice.path), choice.path), context)
                           : plan_seccomp(default_seccomp_profile(), context);
    drop_unavailable_architectures(plan);
    return plan;
  };
  std::string_view binary = util::program_build_id();
  if (choice.mode == SeccompChoice::Mode::default_profile && !cache_dir.empty() && !binary.empty()) {
    std::string facts = fmt::format("kiln-seccomp-default 1\nbinary {}\n{}\ncaps {:x}\narch {}\nkernel {}\nsingle-id {}\nx32 {}\n",
                                    binary, seccomp_build_id(), caps.bits, context.arch, context.kernel, single_id,
                                    kernel_runs_x32());
    return cached_program(cache_dir, std::string(util::sha256_of(facts).hex()), make_plan);
  }
  return cached_seccomp(make_plan(), cache_dir);
}

}  // namespace kiln::runtime
