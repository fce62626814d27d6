/* codec_link.c - CoRE link format (content format 40, RFC 6690).
 *
 * Writes the links of Register, Update and Discover, and reads link-format
 * documents (CoreLnk values, a bootstrap server's Discover answer).  A
 * document is "<uri>;name=value;name,<uri2>..."; values are tokens or quoted
 * strings.
 *
 * Writing: a value is quoted when it is not a plain token, and always for
 * rt, if, title and anchor, which RFC 6690 and LwM2M's examples write quoted
 * (rt="oma.lwm2m").  Values are given unquoted: quoting is done here only, so
 * nothing a caller passes can make the document malformed.
 *
 * Reading is lenient about white space around ',' and ';' (servers put
 * "\n" or " " there) and strict about everything else. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

/* RFC 6690 ptokenchar */
static bool ptoken_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'()*+-./:<=>?@[]^_`{|}~", c));
}

/* RFC 6690 parmname, plus '*' for RFC 8288 ext-name-star */
static bool parm_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$&+-.^_`|~*", c));
}

static bool always_quoted(const char *name)
{
	return !strcmp(name, "rt") || !strcmp(name, "if") || !strcmp(name, "title") ||
	       !strcmp(name, "anchor");
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!ptoken_char(*s))
			return false;
	return true;
}

int codec_link_add(struct buf *out, const char *uri, const struct link_attr *attr, size_t nattr)
{
	const char *name, *v;
	size_t i;

	for (v = uri; *v; v++)
		if ((unsigned char)*v <= 0x20 || *v == '<' || *v == '>' || *v == 0x7f)
			return LWM_EINTERNAL;
	if (out->len)
		buf_addc(out, ',');
	buf_printf(out, "<%s>", uri);
	for (i = 0; i < nattr; i++) {
		name = attr[i].name;
		v = attr[i].value;
		if (!*name)
			return LWM_EINTERNAL;
		for (const char *c = name; *c; c++)
			if (!parm_char(*c))
				return LWM_EINTERNAL;
		buf_printf(out, ";%s", name);
		if (!v)
			continue;
		buf_addc(out, '=');
		if (is_token(v) && !always_quoted(name)) {
			buf_adds(out, v);
		} else {
			buf_addc(out, '"');
			for (; *v; v++) {
				if (*v == '"' || *v == '\\')
					buf_addc(out, '\\');
				buf_addc(out, (uint8_t)*v);
			}
			buf_addc(out, '"');
		}
	}
	return out->oom ? LWM_EINTERNAL : 0;
}

/* ---- parsing ----------------------------------------------------------- */

struct lp {
	const char *s, *end, *p;
	char *scratch;          /* where this link's names and values are copied */
	size_t used;
	struct errbuf *err;
};

static void skip_ws(struct lp *lp)
{
	while (lp->p < lp->end && (*lp->p == ' ' || *lp->p == '\t' || *lp->p == '\r' ||
				   *lp->p == '\n'))
		lp->p++;
}

static int bad(struct lp *lp, const char *what)
{
	return errbuf_set(lp->err, LWM_EBADREQ, "link format at offset %zu: %s",
			  (size_t)(lp->p - lp->s), what);
}

/* Copies a name made of parm_char into scratch; returns it or NULL. */
static const char *parse_name(struct lp *lp)
{
	char *dst = lp->scratch + lp->used;
	size_t n = 0;

	while (lp->p < lp->end && parm_char(*lp->p))
		dst[n++] = *lp->p++;
	if (!n)
		return NULL;
	dst[n] = 0;
	lp->used += n + 1;
	return dst;
}

/* Reads a token or quoted string (unescaped) into scratch. */
static const char *parse_value(struct lp *lp)
{
	char *dst = lp->scratch + lp->used;
	size_t n = 0;
	char c;

	if (lp->p < lp->end && *lp->p == '"') {
		lp->p++;
		for (;;) {
			if (lp->p == lp->end)
				return NULL;
			c = *lp->p++;
			if (c == '"')
				break;
			if (c == '\\') {
				if (lp->p == lp->end)
					return NULL;
				c = *lp->p++;
			}
			/* qdtext excludes controls but for tab */
			if ((unsigned char)c < 0x20 ? c != '\t' : c == 0x7f)
				return NULL;
			dst[n++] = c;
		}
	} else {
		while (lp->p < lp->end && ptoken_char(*lp->p))
			dst[n++] = *lp->p++;
		if (!n)
			return NULL;
	}
	dst[n] = 0;
	lp->used += n + 1;
	return dst;
}

static int parse_link(struct lp *lp, struct link *l)
{
	const char *uri;
	size_t n;

	memset(l, 0, sizeof(*l));
	lp->used = 0;
	if (lp->p == lp->end || *lp->p != '<')
		return bad(lp, "expected '<'");
	uri = ++lp->p;
	while (lp->p < lp->end && *lp->p != '>') {
		if ((unsigned char)*lp->p <= 0x20 || *lp->p == '<' || *lp->p == 0x7f)
			return bad(lp, "bad character in a URI");
		lp->p++;
	}
	if (lp->p == lp->end)
		return bad(lp, "URI without '>'");
	n = (size_t)(lp->p - uri);
	if (n >= sizeof(l->uri))
		return bad(lp, "URI too long");
	memcpy(l->uri, uri, n);
	lp->p++;
	for (;;) {
		skip_ws(lp);
		if (lp->p == lp->end || *lp->p != ';')
			return 0;
		lp->p++;
		skip_ws(lp);
		if (l->nattr == sizeof(l->attr) / sizeof(l->attr[0]))
			return bad(lp, "more than 16 attributes");
		l->attr[l->nattr].name = parse_name(lp);
		if (!l->attr[l->nattr].name)
			return bad(lp, "expected an attribute name");
		if (lp->p < lp->end && *lp->p == '=') {
			lp->p++;
			l->attr[l->nattr].value = parse_value(lp);
			if (!l->attr[l->nattr].value)
				return bad(lp, "bad attribute value");
		}
		l->nattr++;
	}
}

int codec_link_parse(const char *s, size_t len, int (*fn)(const struct link *l, void *arg),
		     void *arg, struct errbuf *err)
{
	struct lp lp = { .s = s, .end = s + len, .p = s, .err = err };
	struct link l;
	int rc = 0;

	/* a link's strings, each with its NUL, never outgrow the document */
	lp.scratch = malloc(len + 1);
	if (!lp.scratch)
		return errbuf_set(err, LWM_EINTERNAL, "out of memory");
	skip_ws(&lp);
	while (lp.p < lp.end) {
		rc = parse_link(&lp, &l);
		if (rc)
			break;
		skip_ws(&lp);
		if (lp.p < lp.end && *lp.p != ',') {
			rc = bad(&lp, "expected ',' or ';'");
			break;
		}
		if (lp.p < lp.end) {
			lp.p++;
			skip_ws(&lp);
			if (lp.p == lp.end) {
				rc = bad(&lp, "',' at the end");
				break;
			}
		}
		rc = fn(&l, arg);
		if (rc)
			break;
	}
	free(lp.scratch);
	return rc;
}
