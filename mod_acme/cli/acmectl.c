/* acmectl: options and dispatch to the commands. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "acmectl.h"
#include "acme_time.h"

#ifndef ACME_DEFAULT_STORE
#define ACME_DEFAULT_STORE "/var/lib/apache2/acme"
#endif

typedef struct acmectl_command_t {
    const char *name;
    int (*run)(acmectl_t *ctl, int argc, const char *const *argv);
    const char *help;            /* "acmectl COMMAND --help" */
} acmectl_command_t;

static const acmectl_command_t commands[] = {
    { "list", acmectl_cmd_list,
      "Usage: acmectl [--store DIR] [--json] list [--all]\n"
      "One line per managed certificate: state, expiry, renewal time (RENEW AT), what\n"
      "happens next and when (renew, retry, restart, order, check), issuer, names and\n"
      "last error. States as on the status page (man acmectl). Names the server's last start did not configure (files a removed\n"
      "AcmeDomain left; the status page does not show them either) are only counted;\n"
      "--all lists them too, as not-configured; a live certificate that cannot be read\n"
      "is unreadable. Exit status: 0, 1 when the store\n"
      "cannot be read, 2 usage.\n" },
    { "show", acmectl_cmd_show,
      "Usage: acmectl [--store DIR] [--json] show NAME\n"
      "Everything the store knows about the certificate NAME (its store name).\n"
      "Exit status: 0, 1 when NAME is not managed, 2 without NAME.\n" },
    { "check", acmectl_cmd_check,
      "Usage: acmectl [--store DIR] [--json] check\n"
      "Store consistency: leftover temp files, live links, keys matching their\n"
      "certificates, key file permissions. Exit status: 0 all good, 1 problems found.\n" },
    { "renew", acmectl_cmd_renew,
      "Usage: acmectl [--store DIR] [--json] renew NAME [--force] [--now]\n"
      "Asks the server for a new certificate of NAME now (jobs/NAME.renew); the live one\n"
      "serves until the server activates the new one. While a new certificate is staged\n"
      "(it says when it goes live) or a renewal was requested already (it says when),\n"
      "nothing more is requested; --force requests one anyway. After failed attempts\n"
      "the server waits (the backoff, minutes to a day) before the next one; --now ends\n"
      "that wait (jobs/NAME.now) and requests again (not a wait the CA asked for with\n"
      "429 rateLimited).\n"
      "Exit status: 0, 1, 2 without NAME.\n" },
    { "revoke", acmectl_cmd_revoke,
      "Usage: acmectl [--store DIR] [--json] revoke NAME [--reason R] [--key]\n"
      "Revokes the live certificate of NAME at its CA (RFC 8555 section 7.6); the server\n"
      "orders a new one at its next check. R: unspecified, keyCompromise, superseded,\n"
      "cessationOfOperation, affiliationChanged. --key: sign with the certificate's own\n"
      "private key instead of this store's account (a certificate another client's account\n"
      "ordered, e.g. one taken over with acmectl import).\n"
      "Exit status: 0, 1 CA or store error, 2 usage.\n" },
    { "account", acmectl_cmd_account,
      "Usage: acmectl [--store DIR] [--json] account show [--ca URL]\n"
      "       acmectl [--store DIR] [--json] account rollover [--ca URL]\n"
      "       acmectl [--store DIR] [--json] account deactivate --confirm [--ca URL]\n"
      "show: CA, account URL, key type and key thumbprint. rollover: a new EC P-256\n"
      "account key at the CA and in the store (RFC 8555 section 7.3.5). deactivate: ends\n"
      "the account at the CA for good (section 7.3.6); certificates stay valid, but no\n"
      "order, renewal or revocation can use the account again. --ca chooses among\n"
      "accounts at several CAs. Exit status: 0, 1 CA or store error, 2 usage (also\n"
      "deactivate without --confirm).\n" },
    { "import", acmectl_cmd_import,
      "Usage: acmectl [--store DIR] [--json] import [--yes] [--name NAME] DIR\n"
      "Takes over the certificate and key that certbot (DIR = /etc/letsencrypt/live/NAME,\n"
      "with /etc/letsencrypt/renewal/NAME.conf) or mod_md (DIR = MDStoreDir/domains/NAME,\n"
      "with md.json, pubcert.pem, privkey.pem, or pubcert.KEY.pem, privkey.KEY.pem for\n"
      "MDPrivateKeys other than RSA: secp256r1 first) manages, as the live certificate of the\n"
      "store name NAME (default: DIR's last component, lowercase; it must be the first\n"
      "name of the AcmeDomain). httpd serves it after its next restart and orders\n"
      "nothing before its renewal is due. Without --yes nothing is written: the checks\n"
      "run and what would be imported is shown. Refused: a key that does not fit the\n"
      "certificate, an expired certificate or one not covering NAME, an unknown layout,\n"
      "a NAME with a live certificate already. Run it before the first start with\n"
      "AcmeDomain (--yes creates a missing store). Exit status: 0 imported (or would\n"
      "be, or is already), 1 refused or store error, 2 usage.\n" },
    { NULL, NULL, NULL }
};

