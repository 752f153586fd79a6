/* dns-01 building blocks: the AcmeDnsCmd hook as a polled child process, and
 * the TXT lookup (a query built by res_nmkquery, sent here over UDP, then
 * TCP when truncated, ns_parserr on the answer, CNAMEs followed) that tells
 * when the record can be seen. The query is sent here, not by res_nsend:
 * glibc's drops SERVFAIL and REFUSED answers, and empty answers without
 * AA or RA (pebble-challtestsrv's), alike as "no answer", where an
 * administrator needs to know which one it was. */
#include <string.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "acme_text.h"
#include "acme_dns.h"
#include "acme_proc.h"

#define ACME_DNS_DEFAULT_PORT  53
#define ACME_DNS_CNAME_HOPS    8
/* ACME_DNS_RETRANS s per try: one query blocks at most ~4 s per server. */
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

/* ---- asking one server ---- */

static apr_status_t resolver_cleanup(void *data)
{
    res_nclose(data);
    return APR_SUCCESS;
}

/* Where a query goes: AcmeDnsResolver, else resolv.conf's servers in turn. */
typedef struct {
    struct sockaddr_storage addr[MAXNS];
    socklen_t len[MAXNS];
    int count;
} dns_servers_t;

/* resolver's address, or those of resolv.conf (IPv4 and IPv6, as glibc's
 * res_ninit keeps them). */
