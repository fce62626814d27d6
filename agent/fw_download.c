/* fw_download.c - pulls a firmware image (or its signature) in the loop.
 *
 * http:// and https:// go through libcurl's multi interface: curl tells us
 * (socket callback) which fds to watch and (timer callback) when to call it
 * back; both become loop handles, so a download never blocks the loop.
 * Certificates are checked (the system's CAs, or [firmware] ca_file).  A
 * resume asks for "Range: bytes=N-" with "If-Range: <validator>": a 206
 * continues the image, a 200 means the body changed (or the server ignores
 * ranges) and the image starts over from its first byte.
 *
 * coap:// and coaps:// (DTLS, the server's certificate checked against
 * [firmware] ca_file and its name against the URI's host) go through a
 * libcoap context of its own, without libcoap's
 * block-wise machinery (which would reassemble the body in memory): each
 * Block2 is asked for here, from the block after what the image holds, and
 * each answer's ETag must match the first one (a change restarts from 0).
 *
 * This file maps failures to Update Result codes; it does not know the
 * Firmware Update state machine. */
#include "fw_download.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <coap3/coap.h>
/* the type-checking macros of curl.h would hide the functions the table below
 * points at; the table keeps their prototypes */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt

#include "agent.h"
#include "buf.h"
#include "cfg.h"
#include "dm.h"
#include "dynlib.h"
#include "err.h"
#include "fw_image.h"
#include "log.h"
#include "loop.h"

/* libcurl is loaded by the first http(s) download (dynlib.h): it maps
 * OpenSSL, Kerberos, LDAP and more, megabytes a gateway carries for nothing
 * between firmware updates. */
#define CURL_FUNCS(X) \
	X(curl_easy_cleanup) \
	X(curl_easy_getinfo) \
	X(curl_easy_init) \
	X(curl_easy_setopt) \
	X(curl_easy_strerror) \
	X(curl_global_init) \
	X(curl_multi_add_handle) \
	X(curl_multi_assign) \
	X(curl_multi_cleanup) \
	X(curl_multi_info_read) \
	X(curl_multi_init) \
	X(curl_multi_remove_handle) \
	X(curl_multi_setopt) \
	X(curl_multi_socket_action) \
	X(curl_slist_append) \
	X(curl_slist_free_all)
static struct { CURL_FUNCS(DYNLIB_MEMBER) } libcurl;
#define CURL_SYM(f) DYNLIB_ENTRY(libcurl, f)
static const struct dynlib_sym libcurl_syms[] = { CURL_FUNCS(CURL_SYM) };
#define curl_easy_cleanup libcurl.p_curl_easy_cleanup
#define curl_easy_getinfo libcurl.p_curl_easy_getinfo
#define curl_easy_init libcurl.p_curl_easy_init
#define curl_easy_setopt libcurl.p_curl_easy_setopt
#define curl_easy_strerror libcurl.p_curl_easy_strerror
#define curl_global_init libcurl.p_curl_global_init
#define curl_multi_add_handle libcurl.p_curl_multi_add_handle
#define curl_multi_assign libcurl.p_curl_multi_assign
#define curl_multi_cleanup libcurl.p_curl_multi_cleanup
#define curl_multi_info_read libcurl.p_curl_multi_info_read
#define curl_multi_init libcurl.p_curl_multi_init
#define curl_multi_remove_handle libcurl.p_curl_multi_remove_handle
#define curl_multi_setopt libcurl.p_curl_multi_setopt
#define curl_multi_socket_action libcurl.p_curl_multi_socket_action
#define curl_slist_append libcurl.p_curl_slist_append
#define curl_slist_free_all libcurl.p_curl_slist_free_all

#define MAX_SOCKS 4
#define COAP_TRIES 4            /* sends of one block request (libcoap retransmits inside) */
#define DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"     /* Debian's ca-certificates */

struct dl_sock {
	struct loop_fd lf;
	struct fw_dl *dl;
	bool used;
};

