/* store.c - whole-file state under the state folder.
 *
 * Objects keep what a server wrote (Device time settings, Portfolio
 * instances) in small files here so it survives a restart.  A write goes to
 * NAME.tmp, is fsynced, then renamed over NAME and the folder is fsynced, so
 * a power cut leaves the old or the new file, never a torn one.  This is not a
 * database: callers write the whole state each time, and nothing here knows
 * what the bytes mean.  Functions return 0 or -errno and explain in an errbuf;
 * the caller logs. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"

#define STORE_MAX_SIZE (1024 * 1024)

/* Builds dir/name<suffix> into path; -EINVAL for a name that is not a plain
 * file name, -ENAMETOOLONG if it does not fit. */
static int make_path(char *path, size_t size, const char *dir, const char *name,
		     const char *suffix, struct errbuf *err)
{
	int n;

	if (!dir || !*dir || !name || !*name || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return errbuf_set(err, -EINVAL, "store: bad file name \"%s\" in \"%s\"",
				  name ? name : "(null)", dir ? dir : "(null)");
	n = snprintf(path, size, "%s/%s%s", dir, name, suffix);
	if (n < 0 || (size_t)n >= size)
		return errbuf_set(err, -ENAMETOOLONG, "%s/%s: %s", dir, name,
				  strerror(ENAMETOOLONG));
	return 0;
}

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The rename is only durable once the folder's entry is on disk. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)   /* EINVAL: a file system without dir fsync */
		rc = -errno;
	close(fd);
	return rc;
}

int store_mkdir(const char *dir, struct errbuf *err)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len;
	char *s, c;

	if (!dir || !*dir)
		return errbuf_set(err, -EINVAL, "store: empty state folder name");
	len = strlen(dir);
	if (len >= sizeof(path))
		return errbuf_set(err, -ENAMETOOLONG, "%s: %s", dir, strerror(ENAMETOOLONG));
	memcpy(path, dir, len + 1);
	/* Each parent in turn; EEXIST is fine, whatever it is: if a parent is
	 * not a folder the next mkdir says ENOTDIR. */
	for (s = path + 1; ; s++) {
		if (*s != '/' && *s)
			continue;
		c = *s;
		*s = 0;
		if (mkdir(path, 0750) < 0 && errno != EEXIST)
			return errbuf_set(err, -errno, "%s: cannot create folder: %s", path,
					  strerror(errno));
		*s = c;
		if (!c)
			break;
	}
	if (stat(dir, &st) < 0)
		return errbuf_set(err, -errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return errbuf_set(err, -ENOTDIR, "%s: %s", dir, strerror(ENOTDIR));
	return 0;
}

int store_write(const char *dir, const char *name, const void *p, size_t len,
		struct errbuf *err)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *what;
	int fd, rc;

	rc = make_path(path, sizeof(path), dir, name, "", err);
	if (rc)
		return rc;
	rc = make_path(tmp, sizeof(tmp), dir, name, ".tmp", err);
	if (rc)
		return rc;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return errbuf_set(err, -errno, "%s: cannot create: %s", tmp, strerror(errno));
	what = "write";
	rc = write_all(fd, p, len);
	if (!rc) {
		what = "fsync";
		rc = fsync(fd) < 0 ? -errno : 0;
	}
	/* close() can report a delayed write error (NFS); it counts. */
	if (close(fd) < 0 && !rc) {
		what = "close";
		rc = -errno;
	}
	if (rc)
		goto fail;
	what = "rename";
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = sync_dir(dir);
	if (rc)
		return errbuf_set(err, rc, "%s: fsync: %s", dir, strerror(-rc));
	return 0;

fail:
	unlink(tmp);
	return errbuf_set(err, rc, "%s: %s: %s", tmp, what, strerror(-rc));
}

int store_read(const char *dir, const char *name, struct buf *out, struct errbuf *err)
{
	char path[PATH_MAX];
	uint8_t chunk[4096];
	struct stat st;
	int fd, rc;

	rc = make_path(path, sizeof(path), dir, name, "", err);
	if (rc)
		return rc;
	buf_reset(out);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = errbuf_set(err, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = errbuf_set(err, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errbuf_set(err, -errno, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		/* Checked while reading too: the size may change under us. */
		if (out->len + (size_t)n > STORE_MAX_SIZE) {
			rc = errbuf_set(err, -EFBIG, "%s: larger than %d bytes", path,
					STORE_MAX_SIZE);
			goto out;
		}
		if (buf_add(out, chunk, (size_t)n)) {
			rc = errbuf_set(err, -ENOMEM, "%s: %s", path, strerror(ENOMEM));
			goto out;
		}
	}
	rc = 0;
out:
	close(fd);
	if (rc)
		buf_reset(out);
	return rc;
}

int store_remove(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int rc;

	rc = make_path(path, sizeof(path), dir, name, "", NULL);
	if (rc)
		return rc;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return sync_dir(dir);
}

int store_read_json(const char *dir, const char *name, json_t **root, struct errbuf *err)
{
	json_error_t jerr;
	struct buf b;
	int rc;

	*root = NULL;
	buf_init(&b);
	rc = store_read(dir, name, &b, err);
	if (!rc) {
		*root = json_loadb(buf_str(&b), b.len, JSON_REJECT_DUPLICATES, &jerr);
		if (!*root)
			rc = errbuf_set(err, -EBADMSG, "%s/%s:%d: %s", dir, name, jerr.line,
					jerr.text);
	}
	buf_fini(&b);
	return rc;
}

int store_write_json(const char *dir, const char *name, const json_t *root, size_t flags,
		     struct errbuf *err)
{
	char *text = json_dumps(root, flags);
	int rc;

	if (!text)
		return errbuf_set(err, -ENOMEM, "out of memory");
	rc = store_write(dir, name, text, strlen(text), err);
	free(text);
	return rc;
}
