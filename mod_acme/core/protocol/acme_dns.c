/* dns-01 building blocks: the AcmeDnsCmd hook as a polled child process, and
 * the TXT lookup (glibc's res_nquery at AcmeDnsResolver, ns_parserr on the
 * answer) that tells when the record can be seen. */
#include <string.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "acme_dns.h"
#include "acme_proc.h"

#define ACME_DNS_DEFAULT_PORT  53
#define ACME_DNS_CNAME_HOPS    8
/* res_nquery waits retrans seconds per try: a lookup blocks at most ~4 s. */
#define ACME_DNS_RETRANS       2
#define ACME_DNS_RETRY         2

const char *acme_dns_record_name(apr_pool_t *p, const char *identifier)
{
    if (strncmp(identifier, "*.", 2) == 0) {
        identifier += 2;
    }
    return apr_pstrcat(p, "_acme-challenge.", identifier, NULL);
}

/* ---- AcmeDnsResolver ---- */

static int is_host_char(char c)
{
    return apr_isalnum(c) || c == '.' || c == '-' || c == '_';
}

apr_status_t acme_dns_resolver_parse(apr_pool_t *p, const char *spec, const char **host,
                                     apr_port_t *port, const char **why)
{
    const char *colon = strchr(spec, ':'), *c;
    apr_int64_t number = ACME_DNS_DEFAULT_PORT;
    char *end;

    if (colon && strchr(colon + 1, ':')) {
        *why = "IPv6 addresses are not supported";
        return APR_EINVAL;
    }
    *host = colon ? apr_pstrmemdup(p, spec, colon - spec) : apr_pstrdup(p, spec);
    for (c = *host; *c && is_host_char(*c); ++c) {
    }
    if (!**host || *c || strlen(*host) > 253) {
        *why = "not a host name or IPv4 address";
        return APR_EINVAL;
    }
    if (colon) {
        number = apr_strtoi64(colon + 1, &end, 10);
        if (!apr_isdigit(colon[1]) || *end || number < 1 || number > 65535) {
            *why = "the port is not a number from 1 to 65535";
            return APR_EINVAL;
        }
    }
    *port = (apr_port_t)number;
    return APR_SUCCESS;
}

/* ---- TXT answers ---- */

static const char *dns_name_key(apr_pool_t *p, const char *name)
{
    apr_size_t len = strlen(name);
    char *key, *c;

    if (len > 0 && name[len - 1] == '.') {
        len--;
    }
    key = apr_pstrmemdup(p, name, len);
    for (c = key; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    return key;
}

static int owner_is(apr_pool_t *p, const ns_rr *rr, const char *key)
{
    return strcmp(dns_name_key(p, ns_rr_name(*rr)), key) == 0;
}

/* Where the CNAMEs of the answer lead name, or name itself. */
static apr_status_t follow_cnames(apr_pool_t *p, ns_msg *msg, const char **key)
{
    char target[NS_MAXDNAME];
    int hops, i, moved;
    ns_rr rr;

    for (hops = 0, moved = 1; moved && hops < ACME_DNS_CNAME_HOPS; ++hops) {
        moved = 0;
        for (i = 0; i < ns_msg_count(*msg, ns_s_an); ++i) {
            if (ns_parserr(msg, ns_s_an, i, &rr) < 0) {
                return APR_EINVAL;
            }
            if (ns_rr_type(rr) != ns_t_cname || !owner_is(p, &rr, *key)) {
                continue;
            }
            if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), ns_rr_rdata(rr), target,
                                   sizeof(target)) < 0) {
                return APR_EINVAL;
            }
            *key = dns_name_key(p, target);
            moved = 1;
            break;
        }
    }
    return APR_SUCCESS;
}

