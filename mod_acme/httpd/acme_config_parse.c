/* Parsers for directive values: lifetime windows (AcmeRenewWindow,
 * AcmeWarnWindow), External Account Binding keys (AcmeEAB) and programs the
 * root parent runs (AcmeNotifyCmd). Pure functions of their input and the
 * file system. */
#include <unistd.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_file_info.h>

#include "acme_config.h"
#include "acme_b64.h"

#define WINDOW_MAX_SECONDS (3650L * 24 * 3600)

/* "33%" (1..100) or a duration "30d", "12h", "90m", "3600s". */
int acme_conf_parse_window(const char *arg, acme_window_t *w)
{
    apr_interval_time_t unit;
    char *end;
    long n = strtol(arg, &end, 10);

    if (end == arg || n <= 0 || !apr_isdigit(arg[0])) {
        return 0;
    }
    if (!strcmp(end, "%")) {
        if (n > 100) {
            return 0;
        }
        w->percent = (int)n;
        w->duration = 0;
        return 1;
    }
    if (!end[0] || end[1] || n > WINDOW_MAX_SECONDS) {
        return 0;
    }
    switch (apr_tolower(end[0])) {
    case 'd': unit = apr_time_from_sec(24 * 3600); break;
    case 'h': unit = apr_time_from_sec(3600); break;
    case 'm': unit = apr_time_from_sec(60); break;
    case 's': unit = apr_time_from_sec(1); break;
    default: return 0;
    }
    if ((apr_interval_time_t)n * unit > apr_time_from_sec(WINDOW_MAX_SECONDS)) {
        return 0;
    }
    w->percent = -1;
    w->duration = (apr_interval_time_t)n * unit;
    return 1;
}

#define EAB_KID_MAX 256

const char *acme_conf_check_eab(apr_pool_t *p, const char *kid, const char *hmac)
{
    apr_size_t len = strlen(hmac);
    unsigned char *key;
    apr_size_t key_len;
    const char *c;

    for (c = kid; *c; c++) {
        if (!apr_isgraph(*c) || *c == '"' || *c == '\\') {
            return "the key id holds a character that is not printable ASCII";
        }
    }
    if (!*kid || c - kid > EAB_KID_MAX) {
        return apr_psprintf(p, "the key id must be 1 to %d characters", EAB_KID_MAX);
    }
    while (len > 0 && hmac[len - 1] == '=') {
        --len;
    }
    if (strchr(hmac, '+') || strchr(hmac, '/')) {
        return "the MAC key is standard base64, not base64url; write '-' for '+' "
               "and '_' for '/'";
    }
    if (len == 0 || acme_b64url_decode(p, apr_pstrmemdup(p, hmac, len), &key, &key_len)
        || key_len == 0) {
        return "the MAC key does not decode as base64url (A-Z, a-z, 0-9, '-', '_')";
    }
    return NULL;
}

/* A program httpd runs for us (as runs_as): it must be a regular executable
 * file that nobody but its owner and group can replace. */
const char *acme_conf_check_program(apr_pool_t *p, const char *path, const char *runs_as)
{
    apr_finfo_t finfo;
    apr_status_t rv;
    char ebuf[256];

    rv = apr_stat(&finfo, path, APR_FINFO_TYPE | APR_FINFO_PROT, p);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "cannot find %s: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    if (finfo.filetype != APR_REG) {
        return apr_psprintf(p, "%s is not a regular file", path);
    }
    if (access(path, X_OK) != 0) {
        return apr_psprintf(p, "%s is not executable (chmod +x %s)", path, path);
    }
    if (finfo.protection & APR_FPROT_WWRITE) {
        return apr_psprintf(p, "%s is writable by every user, and it runs as %s "
                            "(chmod o-w %s)", path, runs_as, path);
    }
    return NULL;
}

const apr_array_header_t *acme_conf_trusted_roots(server_rec *s)
{
    return acme_conf_get(s)->trusted_roots;
}

/* AcmeTrustedRootsFile FILE...: server-wide, each file readable with a PEM
 * certificate now, so a typo fails the configtest instead of every activation. */
const char *acme_conf_set_trusted_roots(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_srv_conf_t *conf = acme_conf_get(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *path;
    char *buf;
    apr_file_t *f;
    apr_size_t len = 64 * 1024;

    if (err) {
        return apr_psprintf(cmd->pool, "ACME00544: %s; AcmeTrustedRootsFile applies to the "
                            "whole server: move it outside the <VirtualHost>", err);
    }
    path = ap_server_root_relative(cmd->pool, arg);
    buf = apr_palloc(cmd->temp_pool, len + 1);
    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, cmd->temp_pool)
                 != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACME00545: cannot read AcmeTrustedRootsFile %s; point "
                            "it at a PEM file with the root certificates of your CA", arg);
    }
    if (apr_file_read_full(f, buf, len, &len) != APR_SUCCESS && len == 0) {
        len = 0;
    }
    apr_file_close(f);
    buf[len] = '\0';
    if (!strstr(buf, "-----BEGIN CERTIFICATE-----")) {
        return apr_psprintf(cmd->pool, "ACME00546: AcmeTrustedRootsFile %s holds no PEM "
                            "certificate; point it at the root certificates of your CA", path);
    }
    if (!conf->trusted_roots) {
        conf->trusted_roots = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->trusted_roots, const char *) = path;
    return NULL;
}
