/* Unit tests for agent/codec_link.c: writing Register/Discover links with
 * the right quoting, parsing documents (white space, quoted strings, bare
 * attributes), stopping on the callback's word, and refusing bad syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

static void test_add(void **state)
{
	const struct link_attr reg[] = { { "rt", "oma.lwm2m" }, { "ct", "110" } };
	const struct link_attr dis[] = { { "dim", "2" }, { "pmin", "10" }, { "obs", NULL } };
	const struct link_attr odd[] = { { "title", "a \"b\" \\c" }, { "x", "has space" },
					 { "y", "" }, { "z", "\"pre quoted\"" }, { "v", "1.1" } };
	struct buf out;

	buf_init(&out);
	assert_int_equal(codec_link_add(&out, "/", reg, 2), 0);
	assert_int_equal(codec_link_add(&out, "/1/0", NULL, 0), 0);
	assert_int_equal(codec_link_add(&out, "/3/0", NULL, 0), 0);
	assert_string_equal(buf_str(&out), "</>;rt=\"oma.lwm2m\";ct=110,</1/0>,</3/0>");
	buf_reset(&out);
	assert_int_equal(codec_link_add(&out, "/3/0/7", dis, 3), 0);
	assert_string_equal(buf_str(&out), "</3/0/7>;dim=2;pmin=10;obs");
	buf_reset(&out);
	assert_int_equal(codec_link_add(&out, "/3", odd, 5), 0);
	assert_string_equal(buf_str(&out),
			    "</3>;title=\"a \\\"b\\\" \\\\c\";x=\"has space\";y=\"\";"
			    "z=\"\\\"pre quoted\\\"\";v=1.1");
	/* what cannot be written */
	buf_reset(&out);
	assert_int_equal(codec_link_add(&out, "/a>b", NULL, 0), LWM_EINTERNAL);
	assert_int_equal(codec_link_add(&out, "/a b", NULL, 0), LWM_EINTERNAL);
	assert_int_equal(codec_link_add(&out, "/", (struct link_attr[]){ { "a=b", "1" } }, 1),
			 LWM_EINTERNAL);
	assert_int_equal(codec_link_add(&out, "/", (struct link_attr[]){ { "", "1" } }, 1),
			 LWM_EINTERNAL);
	buf_fini(&out);
}

struct seen {
	int n;
	char text[1024];
	int stop_at;
};

static int collect(const struct link *l, void *arg)
{
	struct seen *s = arg;
	size_t i, off = strlen(s->text);

	off += (size_t)snprintf(s->text + off, sizeof(s->text) - off, "%s[%s]", s->n ? " " : "",
				l->uri);
	for (i = 0; i < l->nattr; i++)
		off += (size_t)snprintf(s->text + off, sizeof(s->text) - off, " %s%s%s",
					l->attr[i].name, l->attr[i].value ? "=" : "",
					l->attr[i].value ? l->attr[i].value : "");
	return ++s->n == s->stop_at ? -42 : 0;
}

static void parse_ok(const char *doc, const char *want)
{
	struct errbuf err = { "" };
	struct seen s = { 0 };

	if (codec_link_parse(doc, strlen(doc), collect, &s, &err))
		fail_msg("%s: %s", doc, err.msg);
	assert_string_equal(s.text, want);
}

static void test_parse(void **state)
{
	parse_ok("", "");
	parse_ok(" \r\n", "");
	parse_ok("</>;rt=\"oma.lwm2m\";ct=110,</1/0>,</3/0>",
		 "[/] rt=oma.lwm2m ct=110 [/1/0] [/3/0]");
	parse_ok("</3/0/7>;dim=2;pmin=10;obs", "[/3/0/7] dim=2 pmin=10 obs");
	parse_ok("<>", "[]");
	parse_ok(" </1/0> ;\n ver=1.1 ,\r\n\t</3/0>; obs ", "[/1/0] ver=1.1 [/3/0] obs");
	parse_ok("</3>;title=\"a \\\"b\\\" \\\\c\";x=\"has space\";y=\"\"",
		 "[/3] title=a \"b\" \\c x=has space y=");
	parse_ok("</a;b,c>;z=\"x,y;z\"", "[/a;b,c] z=x,y;z");
	parse_ok("<coap://[::1]:5683/x?y=1>;anchor=\"/\";rel=next",
		 "[coap://[::1]:5683/x?y=1] anchor=/ rel=next");
	parse_ok("</0>;a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p", "[/0] a b c d e f g h i j k l m n o p");
	parse_ok("</x>;title*=UTF-8'en'%e2", "[/x] title*=UTF-8'en'%e2");
}

static void parse_bad(const char *doc, size_t len, const char *why)
{
	struct errbuf err = { "" };
	struct seen s = { 0 };

	assert_int_equal(codec_link_parse(doc, len, collect, &s, &err), LWM_EBADREQ);
	if (!strstr(err.msg, why))
		fail_msg("%s: message \"%s\" lacks \"%s\"", doc, err.msg, why);
}

static void test_parse_bad(void **state)
{
	parse_bad("/1/0", 4, "offset 0: expected '<'");
	parse_bad("</1/0", 5, "URI without '>'");
	parse_bad("</1 0>", 6, "bad character in a URI");
	parse_bad("<</1>", 5, "bad character in a URI");
	parse_bad("</1/0>,", 7, "',' at the end");
	parse_bad("</1/0>, ", 8, "',' at the end");
	parse_bad("</1/0>,,</2>", 12, "offset 7: expected '<'");
	parse_bad("</1/0> x", 8, "expected ',' or ';'");
	parse_bad("</1/0>;", 7, "expected an attribute name");
	parse_bad("</1/0>;=1", 9, "expected an attribute name");
	parse_bad("</1/0>;a=", 9, "bad attribute value");
	parse_bad("</1/0>;a=,</2>", 14, "bad attribute value");
	parse_bad("</1/0>;a=\"x", 11, "bad attribute value");
	parse_bad("</1/0>;a=\"x\\", 12, "bad attribute value");
	parse_bad("</1/0>;a=\"x\ny\"", 14, "bad attribute value");
	parse_bad("</1/0>;a=x\"y\"", 13, "expected ',' or ';'");
	parse_bad("</1/0>;a b", 10, "expected ',' or ';'");
	parse_bad("</1/0>\0,</2>", 12, "expected ',' or ';'");
	parse_bad("</1/0>;a=\"\0\"", 12, "bad attribute value");
	parse_bad("</0123456789012345678901234567890123456789012345678901234567890123>", 67,
		  "URI too long");
	parse_bad("</0>;a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q", 39, "more than 16 attributes");
}

static void test_parse_stop(void **state)
{
	struct errbuf err = { "" };
	struct seen s = { .stop_at = 2 };
	const char *doc = "</1>,</2>,</3>";

	assert_int_equal(codec_link_parse(doc, strlen(doc), collect, &s, &err), -42);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.text, "[/1] [/2]");
	/* only len bytes are read */
	memset(&s, 0, sizeof(s));
	assert_int_equal(codec_link_parse(doc, 4, collect, &s, &err), 0);
	assert_string_equal(s.text, "[/1]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
