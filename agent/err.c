/* err.c - errno to LWM_E* mapping and the errbuf helper.
 *
 * Drivers and system wrappers speak -errno; what a server sees is an LwM2M
 * response code.  This is the one place that decides which errno means "your
 * request was wrong" and which means "try again later". */
#include "err.h"

#include <errno.h>
#include <stdio.h>

int lwm_err_from_errno(int neg_errno)
{
	switch (-neg_errno) {
	case EINVAL:
	case ERANGE:
		return LWM_EBADREQ;
	case ENOENT:
		return LWM_ENOTFOUND;
	case EPERM:
	case EACCES:
		return LWM_ENOTALLOWED;
	case EIO:
	case ENODEV:
	case ETIMEDOUT:
	case EAGAIN:
	case ENXIO:
		return LWM_EUNAVAIL;
	default:
		/* ENOMEM and everything we did not foresee: our side failed */
		return LWM_EINTERNAL;
	}
}

int errbuf_set(struct errbuf *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}
