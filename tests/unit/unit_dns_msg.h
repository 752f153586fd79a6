/* Building DNS messages (RFC 1035 §4.1) in the tests: test_dns.c's
 * answers for the parser, unit_dns_server.c's answers on the wire. */
#ifndef ACME_UNIT_DNS_MSG_H
#define ACME_UNIT_DNS_MSG_H
#include <string.h>

#define UNIT_DNS_MSG_MAX 1232   /* what fits one UDP answer without EDNS trouble */

typedef struct unit_dns_msg_t {
    unsigned char buf[UNIT_DNS_MSG_MAX];
    size_t len;
    int full;                   /* something did not fit: the message is cut */
} unit_dns_msg_t;

static inline void unit_dns_put(unit_dns_msg_t *m, const void *data, size_t len)
{
    if (m->full || m->len + len > sizeof(m->buf)) {
        m->full = 1;
        return;
    }
    memcpy(m->buf + m->len, data, len);
    m->len += len;
}

static inline void unit_dns_put16(unit_dns_msg_t *m, unsigned v)
{
    unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

    unit_dns_put(m, b, 2);
}

/* name as labels (each cut at 63 bytes), then the root label. */
static inline void unit_dns_put_name(unit_dns_msg_t *m, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        unsigned char l = (unsigned char)(len > 63 ? 63 : len);

        unit_dns_put(m, &l, 1);
        unit_dns_put(m, name, l);
        name += len + (dot ? 1 : 0);
    }
    unit_dns_put(m, "", 1);
}
#endif
