/* Every parser of a directive value (acme_conf_parse.h and the checks the
 * configuration uses: names, store names, key types, RFC 3339 times, the
 * resolver, revocation reasons, tokens, AcmeMaxParallel, AcmePreferredChain,
 * the AcmeCluster URL) and of the files directives name (AcmeCACertificateFile,
 * AcmeClusterCACertificateFile, AcmeClusterKeyFile: the rest of the input is
 * the file). The first byte picks the parser; the rest, up to a NUL, is the
 * value (a second value after the NUL where a parser takes two). */
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include "fuzz.h"
#include "acme_cluster.h"
#include "acme_conf_parse.h"
#include "acme_name.h"
#include "acme_key_type.h"
#include "acme_time.h"
#include "acme_text.h"
#include "acme_policy.h"
#include "acme_dns.h"
#include "acme_account.h"

/* The file directives name, on tmpfs when there is one. */
static char file_path[64];

static void remove_file(void)
{
    unlink(file_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int fd;

    fuzz_init();
    snprintf(file_path, sizeof(file_path), "%s/acme-fuzz-conf-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if ((fd = mkstemp(file_path)) < 0) abort();
    close(fd);
    atexit(remove_file);
    return 0;
}

/* The input as the file a directive names (mode 0600, as a key file must be). */
static void file_put(const uint8_t *data, size_t size)
{
    FILE *f = fopen(file_path, "wb");

    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0
        || chmod(file_path, 0600) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_array_header_t *types = NULL;
    const char *arg, *arg2, *out = NULL, *out2 = NULL, *why = NULL;
    acme_window_t w;
    acme_cluster_url_t *url;
    unsigned char key[ACME_CLUSTER_KEY_LEN];
    apr_interval_time_t per;
    acme_key_type_e kt;
    apr_time_t when;
    apr_port_t port;
    int a = 0, b = 0, code;
    unsigned sel;

    if (size < 1) {
        apr_pool_destroy(p);
        return 0;
    }
    sel = data[0];
    arg = fuzz_str(p, data + 1, size - 1);
    arg2 = strlen(arg) + 1 < size - 1 ? fuzz_str(p, data + 2 + strlen(arg),
                                                   size - 2 - strlen(arg)) : "";
    switch (sel % 24) {
    case 0:
        memset(&w, 0, sizeof(w));
        (void)acme_conf_parse_window(arg, &w);
        break;
    case 1: out = acme_conf_parse_ca_url(p, arg, &out2); break;
    case 2: (void)acme_conf_parse_is_email(arg); break;
    case 3: out = acme_conf_parse_contact(p, arg, &out2); break;
    case 4: out = acme_conf_parse_port(p, arg, &a, &b); break;
    case 5:
        out = acme_conf_parse_add_challenge(p, &types, arg);
        if (!out) out = acme_conf_parse_add_challenge(p, &types, arg2);
        break;
    case 6:
        out = acme_conf_parse_add_key_type(p, &types, arg);
        if (!out) out = acme_conf_parse_add_key_type(p, &types, arg2);
        break;
    case 7: out = acme_conf_parse_check_profile(p, arg); break;
    case 8: out = acme_conf_parse_check_name(p, arg, sel & 0x80); break;
    case 9: out = acme_conf_parse_check_eab(p, arg, arg2); break;
    case 10:
        (void)acme_name_validate(p, arg, &why);
        (void)acme_name_is_wildcard(arg);
        (void)acme_name_is_ip(arg);
        out = acme_name_normalize(p, arg);
        break;
    case 11:
        (void)acme_name_covers(arg, arg2);
        break;
    case 12:
        if (acme_name_store_key_parse(p, arg, &out, &out2) == APR_SUCCESS) {
            /* what parses is what acme_name_store_key makes */
            if (strcmp(acme_name_store_key(p, out, out2), arg) != 0) abort();
        }
        break;
    case 13:
        out = acme_name_store_key(p, arg, *arg2 ? arg2 : NULL);
        break;
    case 14: (void)acme_key_type_parse(arg, &kt); break;
    case 15:
        if (acme_time_rfc3339_parse(arg, &when) == APR_SUCCESS) {
            out = acme_time_rfc3339(p, when);
            if (when < 0) abort();
        }
        break;
    case 16: (void)acme_dns_resolver_parse(p, arg, &out, &port, &why); break;
    case 17:
        if (acme_account_revoke_reason_parse(arg, &code) == APR_SUCCESS) {
            out = acme_account_revoke_reason_name(code);
            if (!out || strcasecmp(out, arg) != 0) abort();
        }
        break;
    case 18:
        (void)acme_name_token_is_valid(arg);
        out = acme_dns_record_name(p, arg);
        break;
    case 19:
        out = acme_text_printable(p, (const char *)data + 1, size - 1, sel & 0x40 ? 64 : 4096,
                                  (sel >> 5) & 3);
        if (strlen(out) > (sel & 0x40 ? 64u : 4096u)) abort();
        break;
    case 20:
        out = acme_conf_parse_max_parallel(p, arg, *arg2 ? arg2 : NULL, &a, &b, &per);
        if (!out && (a < 1 || b < 0 || per < 0)) abort();
        break;
    case 21: out = acme_conf_parse_check_preferred_chain(p, arg); break;
    case 22:
        if (!(out = acme_cluster_parse_url(p, arg, &url))) {
            out2 = acme_cluster_url_show(p, url);
        }
        break;
    case 23:
        file_put(data + 1, size - 1);
        out = acme_conf_parse_check_ca_file(p, file_path);
        out2 = acme_cluster_check_ca_file(p, file_path);
        why = acme_cluster_read_key(p, file_path, key);
        if (!why && size - 1 != ACME_CLUSTER_KEY_LEN) abort();
        break;
    }
    fuzz_touch(out);
    fuzz_touch(out2);
    fuzz_touch(why);
    apr_pool_destroy(p);
    return 0;
}
