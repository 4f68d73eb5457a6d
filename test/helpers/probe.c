/* probe: tiny static test helper placed inside test images.
 *   probe uid            prints "uid=U gid=G groups=G1,G2"
 *   probe caps           prints the CapEff line of /proc/self/status
 *   probe syscall NAME   tries a syscall Docker's profile refuses and prints "ok" or the errno name
 *   probe pid            prints getpid()
 *   probe exit N         exits with status N
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int print_caps(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  if (!f) { perror("open /proc/self/status"); return 1; }
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "CapEff:", 7) == 0) fputs(line, stdout);
  fclose(f);
  return 0;
}

static int try_syscall(const char *name) {
  long r = -1;
  if (strcmp(name, "keyctl") == 0) r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
  else if (strcmp(name, "unshare-user") == 0) r = unshare(CLONE_NEWUSER);
  else if (strcmp(name, "chown") == 0) r = chown("/tmp", 12345, 12345);
  else { fprintf(stderr, "probe: unknown syscall %s\n", name); return 2; }
  if (r >= 0) puts("ok");
  else printf("%s\n", errno == EPERM ? "EPERM" : errno == ENOSYS ? "ENOSYS" : strerror(errno));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: probe uid|caps|syscall NAME|pid|exit N\n"); return 2; }
  if (strcmp(argv[1], "uid") == 0) {
    gid_t groups[64];
    int n = getgroups(64, groups);
    printf("uid=%u gid=%u groups=", getuid(), getgid());
    for (int i = 0; i < n; i++) printf(i ? ",%u" : "%u", groups[i]);
    putchar('\n');
    return 0;
  }
  if (strcmp(argv[1], "caps") == 0) return print_caps();
  if (strcmp(argv[1], "syscall") == 0 && argc > 2) return try_syscall(argv[2]);
  if (strcmp(argv[1], "pid") == 0) { printf("%d\n", getpid()); return 0; }
  if (strcmp(argv[1], "exit") == 0 && argc > 2) return atoi(argv[2]);
  fprintf(stderr, "probe: unknown request %s\n", argv[1]);
  return 2;
}