/* The character-strings of one TXT record, joined. */
static apr_status_t txt_rdata(apr_pool_t *p, const ns_rr *rr, const char **value)
{
    const unsigned char *rdata = ns_rr_rdata(*rr);
    apr_size_t rdlen = ns_rr_rdlen(*rr), at = 0, out = 0;
    char *text = apr_palloc(p, rdlen + 1);

    while (at < rdlen) {
        apr_size_t len = rdata[at++];
        if (at + len > rdlen) {
            return APR_EINVAL;
        }
        memcpy(text + out, rdata + at, len);
        out += len;
        at += len;
    }
    text[out] = '\0';
    *value = text;
    return APR_SUCCESS;
}

apr_status_t acme_dns_txt_parse(apr_pool_t *p, const unsigned char *buf, apr_size_t len,
                                const char *name, apr_array_header_t **values)
{
    const char *key = dns_name_key(p, name), *value;
    ns_msg msg;
    ns_rr rr;
    apr_status_t rv;
    int i;

    *values = apr_array_make(p, 2, sizeof(const char *));
    if (len > ACME_DNS_ANSWER_MAX || ns_initparse(buf, (int)len, &msg) < 0) {
        return APR_EINVAL;
    }
    if ((rv = follow_cnames(p, &msg, &key)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
            return APR_EINVAL;
        }
        if (ns_rr_type(rr) != ns_t_txt || ns_rr_class(rr) != ns_c_in || !owner_is(p, &rr, key)) {
            continue;
        }
        if ((rv = txt_rdata(p, &rr, &value)) != APR_SUCCESS) {
            return rv;
        }
        if ((*values)->nelts < ACME_DNS_TXT_MAX) {
            APR_ARRAY_PUSH(*values, const char *) = value;
        }
    }
    return APR_SUCCESS;
}

/* Points res at resolver instead of resolv.conf's servers. */
static apr_status_t use_resolver(apr_pool_t *p, struct __res_state *res, const char *resolver,
                                 const char **why)
{
    apr_sockaddr_t *sa;
    const char *host;
    apr_port_t port;
    apr_status_t rv;

    if ((rv = acme_dns_resolver_parse(p, resolver, &host, &port, why)) != APR_SUCCESS) {
        *why = apr_psprintf(p, "AcmeDnsResolver %s: %s", resolver, *why);
        return rv;
    }
    if ((rv = apr_sockaddr_info_get(&sa, host, APR_INET, port, 0, p)) != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot resolve the address of AcmeDnsResolver %s", resolver);
        return rv;
    }
    memcpy(&res->nsaddr_list[0], &sa->sa.sin, sizeof(res->nsaddr_list[0]));
    res->nscount = 1;
    return APR_SUCCESS;
}

static apr_status_t resolver_cleanup(void *data)
{
    res_nclose(data);
    return APR_SUCCESS;
}

apr_status_t acme_dns_txt_lookup(apr_pool_t *p, const char *resolver, const char *name,
                                 apr_array_header_t **values, const char **why)
{
    struct __res_state *res = apr_pcalloc(p, sizeof(*res));
    unsigned char *answer = apr_palloc(p, ACME_DNS_ANSWER_MAX);
    const char *where = resolver ? resolver : "the system resolver";
    apr_status_t rv;
    int len;

    *values = apr_array_make(p, 1, sizeof(const char *));
    if (res_ninit(res) != 0) {
        *why = "cannot initialize the resolver (/etc/resolv.conf)";
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, res, resolver_cleanup, apr_pool_cleanup_null);
    res->retrans = ACME_DNS_RETRANS;
    res->retry = ACME_DNS_RETRY;
    if (resolver && (rv = use_resolver(p, res, resolver, why)) != APR_SUCCESS) {
        return rv;
    }
    len = res_nquery(res, name, ns_c_in, ns_t_txt, answer, ACME_DNS_ANSWER_MAX);
    if (len < 0) {
        if (res->res_h_errno == HOST_NOT_FOUND || res->res_h_errno == NO_DATA) {
            return APR_SUCCESS;
        }
        *why = apr_psprintf(p, "%s gave no answer for %s (%s)", where, name,
                            res->res_h_errno == TRY_AGAIN ? "timeout or server failure"
                                                          : hstrerror(res->res_h_errno));
        return APR_EGENERAL;
    }
    if ((rv = acme_dns_txt_parse(p, answer, len > ACME_DNS_ANSWER_MAX ? ACME_DNS_ANSWER_MAX : len,
                                 name, values)) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s sent a malformed answer for %s", where, name);
    }
    return rv;
}

