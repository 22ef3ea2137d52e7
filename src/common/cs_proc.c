/* cs_proc: see cs_proc.h. */
#include "cs_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int cs_proc_have(const char *name) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char *dup = strdup(path), *save = NULL;
    int found = 0;
    for (char *dir = dup ? strtok_r(dup, ":", &save) : NULL; dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        found = access(p, X_OK) == 0;
    }
    free(dup);
    return found;
}

pid_t cs_proc_spawn_stderr_pipe(char *const argv[], int *errfd) {
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        execvp(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int saved = errno;
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        errno = saved;
        return -1;
    }
    *errfd = pfd[0];
    return pid;
}

int cs_proc_detach(char *const argv[]) {
    pid_t b = fork();
    if (b < 0) return -1;
    if (b == 0) {
        if (fork() == 0) {
            int nul = open("/dev/null", O_RDWR);
            if (nul >= 0) {
                dup2(nul, 1);
                dup2(nul, 2);
            }
            execvp(argv[0], argv);
            _exit(127);
        }
        _exit(0);
    }
    waitpid(b, NULL, 0);
    return 0;
}
