/* SPDX-License-Identifier: MIT */
#include "sockdir.h"

/* System. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPEN_DIR (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Opens `name` in dirfd without following a link; explains a failure in err. */
static int open_component(int dirfd, const char *name, const char *shown, char *err, size_t errsz)
{
    struct stat st;
    int fd = openat(dirfd, name, OPEN_DIR);

    if (fd >= 0 || errno == ENOENT)
        return fd;
    if ((errno == ELOOP || errno == ENOTDIR) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        snprintf(err, errsz, "socket directory: %s is %s; tlsguard follows no link on the "
                             "socket's path: name the real path in socket",
                 shown, S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
    else
        snprintf(err, errsz, "socket directory: %s: %s", shown, strerror(errno));
    errno = EPERM;
    return -1;
}

/* Creates `name` in dirfd (which must be root's and writable by root only), sets its owner
 * and mode through its descriptor; returns that descriptor. */
static int make_component(int dirfd, const char *name, const char *shown, uid_t uid, gid_t gid,
                          mode_t mode, char *err, size_t errsz)
{
    struct stat st;
    int fd;

    if (fstat(dirfd, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022)) {
        snprintf(err, errsz, "socket directory: %s is missing and its parent is not root's "
                             "or is writable by others: tlsguard creates nothing there; "
                             "create it yourself (see socket in tlsguard.conf(5))",
                 shown);
        return -1;
    }
    if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errsz, "socket directory: cannot create %s: %s", shown, strerror(errno));
        return -1;
    }
    if ((fd = open_component(dirfd, name, shown, err, errsz)) < 0) {
        if (errno == ENOENT)
            snprintf(err, errsz, "socket directory: %s vanished as it was created", shown);
        return -1;
    }
    if (fchown(fd, uid, gid) != 0 || fchmod(fd, mode) != 0) {
        snprintf(err, errsz, "socket directory: cannot set owner and mode of %s: %s", shown,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The socket's directory exists: it must be root's or the owner's, writable by its owner only. */
static int check_last(int fd, const char *shown, uid_t owner, char *err, size_t errsz)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        snprintf(err, errsz, "socket directory: %s: %s", shown, strerror(errno));
        return -1;
    }
    if ((st.st_uid != 0 && st.st_uid != owner) || (st.st_mode & 022)) {
        snprintf(err, errsz, "socket directory: %s (mode %04o, uid %u) must be owned by root or "
                             "tlsguard's user and writable by its owner only: another user "
                             "could replace the socket",
                 shown, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
        return -1;
    }
    return 0;
}

int sockdir_prepare(const char *socket_path, uid_t owner, gid_t group, char *err, size_t errsz)
{
    const char *dir_end = strrchr(socket_path, '/');
    char path[4096], shown[4096], *name, *next;
    int fd;

    if (socket_path[0] != '/' || strlen(socket_path) >= sizeof path) {
        snprintf(err, errsz, "socket %s: tlsguard creates the directory of an absolute path "
                             "only", socket_path);
        return -1;
    }
    /* path: the directory's components after the leading '/', cut at each '/' as walked. */
    snprintf(path, sizeof path, "%.*s", (int)(dir_end - socket_path), socket_path);
    if ((fd = open("/", OPEN_DIR)) < 0) {
        snprintf(err, errsz, "socket directory: /: %s", strerror(errno));
        return -1;
    }
    for (name = path + 1; *name && fd >= 0; name = next) {
        int last, sub = -1;

        next = name + strcspn(name, "/");
        last = !*next;
        if (!last)
            *next++ = '\0';
        /* shown: the path up to and including this component, for messages */
        snprintf(shown, sizeof shown, "%.*s", (int)(name - path) + (int)strlen(name), socket_path);
        if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            snprintf(err, errsz, "socket %s: empty, . or .. component in the path", socket_path);
        else if ((sub = open_component(fd, name, shown, err, errsz)) < 0 && errno == ENOENT)
            sub = make_component(fd, name, shown, last ? owner : 0, last ? group : 0,
                                 last ? 0750 : 0755, err, errsz);
        else if (sub >= 0 && last && check_last(sub, shown, owner, err, errsz) != 0) {
            close(sub);
            sub = -1;
        }
        close(fd);
        fd = sub;
    }
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}
