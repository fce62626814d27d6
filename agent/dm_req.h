/* dm_req.h - a server request as the data model sees it (no CoAP types). */
#ifndef LWM_DM_REQ_H
#define LWM_DM_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dm.h"

enum dm_method {
	DM_M_GET = 1,
	DM_M_POST = 2,
	DM_M_PUT = 3,
	DM_M_DELETE = 4,
	DM_M_FETCH = 5,
	DM_M_PATCH = 6,
	DM_M_IPATCH = 7,
};

struct dm_req {
	enum dm_method method;
	struct dm_path path;
	int format;             /* Content-Format, LWM_FMT_NONE if absent */
	int accept;             /* Accept, LWM_FMT_NONE if absent */
	const uint8_t *payload;
	size_t len;
	size_t offset;          /* Block1: where payload sits in the whole body */
	bool more;              /* Block1: more blocks of the body follow */
	const char *query;      /* "pmin=10&pmax=20", NUL-terminated, or NULL */
	bool v12;               /* registered as LwM2M 1.2 */
};

struct dm_resp {
	struct buf body;
	int format;             /* Content-Format of body, LWM_FMT_NONE if none */
	char location[32];      /* Location-Path of a Create, "" if none */
};

/* Serves req.  Returns a positive CoAP response code (COAP_RESPONSE_CODE(205)
 * ...) or a negative LWM_E* with the reason in err.  resp->body must have been
 * initialised by the caller. */
int dm_handle(struct dm *dm, const struct dm_req *req, struct dm_resp *resp, struct errbuf *err);
/* True if req is a Block1 piece that dm_handle() takes as it is (a Write of
 * a resource whose object has write_block); coap.c reassembles every other
 * block-wise body before calling dm_handle(). */
bool dm_streams(struct dm *dm, const struct dm_req *req);
/* Reads paths (one, or a composite list) and encodes them in format
 * (LWM_FMT_NONE: the default for what was read) into out.  Composite reads
 * skip paths that do not exist.  0 or LWM_E*. */
int dm_read_encode(struct dm *dm, const struct dm_path *paths, size_t n, bool composite,
		   int format, struct buf *out, struct errbuf *err);
/* The format dm_read_encode() picks for LWM_FMT_NONE. */
int dm_default_format(struct dm *dm, const struct dm_path *paths, size_t n, bool composite);
struct attr_store;
/* The paths of a Read-Composite / Observe-Composite body (at most max). */
int dm_composite_paths(const struct dm_req *req, struct dm_path *paths, size_t max, size_t *n,
		       struct errbuf *err);
/* Gives the dm the attribute store (Write-Attributes, Discover). */
void dm_set_attrs(struct dm *dm, struct attr_store *attrs);

/* Removes obj from the registry (its instances stay with it). */
void dm_unregister(struct dm *dm, struct dm_obj *obj);

#endif
