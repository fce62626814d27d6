/* fw_download.h - pulls a firmware image (Package URI) in the main loop:
 * http:// and https:// through libcurl's multi interface, coap:// and
 * coaps:// through libcoap Block2, resuming where a previous pull stopped. */
#ifndef LWM_FW_DOWNLOAD_H
#define LWM_FW_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

struct agent;
struct buf;
struct errbuf;
struct fw_image;
struct fw_dl;

/* Protocols, numbered as Firmware Update Protocol Support (5/0/8). */
enum fw_proto {
	FW_P_COAP = 0,
	FW_P_COAPS = 1,
	FW_P_HTTP = 2,
	FW_P_HTTPS = 3,
};

struct fw_dl_cb {
	/* The server's validator of the body (an ETag, or a Last-Modified
	 * date), known before the first byte goes into the image: kept so that
	 * a resume can ask for "the rest of this same body".  "" if none. */
	void (*validator)(void *arg, const char *validator);
	/* The end: result is FW_R_INITIAL when the whole body arrived, else the
	 * Update Result that says why not (connection lost, no space, invalid
	 * URI, ...), with a line for the log in why.  The download is freed
	 * after this returns. */
	void (*done)(void *arg, int result, const char *why);
};

/* The protocol of uri, or -FW_R_BAD_PROTOCOL for a scheme we do not pull
 * from, -FW_R_BAD_URI for something that is no absolute URI. */
int fw_dl_proto(const char *uri);

/* Starts pulling uri.  With im (open for writing, possibly holding the start
 * of the body already) the body is appended to it, from im->size on, asking
 * the server for that range of the body whose validator is validator (NULL
 * or "": none known; a server whose body changed sends it whole, and the
 * image starts over).  Without im the body goes to mem (at most max bytes:
 * a signature).  cb is called from the loop; never before this returns.
 * Returns NULL with err set if nothing could be started. */
struct fw_dl *fw_dl_start(struct agent *ag, const char *uri, struct fw_image *im,
			  const char *validator, struct buf *mem, size_t max,
			  const struct fw_dl_cb *cb, void *arg, struct errbuf *err);
/* Stops a download; no callback follows.  NULL is a no-op. */
void fw_dl_cancel(struct fw_dl *dl);

#endif
