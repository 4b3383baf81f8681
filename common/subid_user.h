/* Reentrant user and group resolution through NSS (any back-end). */
#ifndef SUBID_USER_H
#define SUBID_USER_H

#include <stdbool.h>
#include <sys/types.h>

#include "subid_config.h"

#define SUBID_NAME_MAX 256	/* longer owner names are refused */

struct subid_user {
	uid_t uid;
	gid_t gid;
	char *name;
};

/*
 * Resolve owner: a user name, or (when by_uid and the string is a decimal
 * number that is not a known name) a UID.  SUBID_OK found, SUBID_NONE
 * unknown, SUBID_ERR error (NSS back-end failure, memory).
 */
int subid_user_lookup(const char *owner, bool by_uid, struct subid_user *out);
int subid_user_lookup_uid(uid_t uid, struct subid_user *out);

/*
 * A name of decimal digits only.  Such a name is never granted anything: in
 * /etc/subuid, in shadow's files back-end and in every program that reads
 * the files, it would also stand for the account whose UID it spells.
 */
bool subid_name_is_numeric(const char *name);

/*
 * The account a line of /etc/subuid or /etc/subgid names: an owner of
 * digits is a UID (resolved by getpwuid, never by name), any other owner a
 * user name.  SUBID_OK, SUBID_NONE or SUBID_ERR, as subid_user_lookup().
 */
int subid_user_line_owner(const char *owner, struct subid_user *out);
void subid_user_free(struct subid_user *u);

/* Is u a member (primary or supplementary) of any group named in list? 0/1, -1 error. */
int subid_user_in_groups(const struct subid_user *u, const struct subid_strlist *list);

#endif
