/* dm_req.h - a server request as the data model sees it (no CoAP types). */
#ifndef LWM_DM_REQ_H
#define LWM_DM_REQ_H

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
	const char *query;      /* "pmin=10&pmax=20", NUL-terminated, or NULL */
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
/* Removes obj from the registry (its instances stay with it). */
void dm_unregister(struct dm *dm, struct dm_obj *obj);

#endif
