/* Text from outside (a CA, a hook's output, an event file) made safe to show:
 * in a log line, on the status page, in a notify program's environment. */
#ifndef ACME_TEXT_H
#define ACME_TEXT_H
#include <apr_pools.h>

/* Whitespace runs become one space, leading and trailing ones go, each
 * character beyond ASCII (each byte from 0xc0 on, which starts one) becomes
 * one '?', and every other byte that is not printable ASCII is dropped. */
#define ACME_TEXT_FOLD       0x1
/* Without ACME_TEXT_FOLD: bytes above 0x7f (UTF-8) stay as they are instead
 * of becoming '?'. */
#define ACME_TEXT_KEEP_8BIT  0x2
/* For a terminal, nothing lost: newline, tab, printable ASCII and valid UTF-8
 * (no overlong forms, surrogates, C1 controls U+0080..U+009F or bidirectional
 * controls; see acme_text_utf8_safe) stay; every
 * other byte becomes the four characters "\xNN" (lowercase hex). A NUL ends
 * the text; a byte that would not fit whole into max is left out with all
 * after it. Takes precedence over the other flags. */
#define ACME_TEXT_ESCAPE     0x4
/* With ACME_TEXT_ESCAPE: newline and tab become "\x0a" and "\x09" too, so
 * the text stays on one line (a name in a table or a command). */
#define ACME_TEXT_ONE_LINE   0x8

/* How many bytes (1 to 4) of the well-formed UTF-8 sequence at c (at most
 * len bytes, len > 0) may be shown as they are, on a terminal or a page:
 * printable ASCII, newline and tab (not with one_line), and characters from
 * U+00A0 on. 0 for a byte that starts none: C0 controls, DEL, C1 controls,
 * the bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069), a malformed, cut, overlong or surrogate sequence. */
apr_size_t acme_text_utf8_safe(const unsigned char *c, apr_size_t len, int one_line);

/* The first len bytes of s (NULL: "") as one line of at most max bytes,
 * allocated from p. Without ACME_TEXT_FOLD, control characters (newlines and
 * DEL included) become spaces and bytes above 0x7f '?' (see
 * ACME_TEXT_KEEP_8BIT), so no escape sequence gets through, and a NUL ends
 * the text; with it, a NUL is dropped like any other byte. ACME_TEXT_ESCAPE:
 * see above. */
const char *acme_text_printable(apr_pool_t *p, const char *s, apr_size_t len, apr_size_t max,
                                int flags);
/* The last non-empty line of a program's output (where it says why it
 * failed; output NUL-terminated), made fit for a page anyone may read: each
 * word holding a '/' (a path, a URL) given as "[path]", one shaped like a
 * TSIG key (alg:name:secret, as nsupdate -y takes it) as "[key]", a byte that
 * starts no sequence acme_text_utf8_safe passes (with one_line) as '?', cut to
 * max bytes on a character boundary. "" when output is blank. From p. */
const char *acme_text_output_line(apr_pool_t *p, const char *output, apr_size_t max);

/* Cutting text from outside to a byte length (a reason, a CA's or a hook's
 * words, a configuration test's line) without splitting a UTF-8 character:
 * a split one is invalid UTF-8, which Jansson refuses (json_string NULL) and
 * a page or terminal shows as garbage. A byte that starts no sequence
 * counts as one character (nothing to keep whole). */
/* Where to cut s before n (more bytes follow s[n - 1]): n, or less by the
 * 1 to 3 bytes of a multi-byte character that s[0..n) starts but does not
 * end. Reads s[0..n) only. */
apr_size_t acme_text_utf8_end(const char *s, apr_size_t n);
/* For s[0..n) whose beginning was cut away: the offset (0 to 3) of its first
 * whole character, past the continuation bytes of a character cut in two. */
apr_size_t acme_text_utf8_start(const char *s, apr_size_t n);
/* How many bytes of NUL-terminated s (NULL: none) to keep for at most max:
 * strlen(s) when that fits, else acme_text_utf8_end(s, max). */
apr_size_t acme_text_cut_len(const char *s, apr_size_t max);
/* s (NULL: NULL) cut to at most max bytes as acme_text_cut_len does, in p. */
const char *acme_text_cut(apr_pool_t *p, const char *s, apr_size_t max);
/* What goes between the two ends acme_text_ends keeps. */
#define ACME_TEXT_ENDS_GAP " ... "
/* s (NULL: "") when it is at most head + tail + strlen(ACME_TEXT_ENDS_GAP)
 * bytes long, else its first head bytes, ACME_TEXT_ENDS_GAP and its last
 * tail bytes, each cut on a character boundary (acme_text_utf8_end and
 * _start), so at most that long: a program's output in one log line, its
 * end kept (where a failing program says why). s itself, or from p. */
const char *acme_text_ends(apr_pool_t *p, const char *s, apr_size_t head, apr_size_t tail);
#endif
