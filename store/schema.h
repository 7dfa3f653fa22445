/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_SCHEMA_H
#define TLSGUARD_SCHEMA_H

/*
 * schema - the numbered migrations from schema/NNN_*.sql, embedded at build time.
 * schema_migrations[i] upgrades a database from user_version i to i + 1.
 */

extern const char *const schema_migrations[];
extern const int schema_version;

#endif
