/* acmectl: a thin command-line tool on libacme that reads the store. */
#ifndef ACMECTL_H
#define ACMECTL_H
#include <stdarg.h>
#include <stdio.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include "acme_core.h"
#include "acme_store.h"

#define ACMECTL_OK    0
#define ACMECTL_FAIL  1
#define ACMECTL_USAGE 2

typedef struct acmectl_t {
    apr_pool_t *pool;
    const char *store_dir;
    int json;                    /* --json: machine-readable output */
    acme_store_t *store;
    acme_ctx_t ctx;              /* log sink to stderr */
    FILE *out;
} acmectl_t;

/* Commands: argv[0] is the command name. Return an exit code. */
int acmectl_cmd_list(acmectl_t *ctl, int argc, const char *const *argv);
int acmectl_cmd_show(acmectl_t *ctl, int argc, const char *const *argv);
int acmectl_cmd_check(acmectl_t *ctl, int argc, const char *const *argv);
int acmectl_cmd_renew(acmectl_t *ctl, int argc, const char *const *argv);
/* acmectl_ca.c: commands that talk to the CA. */
int acmectl_cmd_revoke(acmectl_t *ctl, int argc, const char *const *argv);
int acmectl_cmd_account(acmectl_t *ctl, int argc, const char *const *argv);

/* acmectl_import.c: taking over a certbot lineage or a mod_md domain. */
int acmectl_cmd_import(acmectl_t *ctl, int argc, const char *const *argv);

/* Output helpers shared by the commands (acmectl_out.c). */
void acmectl_error(acmectl_t *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void acmectl_print_json(acmectl_t *ctl, json_t *json);
/* Human-readable output (ctl->out), terminal-safe: control characters (but
 * newline and tab) and invalid UTF-8 are written as \xNN. Every text a
 * command prints goes through it; --json output is Jansson's (escaped). */
void acmectl_printf(acmectl_t *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void acmectl_vprintf(FILE *out, const char *fmt, va_list ap);
/* name (a store entry's name, from a directory listing or a file) with every
 * control character, newline and tab included, and invalid UTF-8 as \xNN
 * (acme_text_printable, ACME_TEXT_ESCAPE | ACME_TEXT_ONE_LINE), from p: one
 * name keeps to one line and one cell of a table. name itself (the same
 * pointer) when nothing needed escaping; NULL for NULL. */
const char *acmectl_name(apr_pool_t *p, const char *name);
/* A name as the user typed it on the command line (show, renew, revoke,
 * import --name), as the store names it (acme_name_store_key): every
 * spelling AcmeDomain accepts gives the same name, since it goes through
 * AcmeDomain's normalizer (acme_name_normalize: ASCII letters in lower case,
 * an IPv6 address in its canonical spelling), after one trailing dot (a
 * fully qualified name's) is dropped; an IPv6 address gets the store's '_'
 * for ':'. A store name ("2001_db8__1", "NAME+rsa-2048") is taken as it is
 * (its key type as the store spells it). A copy from p; NULL for NULL. */
const char *acmectl_name_arg(apr_pool_t *p, const char *arg);
/* RFC 3339 UTC, "-" for 0. */
const char *acmectl_time(apr_pool_t *p, apr_time_t t);
#endif
