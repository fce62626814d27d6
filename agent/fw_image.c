/* fw_image.c - the firmware image file: in-order writes, a running SHA-256,
 * room checks and the detached-signature check (mbedTLS).
 *
 * The file is written with plain write(2) and flushed once at the end: a
 * power cut loses at most what the page cache held, and a resumed pull
 * hashes again whatever the file holds when it starts, so the hash always
 * covers exactly the bytes on disk.  This file does not know where bytes come
 * from (push, http, coap) nor what the state machine does with a failure. */
#include "fw_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/pk.h>

#include "err.h"

#define IMAGE_NAME "firmware.img"
#define SYNC_EVERY (4u << 20)

void fw_image_init(struct fw_image *im, const char *dir, uint64_t max)
{
	memset(im, 0, sizeof(*im));
	snprintf(im->path, sizeof(im->path), "%s/%s", dir, IMAGE_NAME);
	im->fd = -1;
	im->max = max;
}

bool fw_image_exists(const struct fw_image *im)
{
	return access(im->path, F_OK) == 0;
}

/* Hashes the first len bytes of the open file into im->sha. */
static int rehash(struct fw_image *im, uint64_t len, struct errbuf *err)
{
	uint8_t b[16384];
	uint64_t done = 0;

	while (done < len) {
		size_t want = len - done < sizeof(b) ? (size_t)(len - done) : sizeof(b);
		ssize_t n = pread(im->fd, b, want, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return errbuf_set(err, n < 0 ? -errno : -EIO, "%s: read: %s", im->path,
					  n < 0 ? strerror(errno) : "shorter than expected");
		mbedtls_sha256_update_ret(&im->sha, b, (size_t)n);
		done += (uint64_t)n;
	}
	return 0;
}

int fw_image_begin(struct fw_image *im, bool resume, struct errbuf *err)
{
	struct stat st;
	int rc;

	fw_image_close(im);
	im->fd = open(im->path, O_RDWR | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0640);
	if (im->fd < 0)
		return errbuf_set(err, -errno, "%s: %s", im->path, strerror(errno));
	mbedtls_sha256_init(&im->sha);
	mbedtls_sha256_starts_ret(&im->sha, 0);
	im->size = 0;
	if (!resume)
		return 0;
	if (fstat(im->fd, &st) < 0) {
		rc = errbuf_set(err, -errno, "%s: %s", im->path, strerror(errno));
		goto fail;
	}
	if ((rc = rehash(im, (uint64_t)st.st_size, err)))
		goto fail;
	im->size = (uint64_t)st.st_size;
	if (lseek(im->fd, 0, SEEK_END) < 0) {
		rc = errbuf_set(err, -errno, "%s: %s", im->path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	fw_image_close(im);
	return rc;
}

int fw_image_room(const struct fw_image *im, uint64_t total, struct errbuf *err)
{
	char dir[PATH_MAX], *slash;
	struct statvfs vfs;
	uint64_t free_bytes;

	if (im->max && total > im->max)
		return errbuf_set(err, -EFBIG, "%llu bytes is over [firmware] max_size (%llu)",
				  (unsigned long long)total, (unsigned long long)im->max);
	snprintf(dir, sizeof(dir), "%s", im->path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (statvfs(dir, &vfs) < 0)
		return 0;       /* cannot tell: the writes will */
	free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (total > im->size && total - im->size > free_bytes)
		return errbuf_set(err, -ENOSPC, "%llu more bytes do not fit in %s (%llu free)",
				  (unsigned long long)(total - im->size), dir,
				  (unsigned long long)free_bytes);
	return 0;
}

int fw_image_append(struct fw_image *im, const void *p, size_t len, struct errbuf *err)
{
	const uint8_t *b = p;
	size_t done = 0;

	if (im->fd < 0)
		return errbuf_set(err, -EBADF, "%s: not open", im->path);
	if (im->max && im->size + len > im->max)
		return errbuf_set(err, -EFBIG, "image larger than [firmware] max_size (%llu bytes)",
				  (unsigned long long)im->max);
	while (done < len) {
		ssize_t n = write(im->fd, b + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			/* no half block: the file stays as long as the hash says */
			if (ftruncate(im->fd, (off_t)im->size) < 0 || lseek(im->fd, 0, SEEK_END) < 0)
				e = errno ? errno : e;
			return errbuf_set(err, -e, "%s: write: %s", im->path, strerror(e));
		}
		done += (size_t)n;
	}
	mbedtls_sha256_update_ret(&im->sha, b, len);
	/* now and then to disk, so that a power cut loses little of a pull */
	if ((im->size + len) / SYNC_EVERY != im->size / SYNC_EVERY)
		fdatasync(im->fd);
	im->size += len;
	return 0;
}

int fw_image_end(struct fw_image *im, uint8_t hash[FW_HASH_LEN], struct errbuf *err)
{
	int rc = 0;

	if (im->fd < 0)
		return errbuf_set(err, -EBADF, "%s: not open", im->path);
	if (fsync(im->fd) < 0)
		rc = errbuf_set(err, -errno, "%s: fsync: %s", im->path, strerror(errno));
	mbedtls_sha256_finish_ret(&im->sha, hash);
	fw_image_close(im);
	return rc;
}

void fw_image_close(struct fw_image *im)
{
	if (im->fd >= 0) {
		close(im->fd);
		im->fd = -1;
		mbedtls_sha256_free(&im->sha);
	}
}

void fw_image_remove(struct fw_image *im)
{
	fw_image_close(im);
	unlink(im->path);
	im->size = 0;
}

void fw_hash_hex(const uint8_t hash[FW_HASH_LEN], char out[2 * FW_HASH_LEN + 1])
{
	int i;

	for (i = 0; i < FW_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", hash[i]);
}

int fw_verify_signature(const char *key_path, const uint8_t hash[FW_HASH_LEN],
			const uint8_t *sig, size_t len, struct errbuf *err)
{
	mbedtls_pk_context pk;
	char why[128];
	int rc;

	mbedtls_pk_init(&pk);
	rc = mbedtls_pk_parse_public_keyfile(&pk, key_path);
	if (rc) {
		mbedtls_strerror(rc, why, sizeof(why));
		rc = errbuf_set(err, -EINVAL, "public key %s: %s", key_path, why);
		goto out;
	}
	if (!mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECKEY) && !mbedtls_pk_can_do(&pk, MBEDTLS_PK_RSA)) {
		rc = errbuf_set(err, -EINVAL, "public key %s: neither EC nor RSA", key_path);
		goto out;
	}
	rc = mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, FW_HASH_LEN, sig, len);
	if (rc) {
		mbedtls_strerror(rc, why, sizeof(why));
		rc = errbuf_set(err, -EBADMSG, "signature does not match (%s)", why);
	}
out:
	mbedtls_pk_free(&pk);
	return rc;
}