/* "acmectl COMMAND ... --help": that command's usage, nothing else done. */
static int command_help(acmectl_t *ctl, const acmectl_command_t *cmd, int argc,
                        const char *const *argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(cmd->help, ctl->out);
            return 1;
        }
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: acmectl [--store DIR] [--json] COMMAND [ARGS]\n"
        "       acmectl --version | --help\n"
        "\n"
        "Commands:\n"
        "  list [--all] one line per managed domain: state, names, expiry, issuer,\n"
        "              next action and last error (--all: also names no longer configured)\n"
        "  show NAME   everything the store knows about one domain\n"
        "  check       store consistency: leftover temp files, live links, keys\n"
        "              matching their certificates, key file permissions\n"
        "  renew NAME  obtain a new certificate now; the live one serves until\n"
        "              the new one is activated by the server itself\n"
        "  revoke NAME [--reason R] [--key]\n"
        "              revoke the live certificate at the CA with the account key (--key:\n"
        "              with the certificate's own key);\n"
        "              the server orders a new one at its next check. R: unspecified,\n"
        "              keyCompromise, superseded, cessationOfOperation, affiliationChanged\n"
        "  account show [--ca URL]\n"
        "              the account: CA, account URL, key type, key thumbprint\n"
        "  account rollover [--ca URL]\n"
        "              replace the account key (new EC P-256 key) at the CA and in the store\n"
        "  account deactivate --confirm [--ca URL]\n"
        "              end the account at the CA for good (RFC 8555 section 7.3.6)\n"
        "  import [--yes] [--name NAME] DIR\n"
        "              take over a certbot lineage (/etc/letsencrypt/live/NAME) or a\n"
        "              mod_md domain (MDStoreDir/domains/NAME) as the live certificate;\n"
        "              without --yes only shows what it would do\n"
        "\n"
        "acmectl COMMAND --help describes one command.\n"
        "\n"
        "Options:\n"
        "  --store DIR  the state directory (AcmeStoreDir) [%s]\n"
        "  --json       machine-readable output\n"
        "Options may also follow the command (acmectl list --json).\n"
        "\n"
        "Exit status: 0 success, 1 failure or problems found, 2 usage error.\n",
        ACME_DEFAULT_STORE);
}

/* The core's messages go to stderr; warnings and worse only. */
static void log_to_stderr(void *baton, acme_log_level_t level, apr_status_t rv,
                          const char *message)
{
    (void)baton;
    (void)level;
    (void)rv;
    fprintf(stderr, "acmectl: %s\n", message);
}

/* Takes the value of "--opt VALUE" or "--opt=VALUE"; NULL if absent. */
static const char *option_value(int argc, const char *const *argv, int *i, const char *opt)
{
    apr_size_t len = strlen(opt);

    if (!strncmp(argv[*i], opt, len) && argv[*i][len] == '=') {
        return argv[*i] + len + 1;
    }
    if (!strcmp(argv[*i], opt) && *i + 1 < argc) {
        return argv[++*i];
    }
    return NULL;
}

/* Takes a global option at argv[*i] (--json, --store DIR, --store=DIR) into
 * ctl: 1 when it was one (*i on its last word), 0 when it is not, -1 when
 * --store lacks its value. */
