#include "util/utf8.h"

size_t utf8_seq_len(const unsigned char *s)
{
	/* A continuation byte test fails on the NUL, so no read passes it. */
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	for (; *p; p += n)
		if (!(n = utf8_seq_len(p)))
			return 0;
	return 1;
}

void utf8_escape(struct strbuf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq_len(p);

		if (n) {
			strbuf_add(out, p, n);
			p += n;
			continue;
		}
		strbuf_addch(out, '\\');
		strbuf_addch(out, 'x');
		strbuf_addch(out, hex[*p >> 4]);
		strbuf_addch(out, hex[*p & 15]);
		p++;
	}
}

void utf8_escape_markup(struct strbuf *out, const char *s, enum utf8_markup kind)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int xml = kind == UTF8_MARKUP_XML;

	while (*p) {
		size_t len;

		switch (*p) {
		case '&':
			strbuf_addstr(out, "&amp;");
			p++;
			continue;
		case '<':
			strbuf_addstr(out, "&lt;");
			p++;
			continue;
		case '>':
			strbuf_addstr(out, "&gt;");
			p++;
			continue;
		case '"':
			strbuf_addstr(out, "&quot;");
			p++;
			continue;
		case '\'':
			strbuf_addstr(out, xml ? "&apos;" : "&#39;");
			p++;
			continue;
		case '\n':
		case '\t':
			if (!xml)
				break;
			strbuf_addstr(out, *p == '\n' ? "&#10;" : "&#9;");
			p++;
			continue;
		default:
			break;
		}
		if (*p < 0x20 || *p == 0x7f) {
			strbuf_addch(out, '?');
			p++;
			continue;
		}
		len = utf8_seq_len(p);
		if (!len) {
			strbuf_addf(out, "\\x%02x", *p++);
			continue;
		}
		if (xml && len == 3 && p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe) {
			strbuf_addch(out, '?');
			p += len;
			continue;
		}
		strbuf_add(out, p, len);
		p += len;
	}
}

json_t *utf8_json_string(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *v;

	if (utf8_valid(s))
		return json_string(s);
	utf8_escape(&sb, s);
	v = json_string(sb.buf);
	strbuf_release(&sb);
	return v;
}
