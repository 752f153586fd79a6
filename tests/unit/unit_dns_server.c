/* The dns-01 tests' DNS server (unit_dns_server.h): one thread, one UDP
 * socket, answers built from the zone directory at each question. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <apr_strings.h>

#include "unit.h"
#include "unit_server.h"
#include "unit_dns_server.h"
#include "unit_dns_msg.h"

struct unit_dns_server_t {
    unit_server_t server;       /* first: the thread's callback gets it */
    apr_pool_t *pool;
    const char *zone;
    const char *address;
    int queries;
    int rcode;
    unit_dns_mode_e mode;
};

/* The question's name (lower case, dotted) and where the question ends;
 * 0 when the query is not one plain question. */
static size_t question(const unsigned char *q, size_t len, char *name, size_t max)
{
    size_t at = 12, out = 0;

    if (len < 12 || q[4] != 0 || q[5] != 1) {
        return 0;
    }
    while (at < len && q[at] != 0) {
        size_t l = q[at];

        if (l > 63 || at + 1 + l >= len || out + l + 2 > max) {
            return 0;
        }
        if (out) {
            name[out++] = '.';
        }
        memcpy(name + out, q + at + 1, l);
        out += l;
        at += 1 + l;
    }
    name[out] = '\0';
    for (out = 0; name[out]; ++out) {
        if (name[out] >= 'A' && name[out] <= 'Z') {
            name[out] = (char)(name[out] - 'A' + 'a');
        }
    }
    return at + 5 <= len ? at + 5 : 0;     /* the root label, QTYPE, QCLASS */
}

/* An answer record for the question's name (pointer 0xc00c), TTL 0. */
static void rr(unit_dns_msg_t *m, unsigned type, const unsigned char *rdata, size_t rdlen)
{
    unit_dns_put16(m, 0xc00c);
    unit_dns_put16(m, type);
    unit_dns_put16(m, 1);
    unit_dns_put16(m, 0);
    unit_dns_put16(m, 0);
    unit_dns_put16(m, (unsigned)rdlen);
    unit_dns_put(m, rdata, rdlen);
}

/* The answers the zone file of name holds; returns their count. */
static unsigned answers(unit_dns_server_t *s, unit_dns_msg_t *m, const char *name)
{
    char path[1024], line[512];
    unsigned n = 0;
    FILE *zone;

    if (strchr(name, '/') || name[0] == '.') {
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", s->zone, name);
    if (!(zone = fopen(path, "r"))) {
        return 0;
    }
    while (fgets(line, sizeof(line), zone)) {
        size_t len = strcspn(line, "\r\n");

        line[len] = '\0';
        if (len == 0) {
            continue;
        }
        if (strncmp(line, "CNAME ", 6) == 0) {
            unit_dns_msg_t target = { .len = 0 };

            unit_dns_put_name(&target, line + 6);
            rr(m, 5, target.buf, target.len);
        }
        else {
            unsigned char txt[256];

            len = len > 255 ? 255 : len;
            txt[0] = (unsigned char)len;
            memcpy(txt + 1, line, len);
            rr(m, 16, txt, len + 1);
        }
        n++;
    }
    fclose(zone);
    return n;
}

/* An SOA for the question's name in the authority section (RFC 2308 §3):
 * "ns. hostmaster. 1 0 0 0 0", TTL 0. */
static void soa(unit_dns_msg_t *m)
{
    static const unsigned char rdata[] = {
        2, 'n', 's', 0, 10, 'h', 'o', 's', 't', 'm', 'a', 's', 't', 'e', 'r', 0,
        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    };

    rr(m, 6, rdata, sizeof(rdata));
}

static void answer(unit_dns_server_t *s, const unsigned char *q, size_t len,
                   const struct sockaddr *from, socklen_t fromlen)
{
    char name[256];
    size_t qend = question(q, len, name, sizeof(name));
    unit_dns_msg_t m = { .len = 0 };
    unsigned count = 0;
    unsigned authority = 0;
    unit_dns_mode_e mode;
    int rcode;

    if (!qend) {
        return;
    }
    pthread_mutex_lock(&s->server.lock);
    s->queries++;
    rcode = s->rcode;
    mode = s->mode;
    pthread_mutex_unlock(&s->server.lock);
    if (mode == UNIT_DNS_SILENT) {
        return;
    }
    unit_dns_put(&m, q, qend);           /* ID, flags, counts and the question, fixed below */
    if (rcode == 0 && mode != UNIT_DNS_TRUNCATED) {
        count = answers(s, &m, name);
    }
    if (mode == UNIT_DNS_CHALLTESTSRV && count == 0) {
        soa(&m);
        authority = 1;
    }
    if (m.full) {
        return;
    }
    m.buf[2] = (unsigned char)(0x80 | (mode == UNIT_DNS_CHALLTESTSRV ? 0 : 0x04)
                               | (mode == UNIT_DNS_TRUNCATED ? 0x02 : 0)
                               | (q[2] & 0x01));         /* QR, AA, TC, the query's RD */
    m.buf[3] = (unsigned char)((mode == UNIT_DNS_CHALLTESTSRV ? 0 : 0x80)
                               | (rcode & 0x0f));        /* RA, RCODE */
    m.buf[6] = (unsigned char)(count >> 8);
    m.buf[7] = (unsigned char)count;
    memset(m.buf + 8, 0, 4);
    m.buf[9] = (unsigned char)authority;
    sendto(s->server.fd, m.buf, m.len, 0, from, fromlen);
}

static void receive_one(unit_server_t *server)
{
    unsigned char q[UNIT_DNS_MSG_MAX];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t got = recvfrom(server->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);

    if (got > 0) {
        answer((unit_dns_server_t *)server, q, (size_t)got, (struct sockaddr *)&from, fromlen);
    }
}

unit_dns_server_t *unit_dns_server_start(apr_pool_t *p, const char *zone_dir)
{
    unit_dns_server_t *s = apr_pcalloc(p, sizeof(*s));

    s->pool = p;
    s->zone = apr_pstrdup(p, zone_dir);
    s->address = apr_psprintf(p, "127.0.0.1:%d",
                              unit_server_start(&s->server, p, SOCK_DGRAM, receive_one));
    return s;
}

unit_dns_server_t *unit_dns_server_in(apr_pool_t *p, const char *dir, const char **zone)
{
    *zone = apr_pstrcat(p, dir, "/zone", NULL);
    assert_int_equal(mkdir(*zone, 0755), 0);
    return unit_dns_server_start(p, *zone);
}

const char *unit_dns_server_address(const unit_dns_server_t *s)
{
    return s->address;
}

int unit_dns_server_queries(unit_dns_server_t *s)
{
    int n;

    pthread_mutex_lock(&s->server.lock);
    n = s->queries;
    pthread_mutex_unlock(&s->server.lock);
    return n;
}

void unit_dns_server_rcode(unit_dns_server_t *s, int rcode)
{
    pthread_mutex_lock(&s->server.lock);
    s->rcode = rcode;
    pthread_mutex_unlock(&s->server.lock);
}

void unit_dns_server_mode(unit_dns_server_t *s, unit_dns_mode_e mode)
{
    pthread_mutex_lock(&s->server.lock);
    s->mode = mode;
    pthread_mutex_unlock(&s->server.lock);
}
