/* dns-01 configuration: the values of AcmeDnsCmd and AcmeDnsResolver, when
 * wildcard names may be managed (dns-01 allowed and a hook to publish the TXT
 * records), and which challenge types a domain gets. Functions of the values
 * they are given: acme_config.c stores the directives, acme_check.c asks. */
#include <apr_strings.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_conf_parse.h"
#include "acme_dns.h"
#include "acme_name.h"

#define DNS_CMD_EXAMPLE "'AcmeDnsCmd /usr/local/bin/acme-dns-hook'"

const char *acme_config_dns_cmd_parse(cmd_parms *cmd, const char *arg, const char **path)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT), *why;

    if (err) {
        return apr_psprintf(cmd->pool, "ACME00909: %s; use it at server level or in a "
                            "<VirtualHost>", err);
    }
    if ((err = acme_config_once(cmd))) {
        return err;
    }
    *path = ap_server_root_relative(cmd->pool, arg);
    if (!*path || !*arg) {
        return apr_psprintf(cmd->pool, "ACME00910: AcmeDnsCmd '%s' is not a valid path; write "
                            "the program's absolute path, e.g. " DNS_CMD_EXAMPLE, arg);
    }
    if ((why = acme_conf_parse_check_program(cmd->temp_pool, *path,
                                             "the server's User"))) {
        return apr_psprintf(cmd->pool, "ACME00911: AcmeDnsCmd: %s; name an executable program "
                            "the server's User may run, e.g. " DNS_CMD_EXAMPLE ", which is run as "
                            "'PROGRAM setup|teardown _acme-challenge.NAME VALUE'", why);
    }
    return NULL;
}

const char *acme_config_dns_resolver_parse(cmd_parms *cmd, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *host, *why;
    apr_port_t port;

    if (err) {
        return apr_psprintf(cmd->pool, "ACME00912: %s; it applies to the whole server: move it "
                            "outside the <VirtualHost>", err);
    }
    if ((err = acme_config_once(cmd))) {
        return err;
    }
    if (acme_dns_resolver_parse(cmd->temp_pool, arg, &host, &port, &why) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACME00913: AcmeDnsResolver '%s': %s; write the DNS "
                            "server that must see the TXT records as host[:port] with an IPv4 "
                            "address or host name, e.g. 'AcmeDnsResolver 192.0.2.53' or "
                            "'AcmeDnsResolver ns1.example.org:53'", arg, why);
    }
    return NULL;
}

static int lists_type(const apr_array_header_t *types, const char *type)
{
    int i;

    for (i = 0; types && i < types->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(types, i, const char *), type)) {
            return 1;
        }
    }
    return 0;
}

static int lists_dns01(const apr_array_header_t *types)
{
    return lists_type(types, "dns-01");
}

/* dns-01 with a hook, or dns-persist-01 (a record set once, policy=wildcard) */
int acme_config_wildcards_ok(const char *dns_cmd, const apr_array_header_t *explicit_types)
{
    return (dns_cmd && (!explicit_types || lists_dns01(explicit_types)))
           || lists_type(explicit_types, "dns-persist-01");
}

apr_array_header_t *acme_config_domain_challenges(apr_pool_t *p, const apr_array_header_t *types,
                                                  const apr_array_header_t *explicit_types,
                                                  const char *dns_cmd,
                                                  const apr_array_header_t *names)
{
    apr_array_header_t *result = apr_array_copy(p, types);
    int i, has_wildcard = 0;

    for (i = 0; names && i < names->nelts; i++) {
        has_wildcard |= acme_name_is_wildcard(APR_ARRAY_IDX(names, i, const char *));
    }

    /* Without AcmeChallenges, a wildcard with a hook is what asks for dns-01. */
    if (has_wildcard && !explicit_types && dns_cmd && !lists_dns01(result)) {
        APR_ARRAY_PUSH(result, const char *) = "dns-01";
    }
    return result;
}

const char *acme_config_dns_problem(apr_pool_t *p, const char *dns_cmd,
                                   const apr_array_header_t *explicit_types,
                                   const char *challenges_at, const char *domain_at)
{
    if (explicit_types && explicit_types->nelts == 1 && lists_dns01(explicit_types) && !dns_cmd) {
        return apr_psprintf(p, "ACME00914: %s: AcmeChallenges allows only dns-01 for the "
                            "AcmeDomain at %s, but no AcmeDnsCmd publishes the TXT records; add "
                            "'AcmeDnsCmd /path/to/hook' (run as 'PROGRAM setup|teardown "
                            "_acme-challenge.NAME VALUE') where this AcmeChallenges is, or "
                            "allow http-01 too", challenges_at ? challenges_at : "?", domain_at);
    }
    return NULL;
}