static int global_option(acmectl_t *ctl, int argc, const char *const *argv, int *i)
{
    const char *value;

    if (!strcmp(argv[*i], "--json")) {
        ctl->json = 1;
        return 1;
    }
    if (strcmp(argv[*i], "--store") != 0 && strncmp(argv[*i], "--store=", 8) != 0) {
        return 0;
    }
    if ((value = option_value(argc, argv, i, "--store")) == NULL || !*value) {
        return -1;
    }
    ctl->store_dir = value;
    return 1;
}

/* The command's own words (its name first) with the global options among
 * them taken into ctl, so "acmectl list --json" means "acmectl --json list";
 * NULL (reported) when --store lacks its value. */
static apr_array_header_t *command_words(acmectl_t *ctl, int argc, const char *const *argv)
{
    apr_array_header_t *words = apr_array_make(ctl->pool, argc + 1, sizeof(const char *));
    int i, taken;

    APR_ARRAY_PUSH(words, const char *) = argv[0];
    for (i = 1; i < argc; ++i) {
        if ((taken = global_option(ctl, argc, argv, &i)) < 0) {
            acmectl_error(ctl, "incomplete option '%s' (--store DIR)", argv[i]);
            return NULL;
        }
        if (!taken) {
            APR_ARRAY_PUSH(words, const char *) = argv[i];
        }
    }
    return words;
}

static int run(acmectl_t *ctl, int argc, const char *const *argv)
{
    const acmectl_command_t *cmd;
    apr_array_header_t *words;
    apr_status_t rv;
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; ++i) {
        if (!strcmp(argv[i], "--version")) {
            fprintf(ctl->out, "acmectl (mod_acme) %s\n", ACME_VERSION);
            return ACMECTL_OK;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(ctl->out);
            return ACMECTL_OK;
        }
        if (global_option(ctl, argc, argv, &i) <= 0) {
            acmectl_error(ctl, "unknown or incomplete option '%s'", argv[i]);
            usage(stderr);
            return ACMECTL_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return ACMECTL_USAGE;
    }
    for (cmd = commands; cmd->name; ++cmd) {
        if (!strcmp(cmd->name, argv[i])) {
            break;
        }
    }
    if (!cmd->name) {
        acmectl_error(ctl, "unknown command '%s'", argv[i]);
        usage(stderr);
        return ACMECTL_USAGE;
    }
    if (command_help(ctl, cmd, argc - i, argv + i)) {
        return ACMECTL_OK;
    }
    if (!(words = command_words(ctl, argc - i, argv + i))) {
        return ACMECTL_USAGE;
    }
    /* Never create a store here: an import (with --yes) makes a missing one
     * itself, once its checks passed, so a refusal leaves nothing behind. */
    rv = acme_store_open(&ctl->store, ctl->pool, ctl->store_dir, 0);
    if (rv != APR_SUCCESS && APR_STATUS_IS_ENOENT(rv) && !strcmp(cmd->name, "import")) {
        ctl->store = NULL;
    }
    else if (rv != APR_SUCCESS) {
        char buf[120];
        acmectl_error(ctl, "cannot open the store %s: %s (use --store DIR)", ctl->store_dir,
                      apr_strerror(rv, buf, sizeof(buf)));
        return ACMECTL_FAIL;
    }
    return cmd->run(ctl, words->nelts, (const char *const *)words->elts);
}

int main(int argc, const char *const *argv)
{
    acmectl_t ctl;
    int rc;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        fprintf(stderr, "acmectl: cannot initialize APR\n");
        return ACMECTL_FAIL;
    }
    /* Whatever acmectl creates is its user's alone (the store sets its own
     * modes explicitly). */
    umask(077);
    memset(&ctl, 0, sizeof(ctl));
    apr_pool_create(&ctl.pool, NULL);
    ctl.store_dir = ACME_DEFAULT_STORE;
    ctl.out = stdout;
    ctl.ctx.log = log_to_stderr;
    ctl.ctx.log_level = ACME_LOG_WARN;
    rc = run(&ctl, argc, argv);
    if (fflush(stdout) != 0 && rc == ACMECTL_OK) {
        rc = ACMECTL_FAIL;
    }
    apr_pool_destroy(ctl.pool);
    apr_terminate();
    return rc;
}
