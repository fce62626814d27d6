/* server.c - the Server object (1): one instance for the one configured server.
 *
 * The instance is a view over the live [server] settings (struct cfg_server):
 * what the server writes takes effect at once (a new lifetime or binding is
 * sent in an Update) and lasts until the config is reloaded or the daemon
 * restarts; the ini file stays the source of truth. */
#include "objects.h"

#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cfg.h"
#include "dm.h"
#include "log.h"
#include "oma/oma_1.h"
#include "reg.h"

struct server_obj {
	struct dm_obj obj;
	struct dm_inst inst;
	struct agent *ag;
	bool mute_send;
};

static struct cfg_server *srv(struct dm_obj *obj)
{
	return &container_of(obj, struct server_obj, obj)->ag->cfg->server;
}

static int server_read(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, struct dm_out *out)
{
	struct server_obj *so = container_of(obj, struct server_obj, obj);
	struct cfg_server *s = srv(obj);
	struct dm_value v;

	switch (rid) {
	case OMA_1_SHORT_SERVER_ID:
		v = dm_int(s->short_server_id);
		break;
	case OMA_1_LIFETIME:
		v = dm_int(s->lifetime);
		break;
	case OMA_1_DEFAULT_MINIMUM_PERIOD:
		v = dm_int(s->default_pmin);
		break;
	case OMA_1_DEFAULT_MAXIMUM_PERIOD:
		v = dm_int(s->default_pmax);
		break;
	case OMA_1_DISABLE_TIMEOUT:
		v = dm_int(s->disable_timeout);
		break;
	case OMA_1_NOTIFICATION_STORING_WHEN_DISABLED_OR_OFFLINE:
		v = dm_bool(s->notification_storing);
		break;
	case OMA_1_BINDING:
		v = dm_str(s->binding);
		break;
	case OMA_1_COMMUNICATION_RETRY_COUNT:
		v = dm_uint(s->retry_count);
		break;
	case OMA_1_COMMUNICATION_RETRY_TIMER:
		v = dm_uint(s->retry_timer);
		break;
	case OMA_1_COMMUNICATION_SEQUENCE_DELAY_TIMER:
		v = dm_uint(s->sequence_delay);
		break;
	case OMA_1_COMMUNICATION_SEQUENCE_RETRY_COUNT:
		v = dm_uint(s->sequence_retry_count);
		break;
	case OMA_1_MUTE_SEND:
		v = dm_bool(so->mute_send);
		break;
	default:
		return LWM_ENOTFOUND;
	}
	return dm_out_value(out, &v);
}

/* Range-checks an integer write; 0 or LWM_EBADREQ. */
static int in_range(const struct dm_value *v, int64_t min, int64_t max, uint32_t *dst)
{
	int64_t x = v->type == DM_T_UINT ? (v->u > INT64_MAX ? -1 : (int64_t)v->u) : v->i;

	if (x < min || x > max)
		return LWM_EBADREQ;
	*dst = (uint32_t)x;
	return 0;
}

