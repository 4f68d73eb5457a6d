// kiln's default seccomp profile, written from the documented behaviour of
// Docker's default: everything not listed fails with EPERM; the list is what
// ordinary programs need; namespace, mount, module, key-ring, kexec, swap, reboot,
// bpf and perf calls are refused unless the container holds the capability that
// governs them; clone may not create namespaces; clone3 fails with ENOSYS so that
// libc falls back to clone, whose flags the filter can inspect.
#include "runtime/seccomp_profile.hpp"

#include <sched.h>

namespace kiln::runtime {
namespace {

// Allowed for everyone, on every architecture (names unknown to an architecture are
// skipped when the filter is loaded).
const std::vector<std::string> kAllowed = {
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
    "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
    "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
    "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
    "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
    "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
    "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
    "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read",
    "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
    "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
    "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
    "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
    "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid",
    "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
    "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
    "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr",
    "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4",
    "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo",
    "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
    "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev"};

// The namespace-creating clone flags: plain clone may not use them without CAP_SYS_ADMIN.
constexpr std::uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                          CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;

SeccompRule allow(std::vector<std::string> names) {
  SeccompRule rule;
  rule.names = std::move(names);
  return rule;
}

SeccompRule allow_with_cap(std::vector<std::string> names, std::string cap) {
  SeccompRule rule = allow(std::move(names));
  rule.includes.caps = {std::move(cap)};
  return rule;
}

SeccompProfile build_default() {
  SeccompProfile profile;
  profile.default_action = SeccompAction::errno_return;
  profile.default_errno = 1;  // EPERM
#if defined(__x86_64__)
  profile.architectures = {"x86_64", "x86", "x32"};
#elif defined(__aarch64__)
  profile.architectures = {"aarch64", "arm"};
#endif
  auto& rules = profile.rules;
  rules.push_back(allow(kAllowed));

  // socket: anything but AF_VSOCK (40), which reaches the host's hypervisor.
  SeccompRule socket = allow({"socket"});
  socket.args = {{0, 40, 0, SeccompArg::Op::ne}};
  rules.push_back(socket);

  // personality: only the harmless personas (Linux, UNAME26, READ_IMPLIES_EXEC
  // combinations Docker allows) and the query value 0xffffffff.
  for (std::uint64_t persona : {0x0ull, 0x8ull, 0x20000ull, 0x20008ull, 0xffffffffull}) {
    SeccompRule rule = allow({"personality"});
    rule.args = {{0, persona, 0, SeccompArg::Op::eq}};
    rules.push_back(rule);
  }

  // ptrace of one's own children is safe since 4.8 closed the seccomp bypass.
  SeccompRule ptrace = allow({"ptrace", "process_vm_readv", "process_vm_writev"});
  ptrace.includes.min_kernel = "4.8";
  rules.push_back(ptrace);

  SeccompRule x86 = allow({"arch_prctl", "modify_ldt"});
  x86.includes.arches = {"amd64", "x32", "386"};
  rules.push_back(x86);

  // clone without namespace flags (flags are argument 0 everywhere but s390).
  SeccompRule clone = allow({"clone"});
  clone.args = {{0, kNamespaceFlags, 0, SeccompArg::Op::masked_eq}};
  clone.excludes.caps = {"CAP_SYS_ADMIN"};
  clone.excludes.arches = {"s390", "s390x"};
  rules.push_back(clone);

  // clone3 passes its flags in memory the filter cannot read: ENOSYS makes libc use clone.
  SeccompRule clone3;
  clone3.names = {"clone3"};
  clone3.action = SeccompAction::errno_return;
  clone3.errno_ret = 38;  // ENOSYS
  clone3.excludes.caps = {"CAP_SYS_ADMIN"};
  rules.push_back(clone3);

  // Extras a capability unlocks, as Docker grants them.
  rules.push_back(allow_with_cap({"open_by_handle_at", "name_to_handle_at"}, "CAP_DAC_READ_SEARCH"));
  rules.push_back(allow_with_cap(
      {"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
       "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree",
       "perf_event_open", "pivot_root", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
       "setns", "syslog", "umount", "umount2", "unshare"},
      "CAP_SYS_ADMIN"));
  rules.push_back(allow_with_cap({"reboot"}, "CAP_SYS_BOOT"));
  rules.push_back(allow_with_cap({"chroot"}, "CAP_SYS_CHROOT"));
  rules.push_back(allow_with_cap({"delete_module", "init_module", "finit_module"}, "CAP_SYS_MODULE"));
  rules.push_back(allow_with_cap({"acct"}, "CAP_SYS_PACCT"));
  rules.push_back(allow_with_cap(
      {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"},
      "CAP_SYS_PTRACE"));
  rules.push_back(allow_with_cap({"iopl", "ioperm"}, "CAP_SYS_RAWIO"));
  rules.push_back(allow_with_cap({"settimeofday", "stime", "clock_settime", "clock_settime64"}, "CAP_SYS_TIME"));
  rules.push_back(allow_with_cap({"vhangup"}, "CAP_SYS_TTY_CONFIG"));
  rules.push_back(allow_with_cap({"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}, "CAP_SYS_NICE"));
  rules.push_back(allow_with_cap({"syslog"}, "CAP_SYSLOG"));
  rules.push_back(allow_with_cap({"bpf"}, "CAP_BPF"));
  rules.push_back(allow_with_cap({"perf_event_open"}, "CAP_PERFMON"));
  // Never listed, so refused for everyone: keyctl, add_key, request_key, kexec_load,
  // kexec_file_load, swapon, swapoff, userfaultfd, nfsservctl, uselib, vm86, io_uring_*.
  return profile;
}

}  // namespace

const SeccompProfile& default_seccomp_profile() {
  static const SeccompProfile profile = build_default();
  return profile;
}

}  // namespace kiln::runtime
