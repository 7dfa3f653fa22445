/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_SOCKDIR_H
#define TLSGUARD_SOCKDIR_H

/*
 * sockdir - the directory of the unix milter socket, made safe before bind().
 *
 * sockdir_prepare() walks the directory part of an absolute socket path from "/" one
 * component at a time with openat(O_DIRECTORY | O_NOFOLLOW), so no symbolic link is ever
 * followed (a link anywhere on the path is refused, naming it). A missing component is
 * created with mkdirat() and then set up through its descriptor (fchown, fchmod), never by
 * path: a missing parent root:root 0755, the socket's own directory owner:group 0750.
 * A component is created only in a directory owned by root and writable by nobody else,
 * so that no other user can swap what was created. The socket's directory, when it exists,
 * must be owned by root or `owner` and writable by its owner only; it is used as it is.
 * Meant to run as root; the caller binds the socket afterwards.
 * Returns 0, or -1 with a message in err.
 */

#include <stddef.h>
#include <sys/types.h>

int sockdir_prepare(const char *socket_path, uid_t owner, gid_t group, char *err, size_t errsz);

#endif
