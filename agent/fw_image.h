/* fw_image.h - a firmware image on disk while it arrives: written in order to
 * one file, hashed (SHA-256, mbedTLS) as it goes, so that memory stays flat
 * however large the image; and the check of a detached signature. */
#ifndef LWM_FW_IMAGE_H
#define LWM_FW_IMAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/sha256.h>

struct errbuf;

#define FW_HASH_LEN 32

/* Update Result (5/0/5) values, as the OMA definition numbers them. */
enum fw_result {
	FW_R_INITIAL = 0,
	FW_R_SUCCESS = 1,
	FW_R_NO_SPACE = 2,
	FW_R_NO_MEMORY = 3,
	FW_R_CONN_LOST = 4,
	FW_R_INTEGRITY = 5,
	FW_R_BAD_TYPE = 6,
	FW_R_BAD_URI = 7,
	FW_R_FAILED = 8,
	FW_R_BAD_PROTOCOL = 9,
	FW_R_CANCELLED = 10,
	FW_R_DEFERRED = 11,
};

struct fw_image {
	char path[PATH_MAX];            /* DIR/firmware.img */
	int fd;                         /* -1 when not being written */
	uint64_t size;                  /* bytes in the file (and hashed) */
	uint64_t max;                   /* [firmware] max_size, 0: no limit */
	mbedtls_sha256_context sha;
};

/* Sets up im for the file DIR/firmware.img; nothing is opened. */
void fw_image_init(struct fw_image *im, const char *dir, uint64_t max);
/* Opens the file for writing.  resume: keep what is there and hash it again
 * (a pull that goes on after a restart); else start empty.  0 or -errno with
 * the reason in err. */
int fw_image_begin(struct fw_image *im, bool resume, struct errbuf *err);
/* Appends len bytes.  -ENOSPC (disk full), -EFBIG (over max), or another
 * -errno with the reason in err; the file is then as long as before. */
int fw_image_append(struct fw_image *im, const void *p, size_t len, struct errbuf *err);
/* Would total bytes fit (max_size and free space)?  0, -EFBIG or -ENOSPC. */
int fw_image_room(const struct fw_image *im, uint64_t total, struct errbuf *err);
/* Flushes the file to disk, closes it and gives the SHA-256 of its bytes.
 * 0 or -errno. */
int fw_image_end(struct fw_image *im, uint8_t hash[FW_HASH_LEN], struct errbuf *err);
/* Closes the file if open (keeping it, for a resume). */
void fw_image_close(struct fw_image *im);
/* Closes and deletes the file. */
void fw_image_remove(struct fw_image *im);
/* True if the file exists. */
bool fw_image_exists(const struct fw_image *im);

/* Verifies sig (DER ECDSA, or RSA PKCS#1 v1.5) over an image whose SHA-256
 * is hash with the PEM public key in key_path.  0, or -EBADMSG (the signature
 * does not match) or another -errno, with the reason in err. */
int fw_verify_signature(const char *key_path, const uint8_t hash[FW_HASH_LEN],
			const uint8_t *sig, size_t len, struct errbuf *err);

/* hash as 64 lower-case hex digits and a NUL into out. */
void fw_hash_hex(const uint8_t hash[FW_HASH_LEN], char out[2 * FW_HASH_LEN + 1]);

#endif