struct fw_dl {
	struct agent *ag;
	const struct fw_dl_cb *cb;
	void *arg;
	char *uri;
	int proto;
	struct fw_image *im;            /* or mem */
	struct buf *mem;
	size_t max;
	char *validator;                /* what the image holds the start of */
	int result;                     /* FW_R_INITIAL while fine */
	char why[256];
	struct loop_timer timer;        /* curl's timeout, coap's pacing, the end */
	bool finishing;
	/* http */
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	struct dl_sock socks[MAX_SOCKS];
	long status;                    /* of the response being read */
	bool body_started;
	char etag[128], modified[64];
	uint64_t offset, total;         /* where the body starts; its whole size (0: unknown) */
	/* coap */
	coap_context_t *cctx;
	coap_session_t *csess;
	struct loop_fd clf;
	char cpath[256];
	char chost[256];                /* for the certificate's name (coaps) */
	uint8_t cetag[8];
	size_t cetag_len;
	bool cetag_known;
	uint32_t block;                 /* the block asked for */
	unsigned szx;                   /* its size: 1 << (szx + 4) bytes, from the config */
	int tries;
};

/* ---- common ----------------------------------------------------------- */

int fw_dl_proto(const char *uri)
{
	static const struct {
		const char *prefix;
		int proto;
	} schemes[] = {
		{ "http://", FW_P_HTTP }, { "https://", FW_P_HTTPS },
		{ "coap://", FW_P_COAP }, { "coaps://", FW_P_COAPS },
	};
	const char *colon = strchr(uri, ':');
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].prefix);

		if (strncasecmp(uri, schemes[i].prefix, n))
			continue;
		if (!uri[n] || uri[n] == '/' || strpbrk(uri, " \t\r\n"))
			return -FW_R_BAD_URI;
		if (schemes[i].proto == FW_P_COAPS && !coap_dtls_is_supported())
			return -FW_R_BAD_PROTOCOL;
		return schemes[i].proto;
	}
	if (!colon || colon == uri)
		return -FW_R_BAD_URI;
	for (const char *p = uri; p < colon; p++)
		if (!isalnum((unsigned char)*p) && !strchr("+-.", *p))
			return -FW_R_BAD_URI;
	return -FW_R_BAD_PROTOCOL;      /* a URI, but not a scheme we pull from */
}

static void cleanup(struct fw_dl *dl);

/* Ends the download from the loop (never inside a curl or libcoap
 * callback, whose handles the callback frees). */
static void on_end(struct loop_timer *t)
{
	struct fw_dl *dl = container_of(t, struct fw_dl, timer);
	const struct fw_dl_cb *cb = dl->cb;
	void *arg = dl->arg;
	char why[256];
	int result = dl->result;

	snprintf(why, sizeof(why), "%s", dl->why);
	cleanup(dl);
	cb->done(arg, result, why);
}

