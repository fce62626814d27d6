/* store.h - small state files under the state folder ([state] dir).
 *
 * Each file is written whole and atomically: a reader after a crash sees
 * either the old content or the new one, never a mix.  Names are plain file
 * names inside dir (no '/'); "NAME.tmp" is reserved for the write in progress. */
#ifndef LWM_STORE_H
#define LWM_STORE_H

#include <stddef.h>

struct buf;
struct errbuf;
struct json_t;

/* Creates dir and its missing parents with mode 0750 (an existing folder is
 * left as it is).  Returns 0 or -errno with the path and the reason in err. */
int store_mkdir(const char *dir, struct errbuf *err);

/* Replaces dir/name with the len bytes at p: writes dir/name.tmp, fsyncs it,
 * renames it over dir/name and fsyncs dir.  Returns 0 or -errno with the path
 * and the reason in err; on failure dir/name is unchanged. */
int store_write(const char *dir, const char *name, const void *p, size_t len,
		struct errbuf *err);

/* Replaces out's content with the bytes of dir/name (NUL-terminated through
 * buf_str(), the NUL not counted).  Returns 0, -ENOENT if the file does not
 * exist, -EFBIG if it is larger than 1 MiB (state files are small; a huge one
 * is damage), or another -errno; err names the path and the reason. */
int store_read(const char *dir, const char *name, struct buf *out, struct errbuf *err);

/* Reads dir/name as one JSON document (duplicate keys refused) into *root,
 * a new reference the caller drops.  Returns 0, the errors of store_read(),
 * or -EBADMSG if the file is no JSON, with "dir/name:line: reason" in err;
 * *root is NULL unless 0 is returned. */
int store_read_json(const char *dir, const char *name, struct json_t **root,
		    struct errbuf *err);

/* Writes root as JSON (json_dumps() flags) to dir/name as store_write() does.
 * Returns 0, -ENOMEM with "out of memory" in err, or store_write()'s error. */
int store_write_json(const char *dir, const char *name, const struct json_t *root,
		     size_t flags, struct errbuf *err);

/* Removes dir/name; a file that does not exist is not an error.
 * Returns 0 or -errno. */
int store_remove(const char *dir, const char *name);

#endif
