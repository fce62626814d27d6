/* err.h - error codes shared by the data model, the objects and the codecs.
 *
 * Objects and the dm return 0 or a negative LWM_E* value.  Each value is the
 * negated CoAP response code built with libcoap's own macro, so the mapping
 * from an error to a response exists exactly once (in coap.c). */
#ifndef LWM_ERR_H
#define LWM_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <coap3/coap.h>

enum lwm_err {
	LWM_OK          = 0,
	LWM_EBADREQ     = -COAP_RESPONSE_CODE(400), /* bad value or payload */
	LWM_EUNAUTH     = -COAP_RESPONSE_CODE(401), /* not for this server (Security object) */
	LWM_ENOTFOUND   = -COAP_RESPONSE_CODE(404), /* no such object/instance/resource */
	LWM_ENOTALLOWED = -COAP_RESPONSE_CODE(405), /* operation not allowed on this target */
	LWM_ENOTACCEPT  = -COAP_RESPONSE_CODE(406), /* Accept we cannot produce */
	LWM_EENTITY     = -COAP_RESPONSE_CODE(413), /* payload too large */
	LWM_EFORMAT     = -COAP_RESPONSE_CODE(415), /* Content-Format we cannot parse */
	LWM_EINTERNAL   = -COAP_RESPONSE_CODE(500), /* our bug, ENOMEM */
	LWM_EUNAVAIL    = -COAP_RESPONSE_CODE(503), /* sensor/hardware fault, try later */
};

/* Maps a negative errno to the LWM_E* code a server should see. */
int lwm_err_from_errno(int neg_errno);

/* A caller-owned message buffer that codecs, parsers and drivers fill instead
 * of logging (the caller chooses level and context). */
struct errbuf {
	char msg[256];
};

/* Formats into err (if err is not NULL) and returns code, so a failure can be
 * reported in one statement: return errbuf_set(err, LWM_EBADREQ, "..."). */
int errbuf_set(struct errbuf *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
