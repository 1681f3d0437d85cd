/* seccomp-demo: installs a seccomp filter whose action for the chosen syscalls is the one
 * asked for, then makes those syscalls N times. Used by the end-to-end tests to make the
 * kernel emit real SECCOMP (type 1326) records. No root needed (PR_SET_NO_NEW_PRIVS).
 *
 * usage: seccomp-demo [-a log|errno|trap|kill_thread|kill_process|trace|allow-log]
 *                     [-n COUNT] [-s getppid|getpgid|uname|...]... [-f] [-p]
 *   -a   action for the chosen syscalls (default log)
 *   -n   how many rounds of calls (default 1)
 *   -s   syscall to filter and call (repeatable; default getppid)
 *   -f   fork a child per round that makes the calls and exits at once (short-lived pids)
 *   -p   print "ready PID" and wait for a line on stdin before calling
 * Every filter is installed with SECCOMP_FILTER_FLAG_LOG, so any non-allow action logs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH_NR AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define ARCH_NR AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define ARCH_NR AUDIT_ARCH_AARCH64
#else
#error unsupported arch
#endif

struct sc { const char *name; long nr; };
static const struct sc known[] = {
    {"getppid", SYS_getppid}, {"getpgid", SYS_getpgid}, {"uname", SYS_uname},
    {"getuid", SYS_getuid}, {"getgid", SYS_getgid}, {"geteuid", SYS_geteuid},
    {"getegid", SYS_getegid}, {"umask", SYS_umask}, {"getpriority", SYS_getpriority},
    {"sched_yield", SYS_sched_yield}, {"personality", SYS_personality},
};

static long lookup(const char *n) {
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(known[i].name, n)) return known[i].nr;
    fprintf(stderr, "unknown syscall %s\n", n);
    exit(2);
}

static void call(long nr) {
    if (nr == SYS_getpgid) syscall(nr, 0);
    else if (nr == SYS_getpriority) syscall(nr, 0, 0);
    else if (nr == SYS_umask) syscall(nr, 022);
    else if (nr == SYS_personality) syscall(nr, 0xffffffff);
    else { char buf[512]; syscall(nr, buf); }
}

int main(int argc, char **argv) {
    const char *action = "log";
    long count = 1;
    long nrs[16]; int nnr = 0;
    int do_fork = 0, pause_first = 0, opt;
    while ((opt = getopt(argc, argv, "a:n:s:fp")) != -1) {
        switch (opt) {
        case 'a': action = optarg; break;
        case 'n': count = atol(optarg); break;
        case 's': if (nnr < 16) nrs[nnr++] = lookup(optarg); break;
        case 'f': do_fork = 1; break;
        case 'p': pause_first = 1; break;
        default: return 2;
        }
    }
    if (nnr == 0) nrs[nnr++] = SYS_getppid;
    unsigned int ret;
    if (!strcmp(action, "log")) ret = SECCOMP_RET_LOG;
    else if (!strcmp(action, "errno")) ret = SECCOMP_RET_ERRNO | EPERM;
    else if (!strcmp(action, "trap")) ret = SECCOMP_RET_TRAP;
    else if (!strcmp(action, "kill_thread")) ret = SECCOMP_RET_KILL_THREAD;
    else if (!strcmp(action, "kill_process")) ret = SECCOMP_RET_KILL_PROCESS;
    else if (!strcmp(action, "trace")) ret = SECCOMP_RET_TRACE;
    else { fprintf(stderr, "unknown action %s\n", action); return 2; }

    struct sock_filter f[64];
    int n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < nnr; i++) {
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], 0, 1);
        f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ret);
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};

    if (pause_first) {
        printf("ready %d\n", getpid());
        fflush(stdout);
        char line[64];
        if (!fgets(line, sizeof line, stdin)) return 3;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("prctl"); return 1; }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &prog)) {
        perror("seccomp"); return 1;
    }
    for (long r = 0; r < count; r++) {
        if (do_fork) {
            pid_t c = fork();
            if (c == 0) {
                for (int i = 0; i < nnr; i++) call(nrs[i]);
                _exit(0);
            }
            if (c < 0) { perror("fork"); return 1; }
            waitpid(c, NULL, 0);
        } else {
            for (int i = 0; i < nnr; i++) call(nrs[i]);
        }
    }
    return 0;
}
