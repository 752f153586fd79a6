/* The activation thread's inotify watches (acme_activation.c): staging/
 * itself and staging/<name>/ of each configured name, where the "ready"
 * marker appears. Every entry there is watched once, when the thread starts
 * (and again after inotify lost events or an entry could not be watched);
 * later entries get their watch when staging/'s watch says they came. A look
 * at staging so costs no watch call: adding every entry's watch at every
 * look made them O(N) per look, 178 calls per name over a first issuance of
 * 300 names, most failing (no entry). Other entries the User makes in
 * staging/ get no watch: only a configured name is looked up. */
#include <errno.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif
#include <apr_hash.h>
#include <httpd.h>
#include <http_log.h>

#include "acme_private.h"
#include "acme_watchdog.h"
#include "acme_store_paths.h"

#ifdef __linux__
#define WATCH_EVENTS (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW)

/* 0, or -1 when the entry of name exists but cannot be watched (e.g.
 * max_user_watches reached). No entry (or not a directory) is no failure:
 * staging/'s watch sees one come. */
static int watch_entry(acme_wd_t *wd, apr_pool_t *p, const char *name)
{
    ++wd->watch_calls;
    if (inotify_add_watch(wd->notify_fd, acme_store_path(wd->rt->store, p,
                                                         acme_store_rel_staging(p, name)),
                          WATCH_EVENTS) < 0
        && errno != ENOENT && errno != ENOTDIR) {
        return -1;
    }
    return 0;
}
#endif

void acme_activation_watch_all(acme_wd_t *wd, apr_pool_t *p)
{
#ifdef __linux__
    const apr_array_header_t *domains = wd->rt->domains;
    int i;

    if (wd->notify_fd < 0 || (wd->staging_watch >= 0 && !wd->watch_failed)) {
        return;
    }
    wd->watch_failed = 0;
    ++wd->watch_calls;
    /* staging/ first: an entry made while the others are added is seen */
    wd->staging_watch = inotify_add_watch(wd->notify_fd, acme_store_path(wd->rt->store, p,
                                          ACME_STORE_STAGING), WATCH_EVENTS);
    if (wd->staging_watch < 0) {
        wd->watch_failed = 1;
        return;
    }
    for (i = 0; i < domains->nelts; ++i) {
        if (watch_entry(wd, p, APR_ARRAY_IDX(domains, i, const acme_domain_t *)->name) < 0) {
            wd->watch_failed = 1;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, wd->rt->base, "ACME00756: activation thread: "
                 "staging/ and the entries of %d configured name(s) watched, %ld watch "
                 "call(s) so far%s", domains->nelts, wd->watch_calls,
                 wd->watch_failed ? "; some entries cannot be watched, so staging is looked "
                 "at every second" : "");
#else
    (void)wd;
    (void)p;
#endif
}

#ifdef __linux__
/* One event read from inotify: a configured entry that came gets its watch;
 * staging/'s watch gone, or events lost, means everything is watched again
 * at the next look. */
static void watch_event(acme_wd_t *wd, apr_pool_t *p, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        wd->staging_watch = -1;
        return;
    }
    if (ev->wd != wd->staging_watch) {
        return;
    }
    if (ev->mask & IN_IGNORED) {
        wd->staging_watch = -1;
    }
    else if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len > 0
             && apr_hash_get(wd->configured, ev->name, APR_HASH_KEY_STRING)
             && watch_entry(wd, p, ev->name) < 0) {
        wd->watch_failed = 1;
    }
}
#endif

int acme_activation_watch_events(acme_wd_t *wd, apr_pool_t *p)
{
    char buf[4096]
#ifdef __linux__
        __attribute__((aligned(__alignof__(struct inotify_event))))
#endif
        ;
    ssize_t len;
    int read_any = 0;

    while ((len = read(wd->notify_fd, buf, sizeof(buf))) > 0) {
#ifdef __linux__
        const char *at = buf;

        while (at + sizeof(struct inotify_event) <= buf + len) {
            const struct inotify_event *ev = (const struct inotify_event *)(const void *)at;

            watch_event(wd, p, ev);
            at += sizeof(struct inotify_event) + ev->len;
        }
#endif
        read_any = 1;
    }
    (void)p;
    return read_any;
}
