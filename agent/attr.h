/* attr.h - Write-Attributes: notification attributes attached to paths.
 *
 * One server, so one attribute set per path (object, instance, resource or
 * resource instance).  The effective set of a path is merged upward: what
 * the path itself has, then its resource, instance and object, then the
 * Server object's default pmin/pmax. */
#ifndef LWM_ATTR_H
#define LWM_ATTR_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "dm.h"

enum {
	ATTR_PMIN = 1 << 0,
	ATTR_PMAX = 1 << 1,
	ATTR_GT = 1 << 2,
	ATTR_LT = 1 << 3,
	ATTR_ST = 1 << 4,
	ATTR_EPMIN = 1 << 5,
	ATTR_EPMAX = 1 << 6,
	ATTR_CON = 1 << 7,      /* LwM2M 1.2 */
	ATTR_HQMAX = 1 << 8,    /* LwM2M 1.2 */
	ATTR_EDGE = 1 << 9,     /* LwM2M 1.2 */
};

struct attrs {
	unsigned set;           /* ATTR_* present */
	uint32_t pmin, pmax, epmin, epmax, hqmax;
	double gt, lt, st;
	bool con;
	bool edge;
};

struct attr_store;

/* dir: the state folder where the attributes are kept across restarts
 * (attributes.json, loaded here, rewritten after every change), or NULL. */
struct attr_store *attr_store_new(const char *dir);
void attr_store_free(struct attr_store *s);
/* True if the saved attributes could not be read back (then a resumed
 * registration would carry attributes the server no longer sees: start anew). */
bool attr_store_damaged(const struct attr_store *s);
/* Applies a Write-Attributes query ("pmin=10&pmax=60&gt", a bare name unsets)
 * to path after checking it: names, values, numeric-only attributes on
 * numeric resources, lt < gt, lt + 2*st < gt, pmin <= pmax, epmin <= epmax
 * against the merged result.  v12: the server speaks LwM2M 1.2 (con, hqmax,
 * edge allowed).  Returns 0 or LWM_EBADREQ with the reason in err; on error
 * nothing changed. */
int attr_write(struct attr_store *s, struct dm *dm, const struct dm_path *path,
	       const char *query, bool v12, struct errbuf *err);
/* The attributes attached to exactly path (NULL if none). */
const struct attrs *attr_get(const struct attr_store *s, const struct dm_path *path);
/* The effective attributes for path, defaults from the Server object. */
void attr_effective(const struct attr_store *s, const struct dm_path *path, uint32_t def_pmin,
		    uint32_t def_pmax, struct attrs *out);
/* Appends ";pmin=10;gt=5" for the attributes attached to exactly path. */
void attr_format(const struct attr_store *s, const struct dm_path *path, struct buf *out);
/* Drops attributes under path (an instance or object that went away). */
void attr_forget(struct attr_store *s, const struct dm_path *path);
/* Serialises to / restores from a JSON text (for the state folder). */
int attr_save(const struct attr_store *s, struct buf *out);
int attr_load(struct attr_store *s, const char *json, size_t len, struct errbuf *err);

#endif
