/* Jansson helpers shared by every layer: JSON text in a pool, strings read
 * from untrusted JSON, documents released with a pool. */
#ifndef ACME_JSON_H
#define ACME_JSON_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

/* json as compact text (JSON_COMPACT), allocated from p (json_dumpb, so no
 * malloc'd copy to free). NULL when json is NULL or cannot be encoded. */
const char *acme_json_dump(apr_pool_t *p, const json_t *json);
/* The string member key of obj as printable ASCII (acme_text_printable with
 * ACME_TEXT_FOLD: whitespace folded, other bytes dropped), at most max
 * characters, allocated from p; NULL when obj has no such string. For text
 * from a CA that ends up in logs and on the status page. */
const char *acme_json_string_printable(apr_pool_t *p, const json_t *obj, const char *key,
                                       apr_size_t max);
/* A new JSON array of the strings (const char *; NULL: an empty array); a
 * string that is not UTF-8 is left out. The caller owns the reference. */
json_t *acme_json_strings(const apr_array_header_t *strings);
/* Hands json (one reference) to p: it is released when p is cleared or
 * destroyed. Returns json. */
json_t *acme_json_pool_owned(apr_pool_t *p, json_t *json);
#endif