static void end(struct fw_dl *dl, int result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void end(struct fw_dl *dl, int result, const char *fmt, ...)
{
	va_list ap;

	if (dl->finishing)
		return;
	dl->finishing = true;
	dl->result = result;
	va_start(ap, fmt);
	vsnprintf(dl->why, sizeof(dl->why), fmt, ap);
	va_end(ap);
	dl->timer.cb = on_end;
	loop_timer_set(dl->ag->loop, &dl->timer, 0);
}

/* Body bytes for the sink; 0, or the Update Result that stops the pull. */
static int sink(struct fw_dl *dl, const void *p, size_t len)
{
	struct errbuf err = { "" };
	int rc;

	if (!dl->im) {
		if (dl->mem->len + len > dl->max) {
			snprintf(dl->why, sizeof(dl->why), "larger than %zu bytes", dl->max);
			return FW_R_INTEGRITY;
		}
		buf_add(dl->mem, p, len);
		return dl->mem->oom ? FW_R_NO_MEMORY : 0;
	}
	rc = fw_image_append(dl->im, p, len, &err);
	if (!rc)
		return 0;
	snprintf(dl->why, sizeof(dl->why), "%s", err.msg);
	return rc == -ENOSPC || rc == -EFBIG || rc == -EDQUOT ? FW_R_NO_SPACE : FW_R_FAILED;
}

/* The body is a new one: the image starts over. */
static int restart_image(struct fw_dl *dl)
{
	struct errbuf err = { "" };
	int rc;

	if (!dl->im)
		return 0;
	log_info("5/0: %s: the image on the server is not the one begun; starting over",
		 dl->uri);
	rc = fw_image_begin(dl->im, false, &err);
	if (rc) {
		snprintf(dl->why, sizeof(dl->why), "%s", err.msg);
		return FW_R_FAILED;
	}
	return 0;
}

static void set_validator(struct fw_dl *dl, const char *v)
{
	free(dl->validator);
	dl->validator = strdup(v);
	if (dl->im)
		dl->cb->validator(dl->arg, v);
}

/* ---- http ------------------------------------------------------------- */

static void http_check(struct fw_dl *dl);

static void on_sock(struct loop_fd *lf, uint32_t revents)
{
	struct dl_sock *s = container_of(lf, struct dl_sock, lf);
	struct fw_dl *dl = s->dl;
	int running, ev = 0;

	if (revents & (EPOLLIN | EPOLLHUP))
		ev |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		ev |= CURL_CSELECT_OUT;
	if (revents & EPOLLERR)
		ev |= CURL_CSELECT_ERR;
	curl_multi_socket_action(dl->multi, lf->fd, ev, &running);
	http_check(dl);
}

static void on_curl_timer(struct loop_timer *t)
{
	struct fw_dl *dl = container_of(t, struct fw_dl, timer);
	int running;

	curl_multi_socket_action(dl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check(dl);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct fw_dl *dl = userp;
	struct dl_sock *s = socketp;
	int i;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			loop_del_fd(dl->ag->loop, &s->lf);
			s->used = false;
			curl_multi_assign(dl->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		for (i = 0; i < MAX_SOCKS && dl->socks[i].used; i++)
			;
		if (i == MAX_SOCKS)
			return -1;
		s = &dl->socks[i];
		s->used = true;
		s->dl = dl;
		s->lf.fd = fd;
		s->lf.cb = on_sock;
		s->lf.events = 0;
		curl_multi_assign(dl->multi, fd, s);
		s->lf.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
		return loop_add_fd(dl->ag->loop, &s->lf) ? -1 : 0;
	}
	s->lf.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	return loop_mod_fd(dl->ag->loop, &s->lf) ? -1 : 0;
}

static int timer_cb(CURLM *multi, long ms, void *userp)
{
	struct fw_dl *dl = userp;

	if (dl->finishing)
		return 0;
	if (ms < 0)
		loop_timer_cancel(dl->ag->loop, &dl->timer);
	else
		loop_timer_set(dl->ag->loop, &dl->timer, (uint64_t)ms);
	return 0;
}

/* Header lines of each response (redirects included). */
static size_t header_cb(char *b, size_t size, size_t n, void *userp)
{
	struct fw_dl *dl = userp;
	size_t len = size * n;
	char line[512], *v;
	unsigned long long a, z, t;

	snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), b);
	line[strcspn(line, "\r\n")] = 0;
	if (!strncmp(line, "HTTP/", 5)) {
		/* a new response: forget the last one's headers */
		dl->etag[0] = dl->modified[0] = 0;
		dl->total = 0;
		dl->status = 0;
		sscanf(line, "HTTP/%*s %ld", &dl->status);
		return len;
	}
	v = strchr(line, ':');
	if (!v)
		return len;
	*v++ = 0;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!strcasecmp(line, "ETag"))
		snprintf(dl->etag, sizeof(dl->etag), "%s", v);
	else if (!strcasecmp(line, "Last-Modified"))
		snprintf(dl->modified, sizeof(dl->modified), "%s", v);
	else if (!strcasecmp(line, "Content-Length") && dl->status == 200)
		dl->total = strtoull(v, NULL, 10);
	else if (!strcasecmp(line, "Content-Range") &&
		 sscanf(v, "bytes %llu-%llu/%llu", &a, &z, &t) == 3)
		dl->total = t;
	return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *userp)
{
	struct fw_dl *dl = userp;
	size_t len = size * n;
	struct errbuf err = { "" };
	int rc;

	if (!dl->body_started) {
		dl->body_started = true;
		if (dl->status != 200 && dl->status != 206) {
			dl->result = FW_R_CONN_LOST;
			snprintf(dl->why, sizeof(dl->why), "HTTP status %ld", dl->status);
			return 0;
		}
		if (dl->status == 200 && dl->offset && (rc = restart_image(dl))) {
			dl->result = rc;
			return 0;
		}
		if (dl->im && dl->total && fw_image_room(dl->im, dl->total, &err)) {
			dl->result = FW_R_NO_SPACE;
			snprintf(dl->why, sizeof(dl->why), "%s", err.msg);
			return 0;
		}
		set_validator(dl, dl->etag[0] ? dl->etag : dl->modified);
	}
	rc = sink(dl, p, len);
	if (rc) {
		dl->result = rc;
		return 0;
	}
	return len;
}

