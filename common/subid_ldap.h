/*
 * The central store: an LDAP directory (OpenLDAP, 389-ds, ...) holding one
 * subordinateIdEntry per owner (RDN cn=<uid>, so a second ADD for the same
 * owner fails) and an allocator entry (cn=allocator) whose subidNextStart is
 * advanced by an atomic compare-and-swap modify.  Attribute names are the
 * ones SSSD's LDAP provider reads.
 */
#ifndef SUBID_LDAP_H
#define SUBID_LDAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "subid_config.h"
#include "subid_log.h"
#include "subid_range.h"
#include "subid_store.h"

/*
 * Find uid's entry, or allocate one: the first free aligned start at or
 * after the allocator's cursor (from the pool's start once the cursor has
 * reached its end) that overlaps no entry in the directory and no taken[]
 * interval, made exclusive by ADDing its slot claim, then the owner's entry
 * (whose RDN names the owner, so one owner never gets two).  *granted tells
 * whether this call created it.
 */
int subid_ldap_ensure(const struct subid_config *cfg, uid_t uid, const char *name,
		      const struct subid_interval *taken, size_t ntaken,
		      struct subid_grant *uid_range, struct subid_grant *gid_range, bool *granted,
		      const struct subid_log *log);

/*
 * uid's entry, read with an anonymous bind (the plugin's lookup on a replica
 * miss): OK, NONE when there is none, or an error.
 */
int subid_ldap_lookup(const struct subid_config *cfg, uid_t uid, struct subid_grant *uid_range,
		      struct subid_grant *gid_range, const struct subid_log *log);

/* Delete uid's entry and its slot claim: OK, NONE when uid has none, or an error. */
int subid_ldap_release(const struct subid_config *cfg, uid_t uid, const struct subid_log *log);

#endif
