/* security.c - the Security object (0), filled from [server] in the config.
 *
 * Servers never see it (the data model answers 4.01, LwM2M keeps it for
 * bootstrap, which lwm2md does not do), and its resources have no operations
 * in the OMA definition, so internal reads (lwm2mctl) are refused too.  Its
 * read callback tells the Security Mode (0/x/2: PSK, RPK, Certificate or
 * NoSec, from [server] security_mode); the keys stay in the config and are
 * not resources here, so nothing can return them. */
#include "objects.h"

#include <stdlib.h>

#include "agent.h"
#include "cfg.h"
#include "dm.h"
#include "oma/oma_0.h"

struct security_obj {
	struct dm_obj obj;
	struct dm_inst inst;
	struct agent *ag;
};

static int security_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
			 struct dm_out *out)
{
	struct security_obj *so = container_of(obj, struct security_obj, obj);
	const struct cfg_server *s = &so->ag->cfg->server;
	struct dm_value v;

	switch (rid) {
	case OMA_0_LWM2M_SERVER_URI:
		v = dm_str(s->uri);
		break;
	case OMA_0_BOOTSTRAP_SERVER:
		v = dm_bool(false);
		break;
	case OMA_0_SECURITY_MODE:
		v = dm_int(s->security_mode);   /* enum cfg_security holds the OMA values */
		break;
	case OMA_0_SHORT_SERVER_ID:
		v = dm_int(s->short_server_id);
		break;
	default:
		return LWM_ENOTFOUND;
	}
	return dm_out_value(out, &v);
}

static const struct dm_ops security_ops = {
	.read = security_read,
};

struct dm_obj *security_obj_new(struct agent *ag)
{
	struct security_obj *so = calloc(1, sizeof(*so));

	if (!so)
		return NULL;
	so->ag = ag;
	so->obj = (struct dm_obj){
		.oid = 0,
		.version = OMA_0_VERSION,
		.multi_inst = OMA_0_MULTI,
		.res = oma_0_res,
		.nres = sizeof(oma_0_res) / sizeof(oma_0_res[0]),
		.ops = &security_ops,
	};
	dm_inst_add(&so->obj, &so->inst);
	return &so->obj;
}

void security_obj_free(struct dm_obj *obj)
{
	if (obj)
		free(container_of(obj, struct security_obj, obj));
}