static void http_check(struct fw_dl *dl)
{
	CURLMsg *m;
	int left;

	while (!dl->finishing && (m = curl_multi_info_read(dl->multi, &left))) {
		CURLcode rc = m->data.result;
		long status = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(dl->easy, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_OK && status == 416 && dl->offset) {
			/* the resume point is past the end: the body is not the
			 * one begun (or was complete); start over */
			int r = restart_image(dl);

			end(dl, r ? r : FW_R_CONN_LOST, "HTTP 416 for a resume");
			return;
		}
		if (rc == CURLE_OK && !dl->body_started && status >= 200 && status < 300)
			set_validator(dl, dl->etag[0] ? dl->etag : dl->modified);   /* empty body */
		if (rc == CURLE_OK) {
			end(dl, FW_R_INITIAL, "complete");
		} else if (dl->result != FW_R_INITIAL) {
			end(dl, dl->result, "%s", dl->why);
		} else if (rc == CURLE_HTTP_RETURNED_ERROR) {
			end(dl, status >= 500 ? FW_R_CONN_LOST : FW_R_BAD_URI, "HTTP status %ld",
			    status);
		} else if (rc == CURLE_URL_MALFORMAT || rc == CURLE_COULDNT_RESOLVE_HOST) {
			end(dl, FW_R_BAD_URI, "%s", curl_easy_strerror(rc));
		} else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
			end(dl, FW_R_BAD_PROTOCOL, "%s", curl_easy_strerror(rc));
		} else if (rc == CURLE_OUT_OF_MEMORY) {
			end(dl, FW_R_NO_MEMORY, "%s", curl_easy_strerror(rc));
		} else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
			end(dl, FW_R_CONN_LOST, "TLS: %s", curl_easy_strerror(rc));
		} else {
			end(dl, FW_R_CONN_LOST, "%s", curl_easy_strerror(rc));
		}
	}
}

