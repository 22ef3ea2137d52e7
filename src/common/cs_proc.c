/* cs_proc: see cs_proc.h. */
#include "cs_proc.h"

#include <dirent.h>
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

/* This process's threads that are running or waiting to run: an OpenMP team's threads spin a
 * while after each parallel region, and must not count as someone else's work. */
static int own_running(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return 1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[64], buf[512];
        snprintf(p, sizeof p, "/proc/self/task/%.20s/stat", de->d_name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k <= 0) continue;
        buf[k] = 0;
        const char *rp = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
        n += rp && rp[1] == ' ' && rp[2] == 'R';
    }
    closedir(d);
    return n > 0 ? n : 1;
}

int cs_proc_cpus_free(int want) {
    if (want <= 1) return 1;
    char buf[128];
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return want;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0) return want;
    buf[k] = 0;
    double l1, l5, l15;
    int running, total;
    if (sscanf(buf, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total) != 5 || running < 1) return want;
    /* the caller alone (the common case, a quiet machine): no need to look closer */
    int others = running > 1 ? running - own_running() : 0;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    long free_cpus = (online > 0 ? online : want) - (others > 0 ? others : 0);
    return free_cpus < 1 ? 1 : free_cpus < want ? (int)free_cpus : want;
}
