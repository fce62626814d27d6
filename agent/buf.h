/* buf.h - a growable byte buffer used to build payloads and link lists. */
#ifndef LWM_BUF_H
#define LWM_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *p;
	size_t len, cap;
	int oom;        /* set once an allocation failed; later appends are no-ops */
};

void buf_init(struct buf *b);
void buf_fini(struct buf *b);
void buf_reset(struct buf *b);
/* Each append returns 0, or -1 when memory ran out (b->oom is then set). */
int buf_add(struct buf *b, const void *p, size_t len);
int buf_addc(struct buf *b, uint8_t c);
int buf_adds(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the content as a NUL-terminated string (the NUL is not counted in len). */
const char *buf_str(struct buf *b);

#endif
