/* configured.json: the store names of each server's last start
 * (acme_store_configured.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>

#include "acme_store_configured.h"
#include "acme_store_int.h"
#include "acme_time.h"

/* Same names as recorded in entry (any order)? Then the entry and its time stay. */
static int same_names(json_t *entry, const apr_array_header_t *names)
{
    json_t *list = json_object_get(entry, "names");
    size_t i;
    int j;

    if (!json_is_array(list) || json_array_size(list) != (size_t)names->nelts) {
        return 0;
    }
    for (j = 0; j < names->nelts; ++j) {
        const char *name = APR_ARRAY_IDX(names, j, const char *);
        int found = 0;
        for (i = 0; i < json_array_size(list) && !found; ++i) {
            const char *v = json_string_value(json_array_get(list, i));
            found = v && !strcmp(v, name);
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

/* An entry whose configuration file is gone is a removed instance: its
 * names would otherwise count as configured for ever. */
static int server_gone(const char *server)
{
    struct stat st;

    return server[0] == '/' && lstat(server, &st) < 0 && errno == ENOENT;
}

static apr_time_t entry_since(json_t *entry)
{
    apr_time_t t = 0;
    const char *s = json_string_value(json_object_get(entry, "since"));

    return s && acme_time_rfc3339_parse(s, &t) == APR_SUCCESS ? t : 0;
}

/* The union of all entries' names and the latest start, at the top, for
 * readers that know only one server (and people reading the file). */
static void summarize(json_t *doc, apr_pool_t *p)
{
    json_t *servers = json_object_get(doc, "servers"), *entry, *all = json_array(), *v;
    apr_hash_t *seen = apr_hash_make(p);
    apr_time_t latest = 0;
    const char *server;
    size_t i;

    json_object_foreach(servers, server, entry) {
        json_array_foreach(json_object_get(entry, "names"), i, v) {
            const char *name = json_string_value(v);
            if (name && !apr_hash_get(seen, name, APR_HASH_KEY_STRING)) {
                apr_hash_set(seen, name, APR_HASH_KEY_STRING, "");
                json_array_append_new(all, json_string(name));
            }
        }
        if (entry_since(entry) > latest) {
            latest = entry_since(entry);
        }
    }
    json_object_set_new(doc, "names", all);
    json_object_set_new(doc, "since", json_string(acme_time_rfc3339(p, latest)));
}

/* The recorded document's server entries, those of gone servers left out;
 * a file of the one-server layout (no "servers") counts as nobody's: the
 * server writing now replaces it. *changed: an entry was left out. */
static json_t *servers_kept(json_t *have, const char *server, int *changed)
{
    json_t *servers = json_object(), *old = json_object_get(have, "servers"), *entry;
    const char *key;

    *changed = have && !json_is_object(old);
    json_object_foreach(old, key, entry) {
        if (json_is_object(entry) && (!strcmp(key, server) || !server_gone(key))) {
            json_object_set(servers, key, entry);
        }
        else {
            *changed = 1;
        }
    }
    return servers;
}

static apr_status_t configured_update(acme_store_t *store, apr_pool_t *p, const char *server,
                                      const apr_array_header_t *names, apr_time_t now)
{
    json_t *have = NULL, *doc, *servers, *entry, *list;
    apr_status_t rv;
    int i, changed;

    if (acme_store_read_json_pooled(store, p, ACME_STORE_CONFIGURED, &have) != APR_SUCCESS) {
        have = NULL;
    }
    servers = servers_kept(have, server, &changed);
    entry = json_object_get(servers, server);
    if (entry && same_names(entry, names) && !changed) {
        json_decref(servers);
        return APR_SUCCESS;
    }
    if (!entry || !same_names(entry, names)) {
        list = json_array();
        for (i = 0; i < names->nelts; ++i) {
            json_array_append_new(list, json_string(APR_ARRAY_IDX(names, i, const char *)));
        }
        json_object_set_new(servers, server, json_pack("{s:o, s:s}", "names", list, "since",
                                                       acme_time_rfc3339(p, now)));
    }
    doc = json_pack("{s:o}", "servers", servers);
    if (!doc) {
        return APR_ENOMEM;
    }
    summarize(doc, p);
    rv = acme_store_write_json(store, p, ACME_STORE_CONFIGURED, doc, ACME_STORE_FILE_PERMS);
    json_decref(doc);
    return rv;
}

apr_status_t acme_store_configured_write(acme_store_t *store, apr_pool_t *p, const char *server,
                                         const apr_array_header_t *names, apr_time_t now)
{
    const mode_t mode = acme_store_mode_of(ACME_STORE_FILE_PERMS);
    struct stat st;
    apr_status_t rv;
    int fd;

    /* Two servers sharing the store may start together: each reads the
     * other's entry and writes it back, so neither may read in between.
     * open(2) takes a mode, not APR_FPROT_* bits (those made 03104 once). */
    fd = open(acme_store_path(store, p, ACME_STORE_CONFIGURED_LOCK),
              O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        return errno;
    }
    /* A lock file such a version left is set right (best effort: only its owner can). */
    if (fstat(fd, &st) == 0 && (st.st_mode & 07777) != mode && st.st_uid == geteuid()) {
        (void)fchmod(fd, mode);
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            rv = errno;
            close(fd);
            return rv;
        }
    }
    rv = configured_update(store, p, server, names, now);
    close(fd);
    return rv;
}

/* entry's names into names (name -> the servers configuring it, ", "
 * joined; server "" adds none), its start into *since when later. */
static void add_entry(apr_pool_t *p, apr_hash_t *names, const char *server, json_t *entry,
                      apr_time_t *since)
{
    json_t *v;
    size_t i;

    json_array_foreach(json_object_get(entry, "names"), i, v) {
        const char *name = json_string_value(v), *by;
        if (!name) {
            continue;
        }
        by = apr_hash_get(names, name, APR_HASH_KEY_STRING);
        apr_hash_set(names, apr_pstrdup(p, name), APR_HASH_KEY_STRING,
                     !*server ? (by ? by : "")
                     : by && *by ? apr_pstrcat(p, by, ", ", server, NULL)
                     : apr_pstrdup(p, server));
    }
    if (entry_since(entry) > *since) {
        *since = entry_since(entry);
    }
}

apr_status_t acme_store_configured_read(acme_store_t *store, apr_pool_t *p, apr_hash_t **names,
                                        apr_time_t *since)
{
    json_t *doc, *servers, *entry;
    const char *server;
    apr_status_t rv;

    *names = apr_hash_make(p);
    *since = 0;
    if ((rv = acme_store_read_json_pooled(store, p, ACME_STORE_CONFIGURED, &doc)) != APR_SUCCESS) {
        return rv;
    }
    servers = json_object_get(doc, "servers");
    if (!json_is_object(servers)) {
        /* the one-server layout: its names, by nobody in particular */
        if (!json_is_array(json_object_get(doc, "names"))) {
            return APR_EINVAL;
        }
        add_entry(p, *names, "", doc, since);
        return APR_SUCCESS;
    }
    json_object_foreach(servers, server, entry) {
        add_entry(p, *names, server, entry, since);
    }
    return APR_SUCCESS;
}
