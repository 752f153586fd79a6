/* AcmeCluster: Redis' outages. The parent logs one as it begins and as it
 * ends with its length, however short: a Redis restarted in a second is an
 * outage too (a command failed), and one whose connection still opens but
 * whose commands fail (a stopped process) as well. Nothing floods: an
 * outage that begins within FLAP_WINDOW of the last logged start is logged
 * only once it lasts FLAP_LONG, else counted and summed up (ACME01071);
 * configuration errors (APR_EACCES) are always logged. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include <openssl/evp.h>

#include "acme_private.h"
#include "acme_cluster_outage.h"
#include "acme_time.h"

#define OUTAGE_KEY      "mod_acme.cluster.outage"
#define REMIND_EVERY    apr_time_from_sec(3600)  /* a long outage: said again */
#define FLAP_WINDOW     apr_time_from_sec(300)   /* outages this close: summed up */
#define FLAP_LONG       apr_time_from_sec(30)    /* unless one lasts this long */
#define DOWN_WAIT_MIN   apr_time_from_sec(5)     /* the gate's pause grows with */
#define DOWN_WAIT_MAX   apr_time_from_sec(60)    /* the outage, up to this */
#define URL_DIGEST_LEN  32                       /* SHA-256 */

struct acme_cluster_outage_t {
    unsigned char url[URL_DIGEST_LEN];  /* digest of the URL as written: never the text */
    apr_time_t since;                   /* 0: Redis answers */
    apr_time_t last_ok;                 /* the last look Redis answered */
    apr_time_t logged;                  /* when this outage was said last, 0: not said */
    apr_time_t began_logged;            /* when an outage's start was said last */
    int refused;                        /* the kind said last: credentials refused */
    int unsaid;                         /* outages not said since began_logged */
    apr_interval_time_t unsaid_time;    /* their length */
};

acme_cluster_outage_t *acme_cluster_outage_get(server_rec *s, const char *url_text,
                                               int *url_changed)
{
    apr_pool_t *pp = s->process->pool;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    acme_cluster_outage_t *o;
    void *data = NULL;

    memset(md, 0, sizeof(md));
    EVP_Digest(url_text, strlen(url_text), md, &md_len, EVP_sha256(), NULL);
    apr_pool_userdata_get(&data, OUTAGE_KEY, pp);
    if (!(o = data)) {
        o = apr_pcalloc(pp, sizeof(*o));
        memcpy(o->url, md, URL_DIGEST_LEN);
        apr_pool_userdata_set(o, OUTAGE_KEY, apr_pool_cleanup_null, pp);
        *url_changed = 0;
        return o;
    }
    *url_changed = memcmp(o->url, md, URL_DIGEST_LEN) != 0;
    if (*url_changed) {
        memset(o, 0, sizeof(*o));
        memcpy(o->url, md, URL_DIGEST_LEN);
    }
    return o;
}

void acme_cluster_outage_down(acme_cluster_outage_t *o, server_rec *s, apr_status_t rv,
                              const char *why)
{
    apr_time_t now = apr_time_now();
    int refused = rv == APR_EACCES;
    apr_pool_t *p;

    if (!o->since) {
        o->since = now;
        o->logged = 0;
        if (!refused && o->began_logged && now - o->began_logged < FLAP_WINDOW) {
            o->unsaid++;              /* said at its end, summed up */
            return;
        }
    }
    else if (o->logged ? (refused == o->refused && now - o->logged < REMIND_EVERY)
                       : (!refused && now - o->since < FLAP_LONG)) {
        return;
    }
    else if (!o->logged && o->unsaid) {
        o->unsaid--;                  /* said now after all */
    }
    apr_pool_create(&p, s->process->pool);
    ap_log_error(APLOG_MARK, refused ? APLOG_ERR : APLOG_WARNING, 0, s, "ACME01019: cluster: "
                 "%s%s; this node serves what it has and takes no new certificates from the "
                 "cluster until %s", why ? why : "Redis did not answer",
                 o->since < now ? apr_psprintf(p, " (since %s)", acme_time_rfc3339(p, o->since))
                                : "",
                 refused ? "AcmeCluster is fixed" : "Redis is back (another line says when, and how long it was down)");
    apr_pool_destroy(p);
    if (!o->logged) {
        o->began_logged = now;
    }
    o->logged = now;
    o->refused = refused;
}

void acme_cluster_outage_up(acme_cluster_outage_t *o, server_rec *s)
{
    apr_time_t now = apr_time_now();
    apr_pool_t *p;

    if (!o->since) {
        return;
    }
    apr_pool_create(&p, s->process->pool);
    if (o->logged) {
        /* Found at one look and over at the next try: it began after the
         * look before, which is all that can be said of its length. */
        apr_time_t from = now - o->since < apr_time_from_sec(1) && o->last_ok ? o->last_ok
                                                                              : o->since;

        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "ACME01020: cluster: Redis reachable "
                     "again after %s%.1f s (%s %s)", from != o->since ? "at most " : "",
                     (double)(now - from) / APR_USEC_PER_SEC, from != o->since
                     ? "unreachable some time after the look that found it well at"
                     : "unreachable since", acme_time_rfc3339(p, from));
    }
    else {
        o->unsaid_time += now - o->since;
    }
    if (o->unsaid && now - o->began_logged >= FLAP_WINDOW) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ACME01071: cluster: Redis was "
                     "unreachable %d more time(s) since %s, %.1f s in all; advice: look at "
                     "Redis' own log, and at the network between this node and Redis",
                     o->unsaid, acme_time_rfc3339(p, o->began_logged),
                     (double)o->unsaid_time / APR_USEC_PER_SEC);
        o->unsaid = 0;
        o->unsaid_time = 0;
        o->began_logged = now;
    }
    apr_pool_destroy(p);
    o->since = 0;
    o->logged = 0;
}

void acme_cluster_outage_ok(acme_cluster_outage_t *o, server_rec *s)
{
    acme_cluster_outage_up(o, s);
    o->last_ok = apr_time_now();
}

apr_time_t acme_cluster_outage_since(const acme_cluster_outage_t *o)
{
    return o->since;
}

apr_status_t acme_cluster_outage_wait(apr_time_t *down_since, apr_time_t began,
                                      const acme_redis_t *r,
                                      apr_status_t open_rv, const char *open_why,
                                      apr_time_t *retry_at, const char **why, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_interval_time_t wait;
    const char *what = NULL;
    apr_status_t rv = r ? acme_redis_failure(r, &what) : open_rv;

    what = r ? what : open_why;
    if (!*down_since) {
        *down_since = now;
    }
    began = began && began < *down_since ? began : *down_since;
    wait = now - *down_since;
    wait = wait < DOWN_WAIT_MIN ? DOWN_WAIT_MIN : wait > DOWN_WAIT_MAX ? DOWN_WAIT_MAX : wait;
    *retry_at = now + wait;
    *why = apr_psprintf(p, "%s (%s); orders wait for it (down %d s, next look in %d s)",
                        rv == APR_EACCES ? "AcmeCluster needs a fix" : "Redis is not reachable",
                        what ? what : "it did not answer", (int)apr_time_sec(now - began),
                        (int)apr_time_sec(wait));
    return APR_EAGAIN;
}