/* ---- the hook program ---- */

struct acme_dns_hook_t {
    apr_pool_t *pool;
    acme_proc_t *proc;
    const char *label;
    const char *result;
    apr_time_t started;
};

apr_status_t acme_dns_hook_start(acme_dns_hook_t **hook_out, apr_pool_t *p, const char *program,
                                 const char *action, const char *name, const char *value,
                                 apr_time_t now, int kill_on_cleanup)
{
    acme_dns_hook_t *hook = apr_pcalloc(p, sizeof(*hook));
    const char **argv = apr_pcalloc(p, 5 * sizeof(*argv));
    acme_proc_spec_t spec;
    apr_status_t rv;
    char ebuf[128];

    hook->pool = p;
    hook->started = now;
    hook->label = apr_psprintf(p, "AcmeDnsCmd %s %s %s", program, action, name);
    *hook_out = hook;
    argv[0] = program;
    argv[1] = action;
    argv[2] = name;
    argv[3] = value;
    acme_proc_spec_init(&spec);
    spec.path = program;
    spec.argv = argv;
    spec.timeout = ACME_DNS_HOOK_TIMEOUT;
    spec.kill_on_cleanup = kill_on_cleanup;
    rv = acme_proc_start(&hook->proc, p, &spec, now);
    if (rv != APR_SUCCESS) {
        hook->result = apr_psprintf(p, "could not be started: %s",
                                    apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    return rv;
}

apr_status_t acme_dns_hook_poll(acme_dns_hook_t *hook, apr_time_t now)
{
    const acme_proc_result_t *res = acme_proc_result(hook->proc);

    if (hook->result) {
        return strcmp(hook->result, "succeeded") == 0 ? APR_SUCCESS : APR_EGENERAL;
    }
    if (acme_proc_poll(hook->proc, now) == APR_EAGAIN) {
        return APR_EAGAIN;
    }
    switch (res->state) {
    case ACME_PROC_EXITED:
        if (res->code == 0) {
            hook->result = "succeeded";
            return APR_SUCCESS;
        }
        hook->result = apr_psprintf(hook->pool, "exited with %d", res->code);
        break;
    case ACME_PROC_SIGNALED:
        hook->result = apr_psprintf(hook->pool, "was killed by signal %d", res->code);
        break;
    case ACME_PROC_TIMED_OUT:
        hook->result = apr_psprintf(hook->pool, "timed out after %d s",
                                    (int)apr_time_sec(ACME_DNS_HOOK_TIMEOUT));
        return APR_TIMEUP;
    default:
        hook->result = "could not be waited for";
        break;
    }
    return APR_EGENERAL;
}

const char *acme_dns_hook_output(const acme_dns_hook_t *hook)
{
    const acme_proc_result_t *res = acme_proc_result(hook->proc);
    const char *start = res->output;
    apr_size_t len = strlen(res->output);

    while (len > 0 && apr_isspace(*start)) {
        start++;
        len--;
    }
    while (len > 0 && apr_isspace(start[len - 1])) {
        len--;
    }
    return apr_pstrmemdup(hook->pool, start, len);
}

const char *acme_dns_hook_label(const acme_dns_hook_t *hook)
{
    return hook->label;
}

const char *acme_dns_hook_result(const acme_dns_hook_t *hook)
{
    return hook->result ? hook->result : "is running";
}

apr_time_t acme_dns_hook_started(const acme_dns_hook_t *hook)
{
    return hook->started;
}

apr_pool_t *acme_dns_hook_pool(const acme_dns_hook_t *hook)
{
    return hook->pool;
}

pid_t acme_dns_hook_pid(const acme_dns_hook_t *hook)
{
    return acme_proc_pid(hook->proc);
}
