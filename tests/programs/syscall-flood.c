/* syscall-flood: installs a seccomp filter whose default action is LOG (every call is
 * allowed and logged, SECCOMP_FILTER_FLAG_LOG), then calls syscall(N) for COUNT distinct
 * numbers N from FIRST on (numbers no kernel table names fail with ENOSYS, after the
 * filter logged them). What an attacker in a container under a LOG-default profile can do
 * to multiply metric series. No root needed (PR_SET_NO_NEW_PRIVS).
 *
 * usage: syscall-flood FIRST COUNT [ROUNDS]   (ROUNDS times over the COUNT numbers; 1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: syscall-flood FIRST COUNT [ROUNDS]\n");
        return 2;
    }
    long first = atol(argv[1]), count = atol(argv[2]);
    long rounds = argc == 4 ? atol(argv[3]) : 1;
    if (first < 512 || count < 0) {
        fprintf(stderr, "FIRST must be >= 512 (no real syscall is called)\n");
        return 2;
    }
    struct sock_filter f[] = {
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG),
    };
    struct sock_fprog prog = {.len = 1, .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("prctl"); return 1; }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &prog)) {
        perror("seccomp"); return 1;
    }
    for (long r = 0; r < rounds; r++) {
        for (long n = first; n < first + count; n++) {
            if (syscall(n, 0, 0, 0) != -1 || errno != ENOSYS) {
                return 3;
            }
        }
    }
    return 0;
}