static int server_write(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid, uint16_t riid,
			const struct dm_value *v)
{
	struct server_obj *so = container_of(obj, struct server_obj, obj);
	struct cfg_server *s = srv(obj);
	uint32_t x;
	int rc;

	switch (rid) {
	case OMA_1_LIFETIME:
		if ((rc = in_range(v, 10, 31536000, &x)))
			return rc;
		if (x != s->lifetime) {
			s->lifetime = x;
			reg_params_changed(so->ag->reg);
		}
		return 0;
	case OMA_1_DEFAULT_MINIMUM_PERIOD:
		return in_range(v, 0, 31536000, &s->default_pmin);
	case OMA_1_DEFAULT_MAXIMUM_PERIOD:
		return in_range(v, 0, 31536000, &s->default_pmax);
	case OMA_1_DISABLE_TIMEOUT:
		return in_range(v, 0, 31536000, &s->disable_timeout);
	case OMA_1_NOTIFICATION_STORING_WHEN_DISABLED_OR_OFFLINE:
		s->notification_storing = v->b;
		return 0;
	case OMA_1_BINDING: {
		char *b;

		if (v->bytes.len == 1 && v->bytes.p[0] == 'U')
			b = strdup("U");
		else if (v->bytes.len == 2 && !memcmp(v->bytes.p, "UQ", 2))
			b = strdup("UQ");
		else
			return LWM_EBADREQ;     /* we speak UDP only, with or without queue */
		if (!b)
			return LWM_EINTERNAL;
		if (strcmp(b, s->binding)) {
			free(s->binding);
			s->binding = b;
			reg_params_changed(so->ag->reg);
		} else {
			free(b);
		}
		return 0;
	}
	case OMA_1_COMMUNICATION_RETRY_COUNT:
		return in_range(v, 1, 255, &s->retry_count);
	case OMA_1_COMMUNICATION_RETRY_TIMER:
		return in_range(v, 1, 86400, &s->retry_timer);
	case OMA_1_COMMUNICATION_SEQUENCE_DELAY_TIMER:
		return in_range(v, 1, 31536000, &s->sequence_delay);
	case OMA_1_COMMUNICATION_SEQUENCE_RETRY_COUNT:
		return in_range(v, 1, 255, &s->sequence_retry_count);
	case OMA_1_MUTE_SEND:
		so->mute_send = v->b;
		return 0;
	default:
		return LWM_ENOTFOUND;
	}
}

static void do_disable(struct agent *ag, void *arg)
{
	reg_disable(ag->reg, ag->cfg->server.disable_timeout);
}

static void do_update(struct agent *ag, void *arg)
{
	reg_update_now(ag->reg);
}

static int server_execute(struct dm_obj *obj, struct dm_inst *inst, uint16_t rid,
			  const char *args, size_t len)
{
	struct server_obj *so = container_of(obj, struct server_obj, obj);

	/* both answer 2.04 first: the registration traffic follows the response */
	switch (rid) {
	case OMA_1_DISABLE:
		return agent_after_response(so->ag, do_disable, NULL) ? LWM_EINTERNAL : 0;
	case OMA_1_REGISTRATION_UPDATE_TRIGGER:
		return agent_after_response(so->ag, do_update, NULL) ? LWM_EINTERNAL : 0;
	default:
		return LWM_ENOTALLOWED;         /* Bootstrap-Request Trigger: no bootstrap */
	}
}

static const struct dm_ops server_ops = {
	.read = server_read,
	.write = server_write,
	.execute = server_execute,
};

/* LwM2M 1.1 servers know Server object 1.1, whose resources end at Mute
 * Send (23); 24..27 came with object version 1.2 of LwM2M 1.2. */
static size_t nres_1_1(void)
{
	size_t n = 0;

	while (n < sizeof(oma_1_res) / sizeof(oma_1_res[0]) && oma_1_res[n].id <= OMA_1_MUTE_SEND)
		n++;
	return n;
}

struct dm_obj *server_obj_new(struct agent *ag)
{
	struct server_obj *so = calloc(1, sizeof(*so));

	if (!so)
		return NULL;
	so->ag = ag;
	so->obj = (struct dm_obj){
		.oid = 1,
		.version = "1.1",
		.multi_inst = OMA_1_MULTI,
		.res = oma_1_res,
		.nres = nres_1_1(),
		.ops = &server_ops,
	};
	so->inst.id = 0;
	dm_inst_add(&so->obj, &so->inst);
	return &so->obj;
}

void server_obj_free(struct dm_obj *obj)
{
	if (obj)
		free(container_of(obj, struct server_obj, obj));
}

uint32_t server_obj_lifetime(struct agent *ag)
{
	return ag->cfg->server.lifetime;
}

const char *server_obj_binding(struct agent *ag)
{
	return ag->cfg->server.binding;
}

bool server_obj_mute_send(struct agent *ag)
{
	struct dm_obj *obj = dm_find_obj(ag->dm, 1);

	return obj && container_of(obj, struct server_obj, obj)->mute_send;
}
