/* dns-01 building blocks: the AcmeDnsCmd hook as a polled child process, and
 * the TXT lookup (glibc's res_nsend at AcmeDnsResolver, ns_parserr on the
 * answer, CNAMEs followed) that tells when the record can be seen. */
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
/* res_nsend waits retrans seconds per try: one query blocks at most ~4 s. */
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

/* The TXT values for name in msg, and where the answer's CNAMEs lead name
 * (*end, lower case without the trailing dot). */
static apr_status_t answer_parse(apr_pool_t *p, ns_msg *msg, const char *name,
                                 apr_array_header_t **values, const char **end)
{
    const char *key = dns_name_key(p, name), *value;
    ns_rr rr;
    apr_status_t rv;
    int i;

    *values = apr_array_make(p, 2, sizeof(const char *));
    *end = key;
    if ((rv = follow_cnames(p, msg, &key)) != APR_SUCCESS) {
        return rv;
    }
    *end = key;
    for (i = 0; i < ns_msg_count(*msg, ns_s_an); ++i) {
        if (ns_parserr(msg, ns_s_an, i, &rr) < 0) {
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

apr_status_t acme_dns_txt_parse(apr_pool_t *p, const unsigned char *buf, apr_size_t len,
                                const char *name, apr_array_header_t **values)
{
    const char *end;
    ns_msg msg;

    *values = apr_array_make(p, 2, sizeof(const char *));
    if (len > ACME_DNS_ANSWER_MAX || ns_initparse(buf, (int)len, &msg) < 0) {
        return APR_EINVAL;
    }
    return answer_parse(p, &msg, name, values, &end);
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

/* Whether an empty NOERROR answer is a referral or a lame answer: neither
 * authoritative nor recursive, and no SOA saying the name has no such data
 * (RFC 2308 §2.2). Such a server cannot answer for that name. (glibc's
 * res_nsend already drops such answers without any additional record.) */
static int answer_is_referral(ns_msg *msg)
{
    ns_rr rr;
    int i;

    if (ns_msg_count(*msg, ns_s_an) > 0 || ns_msg_getflag(*msg, ns_f_aa)
        || ns_msg_getflag(*msg, ns_f_ra)) {
        return 0;
    }
    for (i = 0; i < ns_msg_count(*msg, ns_s_ns); ++i) {
        if (ns_parserr(msg, ns_s_ns, i, &rr) == 0 && ns_rr_type(rr) == ns_t_soa) {
            return 0;
        }
    }
    return 1;
}

/* One TXT query for name at resolver (NULL: the system's). APR_SUCCESS with
 * the values and where the answer's CNAMEs lead (*end); APR_ENOENT when that
 * server cannot answer for name (refused, failed, referral); APR_EGENERAL on
 * anything else. *why set unless APR_SUCCESS. */
static apr_status_t txt_query(apr_pool_t *p, const char *resolver, const char *name,
                              apr_array_header_t **values, const char **end, const char **why)
{
    struct __res_state *res = apr_pcalloc(p, sizeof(*res));
    unsigned char *answer = apr_palloc(p, ACME_DNS_ANSWER_MAX), query[NS_PACKETSZ];
    const char *where = resolver ? resolver : "the system resolver";
    apr_status_t rv;
    ns_msg msg;
    int len, qlen;

    *values = apr_array_make(p, 1, sizeof(const char *));
    *end = dns_name_key(p, name);
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
    qlen = res_nmkquery(res, ns_o_query, name, ns_c_in, ns_t_txt, NULL, 0, NULL, query,
                        sizeof(query));
    if (qlen < 0) {
        *why = apr_psprintf(p, "%s is not a name that can be looked up", name);
        return APR_EGENERAL;
    }
    /* res_nsend, unlike res_nquery, hands over every answer with its flags. */
    len = res_nsend(res, query, qlen, answer, ACME_DNS_ANSWER_MAX);
    if (len < 0) {
        /* glibc does not tell a refusal or a failure from a timeout here. */
        *why = apr_psprintf(p, "%s gave no answer for %s (refused, failed or timed out)", where,
                            name);
        return APR_ENOENT;
    }
    if (ns_initparse(answer, len > ACME_DNS_ANSWER_MAX ? ACME_DNS_ANSWER_MAX : len, &msg) < 0) {
        *why = apr_psprintf(p, "%s sent a malformed answer for %s", where, name);
        return APR_EGENERAL;
    }
    switch (ns_msg_getflag(msg, ns_f_rcode)) {
    case ns_r_noerror:
    case ns_r_nxdomain:         /* possibly after a CNAME to a name without records */
        break;
    default:
        *why = apr_psprintf(p, "%s answered %s with error %d", where, name,
                            ns_msg_getflag(msg, ns_f_rcode));
        return APR_ENOENT;
    }
    if (answer_is_referral(&msg)) {
        *why = apr_psprintf(p, "%s does not answer for %s (not its zone, no recursion)", where,
                            name);
        return APR_ENOENT;
    }
    if (answer_parse(p, &msg, name, values, end) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s sent a malformed answer for %s", where, name);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t acme_dns_txt_resolve(apr_pool_t *p, const char *resolver, const char *name,
                                  apr_array_header_t **values, const char **target,
                                  const char **why)
{
    const char *at = dns_name_key(p, name), *end, *first, *note = NULL;
    apr_status_t rv;
    int hops;

    *why = NULL;
    for (hops = 0;; ++hops) {
        *target = at;
        rv = txt_query(p, resolver, at, values, &end, why);
        /* A CNAME into another zone: AcmeDnsResolver is often the primary of
         * the name's own zone only; a recursive resolver can follow on. */
        if (rv != APR_SUCCESS && hops > 0 && resolver) {
            first = *why;
            rv = txt_query(p, NULL, at, values, &end, why);
            if (rv != APR_SUCCESS) {
                *why = apr_psprintf(p, "%s; %s", first, *why);
            }
            else {
                note = apr_psprintf(p, "%s; asked the system resolver instead, which has %d "
                                    "TXT value(s) there", first, (*values)->nelts);
            }
        }
        if (rv != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        *target = end;
        if ((*values)->nelts > 0 || strcmp(end, at) == 0) {
            *why = note;
            return APR_SUCCESS;
        }
        if (hops == ACME_DNS_CNAME_HOPS) {
            *why = apr_psprintf(p, "%s: more than %d CNAMEs in a row", name, ACME_DNS_CNAME_HOPS);
            return APR_EGENERAL;
        }
        at = end;
    }
}

apr_status_t acme_dns_txt_lookup(apr_pool_t *p, const char *resolver, const char *name,
                                 apr_array_header_t **values, const char **why)
{
    const char *target;

    return acme_dns_txt_resolve(p, resolver, name, values, &target, why);
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
                                 const char *delegated_from, apr_time_t now, int kill_on_cleanup)
{
    acme_dns_hook_t *hook = apr_pcalloc(p, sizeof(*hook));
    const char **argv = apr_pcalloc(p, 6 * sizeof(*argv));
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
    argv[4] = delegated_from;
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
