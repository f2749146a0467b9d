#ifndef GS_UTF8_H
#define GS_UTF8_H

#include <jansson.h>
#include <stddef.h>

#include "util/strbuf.h"

/*
 * Text that may not be UTF-8 (file names and sonames out of an image, a
 * child's output) on its way into a report. The one escaping every output
 * uses (JSON, JUnit XML, Markdown, the text summary): each byte that is not
 * part of well-formed UTF-8 becomes the four characters \xNN (lowercase
 * hex), as Python's "backslashreplace" writes it; every other character,
 * a backslash included, stays as it is. Well-formed: no overlong form, no
 * surrogate, nothing above U+10FFFF (what jansson accepts).
 */

/* Length (1-4) of the well-formed sequence `s` starts with, 0 when its first
 * byte starts none. Reads no further than a NUL. */
size_t utf8_seq_len(const unsigned char *s);
/* 1 when the NUL-terminated `s` is well-formed UTF-8. */
int utf8_valid(const char *s);
/* Append `s`, escaped as above. */
void utf8_escape(struct strbuf *out, const char *s);
/* The markup the escaping above goes into: XML (JUnit) or HTML text. */
enum utf8_markup {
	/* '&', '<', '>', '"', '\'' as entities (&apos;), newline and tab as
	 * &#10; and &#9;, any other control character and U+FFFE, U+FFFF (no
	 * XML 1.0 character) '?'. */
	UTF8_MARKUP_XML,
	/* '&', '<', '>', '"', '\'' as entities (&#39;), every control
	 * character, newline and tab included, '?'. */
	UTF8_MARKUP_HTML,
};
/* Append `s` (NULL: nothing) as text of `kind`, escaped as above. */
void utf8_escape_markup(struct strbuf *out, const char *s, enum utf8_markup kind);
/* A new JSON string of `s`, escaped as above (json_string() refuses what is
 * not UTF-8); NULL only when out of memory. */
json_t *utf8_json_string(const char *s);

#endif
