// Turning a SeccompPlan into a filter with libseccomp (compile_seccomp), and loading
// the compiled program (install_seccomp).
// Syscall names an architecture does not have are skipped, as runc does, so one
// profile serves every architecture.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <type_traits>

#include "runtime/seccomp_profile.hpp"
#include "runtime/seccomp_program.hpp"
#include "util/fs.hpp"
#include "util/error.hpp"

namespace kiln::runtime {
namespace {

std::uint32_t to_libseccomp(SeccompAction action, int errno_ret) {
  switch (action) {
    case SeccompAction::allow: return SCMP_ACT_ALLOW;
    case SeccompAction::errno_return: return SCMP_ACT_ERRNO(static_cast<std::uint32_t>(errno_ret));
    case SeccompAction::kill_thread: return SCMP_ACT_KILL_THREAD;
    case SeccompAction::kill_process: return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::trap: return SCMP_ACT_TRAP;
    case SeccompAction::trace: return SCMP_ACT_TRACE(static_cast<std::uint32_t>(errno_ret));
    case SeccompAction::log: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare to_libseccomp(SeccompArg::Op op) {
  switch (op) {
    case SeccompArg::Op::ne: return SCMP_CMP_NE;
    case SeccompArg::Op::lt: return SCMP_CMP_LT;
    case SeccompArg::Op::le: return SCMP_CMP_LE;
    case SeccompArg::Op::eq: return SCMP_CMP_EQ;
    case SeccompArg::Op::ge: return SCMP_CMP_GE;
    case SeccompArg::Op::gt: return SCMP_CMP_GT;
    case SeccompArg::Op::masked_eq: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

scmp_arg_cmp to_libseccomp(const SeccompArg& arg) {
  scmp_arg_cmp cmp{};
  cmp.arg = arg.index;
  cmp.op = to_libseccomp(arg.op);
  cmp.datum_a = arg.value;
  cmp.datum_b = arg.value_two;
  return cmp;
}

void add_rule(scmp_filter_ctx ctx, int number, std::uint32_t action, const std::vector<SeccompArg>& args,
              const std::string& name) {
  std::vector<scmp_arg_cmp> conditions;
  for (const auto& arg : args) conditions.push_back(to_libseccomp(arg));
  int rc = seccomp_rule_add_array(ctx, action, number, static_cast<unsigned>(conditions.size()),
                                  conditions.empty() ? nullptr : conditions.data());
  if (rc < 0) throw util::sys_error_code(-rc, "seccomp_rule_add {}", name);
}

/// True when two conditions of a rule test the same argument: libseccomp cannot AND
/// those, and runc then adds each condition as a rule of its own (OR).
bool repeats_an_index(const std::vector<SeccompArg>& args) {
  for (std::size_t i = 0; i < args.size(); ++i)
    for (std::size_t j = i + 1; j < args.size(); ++j)
      if (args[i].index == args[j].index) return true;
  return false;
}

using Context = std::unique_ptr<void, decltype([](void* c) { seccomp_release(c); })>;

/// The libseccomp filter for a plan, not yet loaded.
Context build_context(const SeccompPlan& plan) {
  std::uint32_t default_action = to_libseccomp(plan.default_action, plan.default_errno);
  Context ctx(seccomp_init(default_action));
  if (!ctx) throw util::sys_error("seccomp_init");
  // A binary tree of syscall numbers instead of libseccomp's default linear chain: the
  // same decisions, in about a tenth of the instructions per syscall for a Docker-sized
  // profile, and a shorter program for the kernel to check and translate at load.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc < 0)
    throw util::sys_error_code(-rc, "seccomp_attr_set SCMP_FLTATR_CTL_OPTIMIZE");
  if (plan.bad_arch_errno) {
    int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(static_cast<std::uint32_t>(plan.bad_arch_errno)));
    if (rc < 0) throw util::sys_error_code(-rc, "seccomp_attr_set SCMP_FLTATR_ACT_BADARCH");
  }
  for (const auto& arch_name : plan.architectures) {
    std::uint32_t arch = seccomp_arch_resolve_name(arch_name.c_str());
    if (arch == 0) fail(ErrorKind::invalid_input, "seccomp: unknown architecture \"{}\"", arch_name);
    if (arch == seccomp_arch_native()) continue;
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc < 0 && rc != -EEXIST) throw util::sys_error_code(-rc, "seccomp_arch_add {}", arch_name);
  }
  for (const auto& rule : plan.rules) {
    int number = seccomp_syscall_resolve_name(rule.syscall.c_str());
    if (number == __NR_SCMP_ERROR) continue;
    std::uint32_t action = to_libseccomp(rule.action, rule.errno_ret);
    // libseccomp refuses rules that repeat the default action; they change nothing.
    if (action == default_action) continue;
    if (repeats_an_index(rule.args)) {
      for (const auto& arg : rule.args) add_rule(ctx.get(), number, action, {arg}, rule.syscall);
    } else {
      add_rule(ctx.get(), number, action, rule.args, rule.syscall);
    }
  }
  return ctx;
}

}  // namespace

bool kernel_runs_x32() noexcept {
#if defined(__x86_64__)
  static const bool answer = [] {
    if (::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0) return true;
    constexpr long kX32SyscallBit = 0x40000000L;
    long rc = ::syscall(kX32SyscallBit | SYS_getpid);
    return !(rc < 0 && errno == ENOSYS);
  }();
  return answer;
#else
  return true;
#endif
}

void drop_unavailable_architectures(SeccompPlan& plan) {
  if (kernel_runs_x32()) return;
  auto x32 = std::find(plan.architectures.begin(), plan.architectures.end(), "x32");
  if (x32 == plan.architectures.end()) return;
  plan.architectures.erase(x32);
  plan.bad_arch_errno = ENOSYS;
}

SeccompProgram compile_seccomp(const SeccompPlan& plan) {
  Context ctx = build_context(plan);
  // seccomp_export_bpf generates the program seccomp_load would load, into an fd.
  util::UniqueFd memory{util::adopt, ::memfd_create("kiln-seccomp", MFD_CLOEXEC)};
  if (!memory) throw util::sys_error("memfd_create for the seccomp filter");
  int rc = seccomp_export_bpf(ctx.get(), memory.get());
  if (rc < 0) throw util::sys_error_code(-rc, "seccomp_export_bpf");
  if (::lseek(memory.get(), 0, SEEK_SET) < 0) throw util::sys_error("lseek the seccomp filter");
  SeccompProgram program{util::read_all(memory.borrow())};
  if (program.bpf.empty() || program.bpf.size() % sizeof(sock_filter) != 0)
    fail("seccomp_export_bpf: unexpected program size {}", program.bpf.size());
  return program;
}

std::string seccomp_build_id() {
  const scmp_version* version = seccomp_version();
  return fmt::format("libseccomp {}.{}.{} arch {:#x} tree", version->major, version->minor, version->micro,
                     seccomp_arch_native());
}

void install_seccomp(const SeccompProgram& program) {
  struct sock_fprog prog {};
  prog.len = static_cast<unsigned short>(program.bpf.size() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(program.bpf.data()));
  // Unlike libseccomp's default (SCMP_FLTATR_CTL_NNP), no_new_privs is not set here: a
  // container gets it only when asked, as under runc, and setuid programs inside it
  // (su, ping) keep working. The callers load the filter while they still hold
  // CAP_SYS_ADMIN, which is what the kernel asks for instead.
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
    if (errno != ENOSYS) throw util::sys_error("seccomp SECCOMP_SET_MODE_FILTER");
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) throw util::sys_error("prctl PR_SET_SECCOMP");
  }
}

}  // namespace kiln::runtime
