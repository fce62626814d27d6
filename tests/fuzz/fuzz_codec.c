/* fuzz_codec.c - libFuzzer target for every content-format decoder.
 *
 * The first input byte picks the format (low 3 bits: text, opaque, TLV,
 * SenML JSON, SenML CBOR, link format, LwM2M CBOR) and how deep the base
 * path is (next 3 bits, modulo 5, into /3/0/6/1); the rest is the payload.  Whatever
 * decodes is typed with dm_value_coerce() (a type picked per record from the
 * input) and encoded again in every format.  A SenML pack we wrote must
 * decode again to as many values: that is checked, everything else only has
 * to run clean under ASan and UBSan.  Link format is parsed, written again
 * with codec_link_add() and parsed once more to the same shape.
 *
 * Build with libFuzzer (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *     -Iagent tests/fuzz/fuzz_codec.c agent/value.c agent/err.c agent/buf.c \
 *     agent/codec*.c -lcbor -ljansson -lm -o build/fuzz/fuzz_codec
 *   build/fuzz/fuzz_codec -max_len=4096 build/fuzz/corpus tests/fuzz/corpus
 * Without libFuzzer, -DFUZZ_STANDALONE adds a main() that replays the files
 * (or directories of files) named on the command line:
 *   gcc -g -O1 -fsanitize=address,undefined -DFUZZ_STANDALONE -std=gnu11 \
 *     -D_GNU_SOURCE -Iagent tests/fuzz/fuzz_codec.c agent/value.c agent/err.c \
 *     agent/buf.c agent/codec*.c -lcbor -ljansson -lm -o build/fuzz/fuzz_codec_replay
 *   build/fuzz/fuzz_codec_replay tests/fuzz/corpus
 * A crash input found by the fuzzer goes into tests/fuzz/corpus/ for good. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int formats[] = {
	LWM_FMT_TEXT, LWM_FMT_OPAQUE, LWM_FMT_TLV, LWM_FMT_SENML_JSON, LWM_FMT_SENML_CBOR,
	LWM_FMT_LINK, LWM_FMT_LWM2M_CBOR,
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

static size_t count_values(const struct dm_recs *l)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++)
		n += l->r[i].v.type != DM_T_NONE;
	return n;
}

static bool ids_valid(const struct dm_recs *l)
{
	size_t i;
	int k;

	for (i = 0; i < l->n; i++)
		for (k = 0; k < l->r[i].path.len; k++)
			if (l->r[i].path.id[k] > DM_MAX_ID)
				return false;
	return true;
}

/* Encodes typed in every format; what SenML wrote must read back. */
static void encode_all(const struct dm_path *base, const struct dm_recs *typed)
{
	struct errbuf err;
	struct dm_recs back;
	struct buf out;
	size_t i;
	int rc;

	buf_init(&out);
	for (i = 0; i < NFORMATS; i++) {
		buf_reset(&out);
		rc = codec_encode(formats[i], base, typed, &out, &err);
		if (rc || (formats[i] != LWM_FMT_SENML_JSON && formats[i] != LWM_FMT_SENML_CBOR))
			continue;
		if (!ids_valid(typed))
			continue;
		dm_recs_init(&back);
		rc = codec_decode(formats[i], base, out.p ? out.p : (const uint8_t *)"", out.len,
				  &back, &err);
		if (rc || count_values(&back) != count_values(typed)) {
			fprintf(stderr, "format %d: own output does not read back: %s\n%.*s\n",
				formats[i], rc ? err.msg : "count differs", (int)out.len,
				(const char *)out.p);
			abort();
		}
		dm_recs_fini(&back);
	}
	buf_fini(&out);
}

struct relink {
	struct buf out;
	size_t links, attrs;
};

/* Writes each parsed link again, counting links and attributes. */
static int relink(const struct link *l, void *arg)
{
	struct relink *r = arg;

	r->links++;
	r->attrs += l->nattr;
	if (codec_link_add(&r->out, l->uri, l->attr, l->nattr)) {
		fprintf(stderr, "link <%s> parsed but cannot be written\n", l->uri);
		abort();
	}
	return 0;
}

static void fuzz_link(const uint8_t *data, size_t size)
{
	struct relink a = { .links = 0 }, b = { .links = 0 };
	struct errbuf err;

	buf_init(&a.out);
	buf_init(&b.out);
	if (!codec_link_parse((const char *)data, size, relink, &a, &err)) {
		/* what we wrote must parse to the same shape */
		if (codec_link_parse(buf_str(&a.out), a.out.len, relink, &b, &err) ||
		    a.links != b.links || a.attrs != b.attrs) {
			fprintf(stderr, "links written do not read back: %s\n", buf_str(&a.out));
			abort();
		}
	}
	buf_fini(&a.out);
	buf_fini(&b.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t ids[4] = { 3, 0, 6, 1 };
	struct dm_recs recs, typed;
	struct dm_path base = { .len = 0 };
	struct errbuf err;
	struct dm_value v;
	struct buf store;
	enum dm_type want;
	size_t i;
	int fmt, k;

	if (size < 1)
		return 0;
	fmt = formats[(data[0] & 7) % NFORMATS];
	base.len = (uint8_t)((data[0] >> 3 & 7) % 5);
	for (k = 0; k < 4; k++)
		base.id[k] = k < base.len ? ids[k] : DM_NONE;
	data++;
	size--;

	if (fmt == LWM_FMT_LINK) {
		fuzz_link(data, size);
		return 0;
	}

	dm_recs_init(&recs);
	dm_recs_init(&typed);
	buf_init(&store);
	if (codec_decode(fmt, &base, data, size, &recs, &err))
		goto out;
	for (i = 0; i < recs.n; i++) {
		v = recs.r[i].v;
		if (v.raw != DM_RAW_NONE) {
			/* a type for this record, from the input */
			want = (enum dm_type)(1 + ((size ? data[i % size] : 0) + i) % 9);
			if (dm_value_coerce_buf(&recs.r[i].v, want, &v, &store, &err))
				continue;
		}
		if (dm_recs_add(&typed, &recs.r[i].path, &v))
			goto out;
		typed.r[typed.n - 1].time = recs.r[i].time;
	}
	encode_all(&base, &typed);
out:
	buf_fini(&store);
	dm_recs_fini(&typed);
	dm_recs_fini(&recs);
	return 0;
}

#ifdef FUZZ_STANDALONE
#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
	uint8_t *p = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f = fopen(path, "rb");

	if (!f) {
		perror(path);
		return 1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			p = realloc(p, cap);
			if (!p)
				abort();
		}
		n = fread(p + len, 1, cap - len, f);
		if (!n)
			break;
		len += n;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(p, len);
	free(p);
	return 0;
}

static int run(const char *path)
{
	char sub[4096];
	struct dirent *e;
	struct stat st;
	int bad = 0;
	DIR *d;

	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return run_file(path);
	d = opendir(path);
	if (!d) {
		perror(path);
		return 1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		bad |= run(sub);
	}
	closedir(d);
	return bad;
}

int main(int argc, char **argv)
{
	int i, bad = 0;

	for (i = 1; i < argc; i++)
		bad |= run(argv[i]);
	return bad;
}
#endif