static int http_start(struct fw_dl *dl, const char *validator, struct errbuf *err)
{
	static bool inited;
	const struct cfg_firmware *c = &dl->ag->cfg->firmware;
	char range[48], hdr[200];

	if (!inited) {
		int rc = dynlib_load("libcurl.so.4", "libcurl4", libcurl_syms,
				     sizeof(libcurl_syms) / sizeof(libcurl_syms[0]), err);

		if (rc)
			return rc;
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return errbuf_set(err, -ENOMEM, "libcurl cannot start");
		inited = true;
	}
	dl->multi = curl_multi_init();
	dl->easy = curl_easy_init();
	if (!dl->multi || !dl->easy)
		return errbuf_set(err, -ENOMEM, "libcurl: out of memory");
	curl_multi_setopt(dl->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(dl->multi, CURLMOPT_SOCKETDATA, dl);
	curl_multi_setopt(dl->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(dl->multi, CURLMOPT_TIMERDATA, dl);
	curl_easy_setopt(dl->easy, CURLOPT_URL, dl->uri);
	curl_easy_setopt(dl->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(dl->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(dl->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(dl->easy, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(dl->easy, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(dl->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(dl->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file)
		curl_easy_setopt(dl->easy, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(dl->easy, CURLOPT_CONNECTTIMEOUT, (long)c->timeout);
	curl_easy_setopt(dl->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(dl->easy, CURLOPT_LOW_SPEED_TIME, (long)c->timeout);
	curl_easy_setopt(dl->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(dl->easy, CURLOPT_USERAGENT, "lwm2md/" LWM_VERSION);
	curl_easy_setopt(dl->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(dl->easy, CURLOPT_HEADERDATA, dl);
	curl_easy_setopt(dl->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(dl->easy, CURLOPT_WRITEDATA, dl);
	if (dl->im && dl->im->size) {
		dl->offset = dl->im->size;
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)dl->offset);
		curl_easy_setopt(dl->easy, CURLOPT_RANGE, range);
		if (validator && *validator) {
			/* only this body's rest; a changed body comes whole (200) */
			snprintf(hdr, sizeof(hdr), "If-Range: %s", validator);
			dl->headers = curl_slist_append(NULL, hdr);
			curl_easy_setopt(dl->easy, CURLOPT_HTTPHEADER, dl->headers);
		}
	}
	dl->timer.cb = on_curl_timer;
	if (curl_multi_add_handle(dl->multi, dl->easy))
		return errbuf_set(err, -ENOMEM, "libcurl: cannot add the transfer");
	return 0;
}

static void http_cleanup(struct fw_dl *dl)
{
	int i;

	if (dl->multi && dl->easy)
		curl_multi_remove_handle(dl->multi, dl->easy);
	for (i = 0; i < MAX_SOCKS; i++) {
		if (dl->socks[i].used) {
			loop_del_fd(dl->ag->loop, &dl->socks[i].lf);
			dl->socks[i].used = false;
		}
	}
	if (dl->easy)
		curl_easy_cleanup(dl->easy);
	if (dl->multi)
		curl_multi_cleanup(dl->multi);
	curl_slist_free_all(dl->headers);
	dl->easy = NULL;
	dl->multi = NULL;
	dl->headers = NULL;
}

/* ---- coap ------------------------------------------------------------- */

static void coap_arm(struct fw_dl *dl);

static void coap_ask(struct fw_dl *dl)
{
	coap_pdu_t *pdu;
	uint8_t tok[8], b[4];
	size_t toklen;
	const char *s, *e;

	pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
			    coap_new_message_id(dl->csess), coap_session_max_pdu_size(dl->csess));
	if (!pdu) {
		end(dl, FW_R_NO_MEMORY, "out of memory");
		return;
	}
	coap_session_new_token(dl->csess, &toklen, tok);
	coap_add_token(pdu, toklen, tok);
	for (s = dl->cpath; *s; s = *e ? e + 1 : e) {
		e = s + strcspn(s, "/");
		if (e > s)
			coap_add_option(pdu, COAP_OPTION_URI_PATH, (size_t)(e - s),
					(const uint8_t *)s);
	}
	coap_add_option(pdu, COAP_OPTION_BLOCK2,
			coap_encode_var_safe(b, sizeof(b), dl->block << 4 | dl->szx), b);
	if (coap_send(dl->csess, pdu) == COAP_INVALID_MID)
		end(dl, FW_R_CONN_LOST, "cannot send a CoAP request");
	coap_arm(dl);
}

static struct fw_dl *coap_dl;   /* libcoap 4.3.1 handlers carry no user pointer */

static coap_response_t coap_on_response(coap_session_t *s, const coap_pdu_t *sent,
					const coap_pdu_t *recv, const coap_mid_t mid)
{
	struct fw_dl *dl = coap_dl;
	coap_opt_iterator_t it;
	coap_opt_t *o;
	coap_block_b_t blk;
	const uint8_t *data = NULL;
	size_t len = 0, off, chunk;
	int code = coap_pdu_get_code(recv), rc;
	uint8_t etag[8] = { 0 };
	size_t etag_len = 0;

	if (!dl || dl->finishing)
		return COAP_RESPONSE_OK;
	if (COAP_RESPONSE_CLASS(code) != 2) {
		end(dl, COAP_RESPONSE_CLASS(code) == 4 ? FW_R_BAD_URI : FW_R_CONN_LOST,
		    "CoAP %d.%02d", code >> 5, code & 31);
		return COAP_RESPONSE_OK;
	}
	o = coap_check_option(recv, COAP_OPTION_ETAG, &it);
	if (o && coap_opt_length(o) <= sizeof(etag)) {
		etag_len = coap_opt_length(o);
		memcpy(etag, coap_opt_value(o), etag_len);
	}
	coap_get_data(recv, &len, &data);
	if (!coap_get_block_b(s, recv, COAP_OPTION_BLOCK2, &blk)) {
		blk.num = 0;
		blk.m = 0;
		blk.szx = dl->szx;
	}
	chunk = (size_t)1 << (blk.szx + 4);
	off = (size_t)blk.num * chunk;
	if (dl->block == 0 || !dl->cetag_known) {
		char v[2 * sizeof(etag) + 1] = "";

		if (dl->cetag_known && (etag_len != dl->cetag_len ||
					memcmp(etag, dl->cetag, etag_len)) &&
		    off == 0 && dl->im && dl->im->size && (rc = restart_image(dl))) {
			end(dl, rc, "%s", dl->why);
			return COAP_RESPONSE_OK;
		}
		memcpy(dl->cetag, etag, etag_len);
		dl->cetag_len = etag_len;
		dl->cetag_known = true;
		for (size_t i = 0; i < etag_len; i++)
			snprintf(v + 2 * i, 3, "%02x", etag[i]);
		set_validator(dl, v);
	} else if (etag_len != dl->cetag_len || memcmp(etag, dl->cetag, etag_len)) {
		/* the body changed under us: from the first block again */
		if ((rc = restart_image(dl))) {
			end(dl, rc, "%s", dl->why);
			return COAP_RESPONSE_OK;
		}
		dl->cetag_len = etag_len;
		memcpy(dl->cetag, etag, etag_len);
		dl->block = 0;
		dl->tries = 0;
		coap_ask(dl);
		return COAP_RESPONSE_OK;
	}
	if (dl->im && off != dl->im->size) {
		if (off > dl->im->size || blk.szx != dl->szx) {
			/* a block size the server chose: ask again from 0 */
			end(dl, FW_R_CONN_LOST, "CoAP block at %zu, expected %llu", off,
			    (unsigned long long)dl->im->size);
			return COAP_RESPONSE_OK;
		}
	}
	if ((rc = sink(dl, data, len))) {
		end(dl, rc, "%s", dl->why);
		return COAP_RESPONSE_OK;
	}
	if (!blk.m) {
		end(dl, FW_R_INITIAL, "complete");
		return COAP_RESPONSE_OK;
	}
	dl->block = blk.num + 1;
	dl->tries = 0;
	coap_ask(dl);
	return COAP_RESPONSE_OK;
}

static void coap_on_nack(coap_session_t *s, const coap_pdu_t *sent,
			 const coap_nack_reason_t reason, const coap_mid_t mid)
{
	struct fw_dl *dl = coap_dl;

	if (!dl || dl->finishing)
		return;
	if (++dl->tries < COAP_TRIES && reason == COAP_NACK_TOO_MANY_RETRIES) {
		coap_ask(dl);
		return;
	}
	if (dl->why[0]) {
		end(dl, FW_R_CONN_LOST, "%s", dl->why);         /* a TLS failure, named above */
		return;
	}
	end(dl, FW_R_CONN_LOST, "CoAP server %s",
	    reason == COAP_NACK_TOO_MANY_RETRIES ? "does not answer" :
	    reason == COAP_NACK_RST ? "sent a Reset" :
	    reason == COAP_NACK_TLS_FAILED ? "TLS handshake failed" : "unreachable");
}

static void coap_process(struct fw_dl *dl)
{
	coap_io_process(dl->cctx, COAP_IO_NO_WAIT);
	coap_arm(dl);
}

static void on_coap_fd(struct loop_fd *lf, uint32_t revents)
{
	coap_process(container_of(lf, struct fw_dl, clf));
}

static void on_coap_timer(struct loop_timer *t)
{
	coap_process(container_of(t, struct fw_dl, timer));
}

static void coap_arm(struct fw_dl *dl)
{
	coap_tick_t now;
	unsigned ms;

	if (dl->finishing || !dl->cctx)
		return;
	coap_ticks(&now);
	ms = coap_io_prepare_epoll(dl->cctx, now);
	if (ms)
		loop_timer_set(dl->ag->loop, &dl->timer, ms);
	else
		loop_timer_cancel(dl->ag->loop, &dl->timer);
}

/* coaps: the TLS layer checked the chain against the CA file; the name in
 * the server's certificate must be the host of the URI. */
static int check_cn(const char *cn, const uint8_t *cert, size_t len, coap_session_t *s,
		    unsigned depth, int validated, void *arg)
{
	struct fw_dl *dl = arg;

	if (!validated) {
		snprintf(dl->why, sizeof(dl->why), "TLS: certificate of %.100s not trusted", cn);
		return 0;
	}
	if (depth == 0 && strcasecmp(cn, dl->chost)) {
		snprintf(dl->why, sizeof(dl->why), "TLS: certificate is for %.100s, not %.100s", cn,
			 dl->chost);
		return 0;
	}
	return 1;
}

static int cdl_start(struct fw_dl *dl, const char *validator, struct errbuf *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	coap_uri_t u;
	coap_address_t dst;
	char host[256], port[8];
	size_t i;
	int rc;

	if (coap_dl)
		return errbuf_set(err, -EBUSY, "a CoAP download is running");
	/* [firmware] coap_block_size is a power of two in 16..1024 (cfg.c) */
	for (dl->szx = 0; dl->szx < 6 && 16u << dl->szx < dl->ag->cfg->firmware.coap_block_size;)
		dl->szx++;
	if (coap_split_uri((const uint8_t *)dl->uri, strlen(dl->uri), &u) < 0 ||
	    u.host.length >= sizeof(host) || u.path.length >= sizeof(dl->cpath))
		return errbuf_set(err, -EINVAL, "%s: not a CoAP URI", dl->uri);
	snprintf(host, sizeof(host), "%.*s", (int)u.host.length, (const char *)u.host.s);
	snprintf(dl->chost, sizeof(dl->chost), "%s", host);
	snprintf(port, sizeof(port), "%u", u.port);
	snprintf(dl->cpath, sizeof(dl->cpath), "%.*s", (int)u.path.length, (const char *)u.path.s);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		return errbuf_set(err, -EHOSTUNREACH, "%s: %s", host, gai_strerror(rc));
	coap_address_init(&dst);
	dst.size = res->ai_addrlen;
	memcpy(&dst.addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	dl->cctx = coap_new_context(NULL);
	if (!dl->cctx)
		return errbuf_set(err, -ENOMEM, "libcoap: no context");
	/* no COAP_BLOCK_USE_LIBCOAP: the blocks are ours, one at a time */
	coap_register_response_handler(dl->cctx, coap_on_response);
	coap_register_nack_handler(dl->cctx, coap_on_nack);
	if (dl->proto == FW_P_COAPS) {
		const char *ca = dl->ag->cfg->firmware.ca_file;
		coap_dtls_pki_t pki = {
			.version = COAP_DTLS_PKI_SETUP_VERSION,
			.verify_peer_cert = 1,
			.check_common_ca = 1,
			.cert_chain_validation = 1,
			.cert_chain_verify_depth = 3,
			.allow_no_crl = 1,
			.allow_expired_crl = 1,
			.validate_cn_call_back = check_cn,
			.cn_call_back_arg = dl,
			.client_sni = dl->chost,
			.pki_key = {
				.key_type = COAP_PKI_KEY_PEM,
				.key.pem = { .ca_file = ca ? ca : DEFAULT_CA_FILE },
			},
		};

		dl->csess = coap_new_client_session_pki(dl->cctx, NULL, &dst, COAP_PROTO_DTLS, &pki);
	} else {
		dl->csess = coap_new_client_session(dl->cctx, NULL, &dst, COAP_PROTO_UDP);
	}
	if (!dl->csess)
		return errbuf_set(err, -EIO, "libcoap: no session to %s", host);
	dl->clf.fd = coap_context_get_coap_fd(dl->cctx);
	dl->clf.events = EPOLLIN;
	dl->clf.cb = on_coap_fd;
	if (dl->clf.fd < 0 || loop_add_fd(dl->ag->loop, &dl->clf)) {
		dl->clf.fd = -1;
		return errbuf_set(err, -EIO, "libcoap: cannot watch its fd");
	}
	coap_dl = dl;
	dl->timer.cb = on_coap_timer;
	/* the validator is the ETag as hex; resume from the block after the
	 * image's last whole block */
	if (validator && *validator && dl->im && dl->im->size) {
		size_t n = strlen(validator) / 2;

		for (i = 0; i < n && i < sizeof(dl->cetag); i++) {
			unsigned v;

			sscanf(validator + 2 * i, "%2x", &v);
			dl->cetag[i] = (uint8_t)v;
		}
		dl->cetag_len = n;
		dl->cetag_known = true;
		dl->block = (uint32_t)(dl->im->size >> (dl->szx + 4));
		if ((uint64_t)dl->block << (dl->szx + 4) != dl->im->size) {
			/* a partial block (cut by a crash): keep whole blocks only */
			struct errbuf e2 = { "" };

			fw_image_close(dl->im);
			if (truncate(dl->im->path, (off_t)((uint64_t)dl->block << (dl->szx + 4))) ||
			    fw_image_begin(dl->im, true, &e2))
				return errbuf_set(err, -EIO, "%s", e2.msg);
		}
	} else if (dl->im && dl->im->size && (rc = restart_image(dl))) {
		return errbuf_set(err, -EIO, "%s", dl->why);
	}
	coap_ask(dl);
	return 0;
}

static void cdl_cleanup(struct fw_dl *dl)
{
	if (dl->clf.fd >= 0 && dl->cctx)
		loop_del_fd(dl->ag->loop, &dl->clf);
	dl->clf.fd = -1;
	if (dl->csess)
		coap_session_release(dl->csess);
	if (dl->cctx)
		coap_free_context(dl->cctx);
	dl->csess = NULL;
	dl->cctx = NULL;
	if (coap_dl == dl)
		coap_dl = NULL;
}

/* ---- interface -------------------------------------------------------- */

static void cleanup(struct fw_dl *dl)
{
	loop_timer_cancel(dl->ag->loop, &dl->timer);
	if (dl->proto == FW_P_HTTP || dl->proto == FW_P_HTTPS)
		http_cleanup(dl);
	else
		cdl_cleanup(dl);
	free(dl->uri);
	free(dl->validator);
	free(dl);
}

struct fw_dl *fw_dl_start(struct agent *ag, const char *uri, struct fw_image *im,
			  const char *validator, struct buf *mem, size_t max,
			  const struct fw_dl_cb *cb, void *arg, struct errbuf *err)
{
	struct fw_dl *dl;
	int rc;

	rc = fw_dl_proto(uri);
	if (rc < 0) {
		errbuf_set(err, -EINVAL, "%s: %s", uri, rc == -FW_R_BAD_PROTOCOL ?
			   "unsupported protocol" : "invalid URI");
		return NULL;
	}
	dl = calloc(1, sizeof(*dl));
	if (!dl || !(dl->uri = strdup(uri))) {
		free(dl);
		errbuf_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	dl->ag = ag;
	dl->cb = cb;
	dl->arg = arg;
	dl->proto = rc;
	dl->im = im;
	dl->mem = mem;
	dl->max = max;
	dl->clf.fd = -1;
	if (dl->proto == FW_P_HTTP || dl->proto == FW_P_HTTPS)
		rc = http_start(dl, validator, err);
	else
		rc = cdl_start(dl, validator, err);
	if (rc) {
		cleanup(dl);
		return NULL;
	}
	return dl;
}

void fw_dl_cancel(struct fw_dl *dl)
{
	if (dl)
		cleanup(dl);
}
