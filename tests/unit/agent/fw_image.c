/* Unit tests for agent/fw_image.c: the image file written in pieces hashes
 * like the whole, a resume hashes what is on disk again, max_size and room
 * checks, and signatures (ECDSA P-256 and RSA made by openssl) verified with
 * mbedTLS. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "fw_image.h"

#include "../../../agent/fw_image.c"

#include "tmpdir_helpers.h"


static void whole_hash(const uint8_t *p, size_t len, uint8_t out[FW_HASH_LEN])
{
	mbedtls_sha256_ret(p, len, out, 0);
}

static uint8_t data[100000];

static void fill(void)
{
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
}

static void test_pieces_hash_like_the_whole(void **state)
{
	struct tmp *t = *state;
	struct fw_image im;
	struct errbuf err;
	uint8_t got[FW_HASH_LEN], want[FW_HASH_LEN];
	size_t off = 0, n = 1;

	fill();
	fw_image_init(&im, t->dir, 0);
	assert_int_equal(fw_image_begin(&im, false, &err), 0);
	while (off < sizeof(data)) {
		n = n * 3 % 1500 + 1;
		if (n > sizeof(data) - off)
			n = sizeof(data) - off;
		assert_int_equal(fw_image_append(&im, data + off, n, &err), 0);
		off += n;
	}
	assert_int_equal(im.size, sizeof(data));
	assert_int_equal(fw_image_end(&im, got, &err), 0);
	whole_hash(data, sizeof(data), want);
	assert_memory_equal(got, want, FW_HASH_LEN);
	assert_true(fw_image_exists(&im));
	fw_image_remove(&im);
	assert_false(fw_image_exists(&im));
}

static void test_resume_rehashes_what_is_on_disk(void **state)
{
	struct tmp *t = *state;
	struct fw_image im;
	struct errbuf err;
	uint8_t got[FW_HASH_LEN], want[FW_HASH_LEN];

	fill();
	fw_image_init(&im, t->dir, 0);
	assert_int_equal(fw_image_begin(&im, false, &err), 0);
	assert_int_equal(fw_image_append(&im, data, 40000, &err), 0);
	fw_image_close(&im);            /* a restart */
	assert_int_equal(fw_image_begin(&im, true, &err), 0);
	assert_int_equal(im.size, 40000);
	assert_int_equal(fw_image_append(&im, data + 40000, sizeof(data) - 40000, &err), 0);
	assert_int_equal(fw_image_end(&im, got, &err), 0);
	whole_hash(data, sizeof(data), want);
	assert_memory_equal(got, want, FW_HASH_LEN);
	/* starting over truncates */
	assert_int_equal(fw_image_begin(&im, false, &err), 0);
	assert_int_equal(im.size, 0);
	fw_image_remove(&im);
}

static void test_max_size_and_room(void **state)
{
	struct tmp *t = *state;
	struct fw_image im;
	struct errbuf err;
	uint8_t b[100] = { 0 };

	fw_image_init(&im, t->dir, 250);
	assert_int_equal(fw_image_begin(&im, false, &err), 0);
	assert_int_equal(fw_image_room(&im, 250, &err), 0);
	assert_int_equal(fw_image_room(&im, 251, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "max_size"));
	assert_int_equal(fw_image_append(&im, b, 100, &err), 0);
	assert_int_equal(fw_image_append(&im, b, 100, &err), 0);
	assert_int_equal(fw_image_append(&im, b, 100, &err), -EFBIG);
	assert_int_equal(im.size, 200);
	fw_image_init(&im, t->dir, 0);
	assert_int_equal(fw_image_room(&im, (uint64_t)1 << 62, &err), -ENOSPC);
	fw_image_remove(&im);
}

/* Signs path with key (openssl), returns the signature's length. */
static size_t sign(const char *key, const char *path, uint8_t *sig, size_t max)
{
	char cmd[512];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -sign %s %s", key, path);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(sig, 1, max, f);
	assert_int_equal(pclose(f), 0);
	return n;
}

static void run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

static void check_key_type(struct tmp *t, const char *gen)
{
	char cmd[2048], key[128], pub[128], other[128], other_pub[128], img[128];
	uint8_t hash[FW_HASH_LEN], sig[1024];
	struct errbuf err;
	size_t n;
	FILE *f;

	snprintf(key, sizeof(key), "%s/k.pem", t->dir);
	snprintf(pub, sizeof(pub), "%s/k.pub", t->dir);
	snprintf(other, sizeof(other), "%s/o.pem", t->dir);
	snprintf(other_pub, sizeof(other_pub), "%s/o.pub", t->dir);
	snprintf(img, sizeof(img), "%s/img", t->dir);
	snprintf(cmd, sizeof(cmd), "%s -out %s 2>/dev/null && %s -out %s 2>/dev/null && "
		 "openssl pkey -in %s -pubout -out %s && openssl pkey -in %s -pubout -out %s",
		 gen, key, gen, other, key, pub, other, other_pub);
	run(cmd);
	fill();
	f = fopen(img, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, sizeof(data), f), sizeof(data));
	fclose(f);
	whole_hash(data, sizeof(data), hash);
	n = sign(key, img, sig, sizeof(sig));
	assert_int_equal(fw_verify_signature(pub, hash, sig, n, &err), 0);
	assert_int_equal(fw_verify_signature(other_pub, hash, sig, n, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "signature does not match"));
	hash[0] ^= 1;
	assert_int_equal(fw_verify_signature(pub, hash, sig, n, &err), -EBADMSG);
	hash[0] ^= 1;
	sig[n / 2] ^= 0x40;
	assert_int_not_equal(fw_verify_signature(pub, hash, sig, n, &err), 0);
	assert_int_equal(fw_verify_signature("/nonexistent.pem", hash, sig, n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "/nonexistent.pem"));
}

static void test_ecdsa_p256_signature(void **state)
{
	check_key_type(*state, "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256");
}

static void test_rsa_signature(void **state)
{
	check_key_type(*state, "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048");
}

static void test_hash_hex(void **state)
{
	uint8_t h[FW_HASH_LEN];
	char hex[2 * FW_HASH_LEN + 1];

	whole_hash((const uint8_t *)"abc", 3, h);
	fw_hash_hex(h, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pieces_hash_like_the_whole, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_resume_rehashes_what_is_on_disk, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_max_size_and_room, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_ecdsa_p256_signature, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_rsa_signature, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_hash_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