static apr_status_t servers_get(apr_pool_t *p, const char *resolver, struct __res_state *res,
                                dns_servers_t *servers, const char **why)
{
    apr_sockaddr_t *sa;
    const char *host;
    apr_port_t port;
    apr_status_t rv;
    int i;

    memset(servers, 0, sizeof(*servers));
    if (resolver) {
        if ((rv = acme_dns_resolver_parse(p, resolver, &host, &port, why)) != APR_SUCCESS) {
            *why = apr_psprintf(p, "AcmeDnsResolver %s: %s", resolver, *why);
            return rv;
        }
        if ((rv = apr_sockaddr_info_get(&sa, host, APR_INET, port, 0, p)) != APR_SUCCESS) {
            *why = apr_psprintf(p, "cannot resolve the address of AcmeDnsResolver %s", resolver);
            return rv;
        }
        memcpy(&servers->addr[0], &sa->sa.sin, sizeof(sa->sa.sin));
        servers->len[0] = sizeof(sa->sa.sin);
        servers->count = 1;
        return APR_SUCCESS;
    }
    for (i = 0; i < res->nscount && i < MAXNS; ++i) {
        if (res->nsaddr_list[i].sin_family == AF_INET) {
            memcpy(&servers->addr[servers->count], &res->nsaddr_list[i],
                   sizeof(res->nsaddr_list[i]));
            servers->len[servers->count++] = sizeof(res->nsaddr_list[i]);
        }
        else if (res->_u._ext.nsaddrs[i]) {
            memcpy(&servers->addr[servers->count], res->_u._ext.nsaddrs[i],
                   sizeof(struct sockaddr_in6));
            servers->len[servers->count++] = sizeof(struct sockaddr_in6);
        }
    }
    if (!servers->count) {
        *why = "/etc/resolv.conf names no name server";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Is this the answer to query: same ID, a response, the same question
 * (RFC 1035 §7.3; names without case)? */
static int answer_matches(const unsigned char *query, int qlen, const unsigned char *answer,
                          int len)
{
    int i;

    if (len < qlen || len < NS_HFIXEDSZ || answer[0] != query[0] || answer[1] != query[1]
        || !(answer[2] & 0x80) || answer[4] != query[4] || answer[5] != query[5]) {
        return 0;
    }
    for (i = NS_HFIXEDSZ; i < qlen; ++i) {
        if (apr_tolower(answer[i]) != apr_tolower(query[i])) {
            return 0;
        }
    }
    return 1;
}

/* How one exchange with a server ended, when no answer came. */
typedef enum {
    DNS_ANSWERED,
    DNS_TIMED_OUT,          /* nothing came back */
    DNS_UNREACHABLE,        /* connection refused (ICMP port unreachable): no server there */
    DNS_NO_TCP              /* a truncated answer over UDP, none over TCP */
} dns_exchange_e;

/* The query over UDP (RFC 1035 §4.2.1): ACME_DNS_RETRY sends, each waited
 * for ACME_DNS_RETRANS s. *len the answer's length (up to max). */
static dns_exchange_e exchange_udp(const struct sockaddr *to, socklen_t tolen,
                                   const unsigned char *query, int qlen, unsigned char *answer,
                                   int max, int *len)
{
    dns_exchange_e result = DNS_TIMED_OUT;
    int fd = socket(to->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), try, got;
    struct pollfd pfd;
    apr_time_t until;

    if (fd < 0 || connect(fd, to, tolen) != 0) {
        result = DNS_UNREACHABLE;
        goto done;
    }
    for (try = 0; try < ACME_DNS_RETRY; ++try) {
        if (send(fd, query, (size_t)qlen, 0) != qlen) {
            result = errno == ECONNREFUSED ? DNS_UNREACHABLE : DNS_TIMED_OUT;
            continue;
        }
        until = apr_time_now() + apr_time_from_sec(ACME_DNS_RETRANS);
        for (;;) {
            apr_interval_time_t left = until - apr_time_now();
            pfd.fd = fd;
            pfd.events = POLLIN;
            if (left <= 0 || poll(&pfd, 1, (int)(left / 1000) + 1) <= 0) {
                break;
            }
            got = (int)recv(fd, answer, (size_t)max, 0);
            if (got < 0 && errno == ECONNREFUSED) {
                result = DNS_UNREACHABLE;
                break;
            }
            if (got > 0 && answer_matches(query, qlen, answer, got)) {
                *len = got;
                result = DNS_ANSWERED;
                goto done;
            }
        }
    }
done:
    if (fd >= 0) {
        close(fd);
    }
    return result;
}

static int read_full(int fd, unsigned char *buf, size_t len)
{
    size_t at = 0;

    while (at < len) {
        ssize_t got = recv(fd, buf + at, len - at, 0);
        if (got <= 0) {
            return -1;
        }
        at += (size_t)got;
    }
    return 0;
}

/* The query over TCP (RFC 1035 §4.2.2, RFC 7766), after a truncated UDP
 * answer; each step waits at most ACME_DNS_RETRANS * ACME_DNS_RETRY s. */
static dns_exchange_e exchange_tcp(const struct sockaddr *to, socklen_t tolen,
                                   const unsigned char *query, int qlen, unsigned char *answer,
                                   int max, int *len)
{
    struct timeval tv = { ACME_DNS_RETRANS * ACME_DNS_RETRY, 0 };
    int fd = socket(to->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;
    unsigned char head[2] = { (unsigned char)(qlen >> 8), (unsigned char)qlen };
    size_t want;

    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0
        && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0
        && connect(fd, to, tolen) == 0 && send(fd, head, 2, MSG_NOSIGNAL) == 2
        && send(fd, query, (size_t)qlen, MSG_NOSIGNAL) == qlen && read_full(fd, head, 2) == 0) {
        want = ((size_t)head[0] << 8) | head[1];
        if (want <= (size_t)max && read_full(fd, answer, want) == 0
            && answer_matches(query, qlen, answer, (int)want)) {
            *len = (int)want;
            ok = 1;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok ? DNS_ANSWERED : DNS_NO_TCP;
}

/* One exchange with one server: UDP, then TCP when the answer is truncated. */
static dns_exchange_e exchange(const struct sockaddr *to, socklen_t tolen,
                               const unsigned char *query, int qlen, unsigned char *answer,
                               int max, int *len)
{
    dns_exchange_e result = exchange_udp(to, tolen, query, qlen, answer, max, len);

    if (result == DNS_ANSWERED && (answer[2] & 0x02)) {     /* TC */
        return exchange_tcp(to, tolen, query, qlen, answer, max, len);
    }
    return result;
}

/* Why no answer came, in the administrator's terms. */
static const char *exchange_failed(apr_pool_t *p, dns_exchange_e result, const char *where,
                                   const char *name)
{
    switch (result) {
    case DNS_UNREACHABLE:
        return apr_psprintf(p, "%s refused the connection when asked for %s (no DNS server "
                            "listens at that address and port)", where, name);
    case DNS_NO_TCP:
        return apr_psprintf(p, "%s sent a truncated answer for %s over UDP and none over TCP "
                            "(the answer is too large for UDP; allow DNS over TCP)", where, name);
    default:
        return apr_psprintf(p, "%s did not answer for %s within %d s (timed out: check the "
                            "address, the port and firewalls)", where, name,
                            ACME_DNS_RETRANS * ACME_DNS_RETRY);
    }
}

/* Why an answer with this RCODE (RFC 1035 §4.1.1) holds nothing to use. */
static const char *rcode_failed(apr_pool_t *p, int rcode, const char *where, const char *name)
{
    switch (rcode) {
    case ns_r_servfail:
        return apr_psprintf(p, "%s failed to answer for %s (SERVFAIL: it could not resolve "
                            "the name; check the zone's servers, or DNSSEC)", where, name);
    case ns_r_refused:
        return apr_psprintf(p, "%s refused to answer for %s (REFUSED: not a zone it serves, "
                            "and no recursion for this client)", where, name);
    case ns_r_notimpl:
        return apr_psprintf(p, "%s does not implement TXT queries for %s (NOTIMP)", where, name);
    default:
        return apr_psprintf(p, "%s answered %s with error %d", where, name, rcode);
    }
}

/* The answer from the first server that can answer (resolv.conf's in turn,
 * as glibc asks them); APR_ENOENT with *why (the last server's) when none. */
static apr_status_t ask(apr_pool_t *p, const char *resolver, const char *name,
                        unsigned char *answer, int *len, const char **where, const char **why)
{
    unsigned char query[NS_PACKETSZ];
    struct __res_state *res = apr_pcalloc(p, sizeof(*res));
    dns_servers_t servers;
    dns_exchange_e result;
    int qlen, i;

    *where = resolver ? resolver : "the system resolver";
    if (res_ninit(res) != 0) {
        *why = "cannot initialize the resolver (/etc/resolv.conf)";
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, res, resolver_cleanup, apr_pool_cleanup_null);
    if (servers_get(p, resolver, res, &servers, why) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    qlen = res_nmkquery(res, ns_o_query, name, ns_c_in, ns_t_txt, NULL, 0, NULL, query,
                        sizeof(query));
    if (qlen < 0) {
        *why = apr_psprintf(p, "%s is not a name that can be looked up", name);
        return APR_EGENERAL;
    }
    for (i = 0; i < servers.count; ++i) {
        int rcode;

        result = exchange((struct sockaddr *)&servers.addr[i], servers.len[i], query, qlen,
                          answer, ACME_DNS_ANSWER_MAX, len);
        if (result != DNS_ANSWERED) {
            *why = exchange_failed(p, result, *where, name);
            continue;
        }
        rcode = answer[3] & 0x0f;
        if (rcode == ns_r_noerror || rcode == ns_r_nxdomain) {
            return APR_SUCCESS;
        }
        *why = rcode_failed(p, rcode, *where, name);
    }
    return APR_ENOENT;
}

/* Says what an answer without TXT values holds: no data or no such name. */
static const char *empty_answer(apr_pool_t *p, ns_msg *msg, const char *where, const char *name)
{
    if (ns_msg_getflag(*msg, ns_f_rcode) == ns_r_nxdomain) {
        return apr_psprintf(p, "%s says %s does not exist (NXDOMAIN)", where, name);
    }
    return apr_psprintf(p, "%s has no TXT record at %s (NOERROR, no data)", where, name);
}

/* Whether an empty NOERROR answer is a referral or a lame answer: neither
 * authoritative nor recursive, and no SOA saying the name has no such data
 * (RFC 2308 §2.2). Such a server cannot answer for that name. */
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
 * the values and where the answer's CNAMEs lead (*end), and *why saying what
 * the answer was when it holds no value there; APR_ENOENT when that server
 * cannot answer for name (no answer, an error, a referral); APR_EGENERAL on
 * anything else. *why set unless values were found. */
static apr_status_t txt_query(apr_pool_t *p, const char *resolver, const char *name,
                              apr_array_header_t **values, const char **end, const char **why)
{
    unsigned char *answer = apr_palloc(p, ACME_DNS_ANSWER_MAX);
    const char *where;
    apr_status_t rv;
    ns_msg msg;
    int len = 0;

    *values = apr_array_make(p, 1, sizeof(const char *));
    *end = dns_name_key(p, name);
    *why = NULL;
    if ((rv = ask(p, resolver, name, answer, &len, &where, why)) != APR_SUCCESS) {
        return rv;
    }
    if (ns_initparse(answer, len, &msg) < 0) {
        *why = apr_psprintf(p, "%s sent a malformed answer for %s", where, name);
        return APR_EGENERAL;
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
    if (!(*values)->nelts) {
        *why = empty_answer(p, &msg, where, strcmp(*end, dns_name_key(p, name)) ? *end : name);
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
            /* none there: what the answer said, after how it was had */
            *why = note && *why ? apr_psprintf(p, "%s; %s", note, *why) : note ? note : *why;
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
    const char *shown_label;    /* label without the program's path */
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
    /* the path's ends only (it may be PATH_MAX long): the log line that
     * quotes the output's start and end after the label stays within
     * acme_log's line (ACME00905 promises both ends) */
    hook->label = apr_psprintf(p, "AcmeDnsCmd %s %s %s",
                               acme_text_ends(p, program, ACME_DNS_HOOK_LABEL_PATH / 2,
                                              ACME_DNS_HOOK_LABEL_PATH / 2),
                               action, name);
    hook->shown_label = apr_psprintf(p, "AcmeDnsCmd %s %s", action, name);
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

const char *acme_dns_hook_logged(const acme_dns_hook_t *hook)
{
    return acme_text_ends(hook->pool, acme_dns_hook_output(hook), ACME_DNS_HOOK_LOGGED_HEAD,
                          ACME_DNS_HOOK_LOGGED_TAIL);
}

const char *acme_dns_hook_shown(const acme_dns_hook_t *hook, apr_pool_t *p)
{
    const char *line = acme_text_output_line(p, acme_dns_hook_output(hook),
                                             ACME_DNS_HOOK_SHOWN_MAX);

    return apr_pstrcat(p, hook->shown_label, " ", acme_dns_hook_result(hook), *line ? ": " : "",
                       line, NULL);
}

const char *acme_dns_hook_label(const acme_dns_hook_t *hook)
{
    return hook->label;
}

const char *acme_dns_hook_shown_label(const acme_dns_hook_t *hook)
{
    return hook->shown_label;
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

void acme_dns_hook_stop(acme_dns_hook_t *hook)
{
    if (hook->proc) {
        acme_proc_kill(hook->proc, ACME_PROC_STOPPED);
    }
}

void acme_dns_hook_terminate(acme_dns_hook_t *hook)
{
    if (hook->proc) {
        acme_proc_terminate(hook->proc);
    }
}

void acme_dns_hook_stop_until(acme_dns_hook_t *hook, apr_time_t until)
{
    if (hook->proc) {
        acme_proc_kill_until(hook->proc, ACME_PROC_STOPPED, until);
    }
}

pid_t acme_dns_hook_pid(const acme_dns_hook_t *hook)
{
    return acme_proc_pid(hook->proc);
}
