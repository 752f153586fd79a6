/* Events for AcmeNotifyCmd as files in events/: whoever notices an event
 * writes one atomically; the root parent lists them oldest first, runs the
 * command and removes each. File names start with the time, so a sorted
 * directory listing is the order in which they happened. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <jansson.h>


#include "acme_events.h"
#include "acme_text.h"
#include "acme_time.h"
#include "acme_store_paths.h"

#define ACME_EVENTS_DIR        ACME_STORE_EVENTS       /* the issuing child's */
#define ACME_EVENTS_ROOT_DIR   ACME_STORE_ROOT_EVENTS  /* the root parent's */
#define ACME_EVENT_MAX_DETAIL  2048
#define ACME_EVENT_MAX_LIST    1000

/* Events only the root parent may post: it derives them from what it
 * activated itself. The child's events/ offers the others at most. */
static int event_is_roots(const char *event)
{
    return !strcmp(event, ACME_EVENT_ISSUED) || !strcmp(event, ACME_EVENT_RENEWED);
}

static const char *const KNOWN_EVENTS[] = {
    ACME_EVENT_ISSUED, ACME_EVENT_RENEWED, ACME_EVENT_FAILED, ACME_EVENT_EXPIRING, NULL
};

static int event_known(const char *event)
{
    int i;

    for (i = 0; event && KNOWN_EVENTS[i]; ++i) {
        if (strcmp(event, KNOWN_EVENTS[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* YYYYmmddTHHMMSS.uuuuuuZ: sorts like the time it names. */
static const char *stamp(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;

    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d%02d%02dT%02d%02d%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_usec);
}

/* Details come from CAs: one line of printable text, bounded (UTF-8 kept). */
static const char *detail_clean(apr_pool_t *p, const char *detail)
{
    return acme_text_printable(p, detail, detail ? strlen(detail) : 0, ACME_EVENT_MAX_DETAIL,
                               ACME_TEXT_KEEP_8BIT);
}

apr_status_t acme_events_post(acme_store_t *store, apr_pool_t *p, const char *event,
                              const char *name, const char *detail, apr_time_t now)
{
    const char *file;
    json_t *json;
    apr_status_t rv;
    int i;

    if (!event_known(event) || acme_store_name_check(name) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    json = json_pack("{s:s, s:s, s:s, s:s}", "event", event, "name", name,
                     "detail", detail_clean(p, detail), "at", acme_time_rfc3339(p, now));
    if (!json) {
        return APR_ENOMEM;
    }
    /* Two events of one kind for one name in the same microsecond: the later
     * one takes the next microsecond, so none overwrites another. */
    for (i = 0; i < 100; ++i) {
        const char *data;
        file = apr_psprintf(p, "%s/%s-%s-%s.json",
                            event_is_roots(event) ? ACME_EVENTS_ROOT_DIR : ACME_EVENTS_DIR,
                            stamp(p, now + i), event, name);
        if (acme_store_read(store, p, file, ACME_MAX_STORE_FILE, &data, NULL) == APR_ENOENT) {
            break;
        }
    }
    rv = acme_store_write_json(store, p, file, json, ACME_STORE_FILE_PERMS);
    json_decref(json);
    return rv;
}

static apr_status_t event_read(acme_store_t *store, apr_pool_t *p, const char *file,
                               int from_child, acme_event_t **event_out)
{
    acme_event_t *event;
    json_t *json, *at;
    apr_time_t when;
    apr_status_t rv;

    if ((rv = acme_store_read_json_pooled(store, p, file, &json)) != APR_SUCCESS) {
        return rv;
    }
    event = apr_pcalloc(p, sizeof(*event));
    event->file = file;
    event->from_child = from_child;
    event->event = apr_pstrdup(p, json_string_value(json_object_get(json, "event")));
    event->name = apr_pstrdup(p, json_string_value(json_object_get(json, "name")));
    event->detail = json_string_value(json_object_get(json, "detail"));
    event->detail = detail_clean(p, event->detail);
    at = json_object_get(json, "at");
    if (!event_known(event->event) || (from_child && event_is_roots(event->event))
        || !event->name
        || acme_store_name_check(event->name) != APR_SUCCESS || !json_is_string(at)
        || acme_time_rfc3339_parse(json_string_value(at), &when) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    event->at = when;
    *event_out = event;
    return APR_SUCCESS;
}

/* The events in dir, appended to events (at most ACME_EVENT_MAX_LIST).
 * What is no event file goes, counted in *swept: unreadable or invalid
 * .json files, and in the child's directory any other name (else junk the
 * User drops there would stay forever); temp files of a write in progress
 * stay (acme_store_remove_dead_temps takes those its writer left). */
static apr_status_t event_list_dir(acme_store_t *store, apr_pool_t *p, const char *dir,
                                   apr_array_header_t *events, int *swept)
{
    apr_array_header_t *files;
    apr_status_t rv;
    int i, from_child = strcmp(dir, ACME_EVENTS_ROOT_DIR) != 0;

    if ((rv = acme_store_list(store, p, dir, &files)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < files->nelts && events->nelts < ACME_EVENT_MAX_LIST; ++i) {
        const char *entry = APR_ARRAY_IDX(files, i, const char *);
        const char *file = apr_pstrcat(p, dir, "/", entry, NULL);
        acme_event_t *event;
        apr_size_t len = strlen(entry);

        if (len < 6 || strcmp(entry + len - 5, ".json") != 0) {
            if (from_child && !acme_store_is_temp_name(entry)
                && acme_store_remove(store, p, file) == APR_SUCCESS) {
                ++*swept;
            }
            continue;
        }
        rv = event_read(store, p, file, from_child, &event);
        if (rv == APR_SUCCESS) {
            APR_ARRAY_PUSH(events, acme_event_t *) = event;
        }
        else if (rv != APR_ENOENT && acme_store_remove(store, p, file) == APR_SUCCESS) {
            ++*swept;
        }
    }
    return APR_SUCCESS;
}

/* File names start with the time: by name is oldest first. */
static int cmp_events(const void *a, const void *b)
{
    const acme_event_t *ea = *(const acme_event_t *const *)a;
    const acme_event_t *eb = *(const acme_event_t *const *)b;

    return strcmp(strchr(ea->file, '/'), strchr(eb->file, '/'));
}

apr_status_t acme_events_list(acme_store_t *store, apr_pool_t *p, apr_array_header_t **events,
                             int *swept)
{
    apr_status_t rv;
    int removed = 0;

    *events = apr_array_make(p, 4, sizeof(acme_event_t *));
    /* The root's own first: a flood in the child's directory cannot crowd them out. */
    rv = event_list_dir(store, p, ACME_EVENTS_ROOT_DIR, *events, &removed);
    if (rv == APR_SUCCESS) {
        rv = event_list_dir(store, p, ACME_EVENTS_DIR, *events, &removed);
    }
    if (swept) {
        *swept = removed;
    }
    qsort((*events)->elts, (size_t)(*events)->nelts, sizeof(acme_event_t *), cmp_events);
    return rv;
}

static int in_dir(const char *file, const char *dir)
{
    apr_size_t len = strlen(dir);

    return !strncmp(file, dir, len) && file[len] == '/' && file[len + 1]
           && !strchr(file + len + 1, '/') && file[len + 1] != '.';
}

apr_status_t acme_events_done(acme_store_t *store, apr_pool_t *p, const acme_event_t *event)
{
    const char *file = event->file;

    if (!file || !(in_dir(file, ACME_EVENTS_DIR) || in_dir(file, ACME_EVENTS_ROOT_DIR))) {
        return APR_EINVAL;
    }
    return acme_store_remove(store, p, file);
}
