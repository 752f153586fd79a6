/* AcmeCluster's values: the URL, the key file, the trust anchors, and the
 * cluster handle made of them. Pure functions of their arguments and files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <openssl/evp.h>

#include "acme_cluster.h"

#define URL_EXAMPLES "e.g. 'AcmeCluster redis://:secret@10.0.0.5:6379/0', " \
                     "'AcmeCluster rediss://redis.example.org:6380' or " \
                     "'AcmeCluster redis-sentinel://10.0.0.5:26379,10.0.0.6:26379/mymaster'"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* %-decoding of user and password; NULL when a %XX is broken or decodes to NUL. */
static const char *pct_decode(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *out = apr_palloc(p, n + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        if (s[i] == '%') {
            int hi, lo;

            if (i + 2 >= n) {
                return NULL;
            }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static int parse_port(const char *s, apr_size_t n, int *port)
{
    int v = 0;
    apr_size_t i;

    if (n == 0 || n > 5) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535) {
        return 0;
    }
    *port = v;
    return 1;
}

static int host_char_ok(int c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* One host[:port] (IPv6 in brackets) of n bytes into *addr. */
static const char *parse_addr(apr_pool_t *p, const char *s, apr_size_t n, int default_port,
                              acme_cluster_addr_t *addr)
{
    const char *host = s, *colon = NULL;
    apr_size_t hlen = n, i;

    addr->port = default_port;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close == s + 1) {
            return "an IPv6 address needs its closing bracket, e.g. [2001:db8::5]:6379";
        }
        host = s + 1;
        hlen = (apr_size_t)(close - host);
        for (i = 0; i < hlen; ++i) {
            if (!apr_isxdigit(host[i]) && host[i] != ':' && host[i] != '.') {
                return "the bracketed IPv6 address has characters no address has";
            }
        }
        if (close + 1 < s + n) {
            if (close[1] != ':') {
                return "after ']' only ':port' may follow";
            }
            colon = close + 1;
        }
    }
    else {
        colon = memchr(s, ':', n);
        hlen = colon ? (apr_size_t)(colon - s) : n;
        if (hlen == 0) {
            return "the host is missing";
        }
        for (i = 0; i < hlen; ++i) {
            if (!host_char_ok(host[i])) {
                return apr_psprintf(p, "the host '%.*s' has a character a host name cannot "
                                    "have", (int)hlen, host);
            }
        }
    }
    if (colon && !parse_port(colon + 1, (apr_size_t)(s + n - colon - 1), &addr->port)) {
        return apr_psprintf(p, "the port '%.*s' is not a number from 1 to 65535",
                            (int)(s + n - colon - 1), colon + 1);
    }
    addr->host = apr_pstrmemdup(p, host, hlen);
    return NULL;
}

static const char *parse_userinfo(apr_pool_t *p, const char *s, apr_size_t n,
                                  acme_cluster_url_t *u)
{
    const char *colon = memchr(s, ':', n);

    if (!colon) {
        return "credentials are written user:password@ or :password@ (the password alone)";
    }
    if (colon > s && !(u->user = pct_decode(p, s, (apr_size_t)(colon - s)))) {
        return "the user name has a broken %-escape";
    }
    if (!(u->password = pct_decode(p, colon + 1, (apr_size_t)(s + n - colon - 1)))) {
        return "the password has a broken %-escape (write '%' as %25, '@' as %40)";
    }
    if (!*u->password) {
        u->password = NULL;
    }
    return NULL;
}

static const char *parse_db(const char *s, int *db)
{
    int v = 0, i;

    for (i = 0; s[i]; ++i) {
        if (!apr_isdigit(s[i]) || i >= 5) {
            return "the database after '/' must be a number (0 = the default)";
        }
        v = v * 10 + (s[i] - '0');
    }
    *db = v;
    return NULL;
}

static const char *parse_hosts(apr_pool_t *p, const char *s, apr_size_t n, acme_cluster_url_t *u)
{
    int default_port = u->scheme == ACME_CLUSTER_SENTINEL ? ACME_CLUSTER_SENTINEL_PORT
                                                          : ACME_CLUSTER_DEFAULT_PORT;
    const char *end = s + n, *err;

    u->hosts = apr_array_make(p, 2, sizeof(acme_cluster_addr_t));
    while (s < end) {
        const char *comma = memchr(s, ',', (apr_size_t)(end - s));
        const char *stop = comma ? comma : end;
        acme_cluster_addr_t *addr;

        if (u->scheme != ACME_CLUSTER_SENTINEL && comma) {
            return "only redis-sentinel:// lists several hosts (separated by ',')";
        }
        if (u->hosts->nelts >= ACME_CLUSTER_MAX_HOSTS) {
            return apr_psprintf(p, "at most %d sentinels can be listed", ACME_CLUSTER_MAX_HOSTS);
        }
        addr = &APR_ARRAY_PUSH(u->hosts, acme_cluster_addr_t);
        if ((err = parse_addr(p, s, (apr_size_t)(stop - s), default_port, addr))) {
            return err;
        }
        s = comma ? comma + 1 : end;
    }
    return u->hosts->nelts ? NULL : "the host is missing";
}

static const char *parse_path(apr_pool_t *p, const char *path, acme_cluster_url_t *u)
{
    const char *slash;

    if (u->scheme != ACME_CLUSTER_SENTINEL) {
        return *path ? parse_db(path, &u->db) : NULL;
    }
    if (!*path) {
        return "redis-sentinel:// needs the master's name after the hosts, e.g. /mymaster";
    }
    slash = strchr(path, '/');
    u->master = slash ? apr_pstrmemdup(p, path, (apr_size_t)(slash - path))
                      : apr_pstrdup(p, path);
    if (!*u->master || strspn(u->master, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789-_.") != strlen(u->master)) {
        return "the master's name may have letters, digits, '-', '_' and '.'";
    }
    return slash ? parse_db(slash + 1, &u->db) : NULL;
}

const char *acme_cluster_parse_url(apr_pool_t *p, const char *text, acme_cluster_url_t **url)
{
    acme_cluster_url_t *u = apr_pcalloc(p, sizeof(*u));
    const char *rest, *at, *slash, *err = NULL;
    apr_size_t auth_len;

    if (!text || !*text) {
        err = "the URL is empty";
    }
    else if (!strncasecmp(text, "redis://", 8)) {
        u->scheme = ACME_CLUSTER_REDIS;
        rest = text + 8;
    }
    else if (!strncasecmp(text, "rediss://", 9)) {
        u->scheme = ACME_CLUSTER_REDISS;
        rest = text + 9;
    }
    else if (!strncasecmp(text, "redis-sentinel://", 17)) {
        u->scheme = ACME_CLUSTER_SENTINEL;
        rest = text + 17;
    }
    else {
        err = "the URL must start with redis://, rediss:// (TLS) or redis-sentinel://";
    }
    if (!err) {
        slash = strchr(rest, '/');
        auth_len = slash ? (apr_size_t)(slash - rest) : strlen(rest);
        at = memrchr(rest, '@', auth_len); /* a password may hold a plain @ */
        if (at && (err = parse_userinfo(p, rest, (apr_size_t)(at - rest), u)) == NULL) {
            auth_len -= (apr_size_t)(at + 1 - rest);
            rest = at + 1;
        }
        if (!err && !(err = parse_hosts(p, rest, auth_len, u))) {
            err = parse_path(p, slash ? slash + 1 : "", u);
        }
    }
    if (err) {
        return apr_psprintf(p, "%s; write " URL_EXAMPLES, err);
    }
    *url = u;
    return NULL;
}

const char *acme_cluster_url_mask(apr_pool_t *p, const char *text)
{
    const char *rest, *at, *colon;

    if (!text) {
        return "";
    }
    rest = strstr(text, "://");
    if (rest) {
        rest += 3;
    }
    else {
        /* A mistyped separator ("redis:/:pw@h") stays visible: only what
         * follows the scheme and its slashes can be a password. */
        apr_size_t n = strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-.");

        rest = n > 0 && text[n] == ':' ? text + n + 1 : text;
        rest += strspn(rest, "/");
    }
    /* The last '@' anywhere: a password with a '/' must not leak either. */
    if (!(at = strrchr(rest, '@'))) {
        return text;
    }
    colon = memchr(rest, ':', (apr_size_t)(at - rest));
    rest = colon ? colon + 1 : rest;
    return apr_psprintf(p, "%.*s***%s", (int)(rest - text), text, at);
}

const char *acme_cluster_url_show(apr_pool_t *p, const acme_cluster_url_t *u)
{
    static const char *const schemes[] = { "", "redis", "rediss", "redis-sentinel" };
    const char *hosts = "";
    int i;

    for (i = 0; i < u->hosts->nelts; ++i) {
        const acme_cluster_addr_t *a = &APR_ARRAY_IDX(u->hosts, i, acme_cluster_addr_t);
        int v6 = strchr(a->host, ':') != NULL;

        hosts = apr_psprintf(p, "%s%s%s%s%s:%d", hosts, i ? "," : "", v6 ? "[" : "", a->host,
                             v6 ? "]" : "", a->port);
    }
    return apr_psprintf(p, "%s://%s%s%s%s%s%s%s", schemes[u->scheme],
                        u->user ? u->user : "", u->password ? ":***" : "",
                        (u->user || u->password) ? "@" : "", hosts,
                        u->master ? "/" : "", u->master ? u->master : "",
                        u->db ? apr_psprintf(p, "/%d", u->db) : "");
}

const char *acme_cluster_read_key(apr_pool_t *p, const char *path,
                                  unsigned char key[ACME_CLUSTER_KEY_LEN])
{
    static const char fix[] = "make one on one node with 'head -c 32 /dev/urandom > FILE; "
                              "chmod 600 FILE' and copy it to every node";
    unsigned char buf[ACME_CLUSTER_KEY_LEN + 1];
    struct stat st;
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return apr_psprintf(p, "cannot open AcmeClusterKeyFile %s (%s); %s", path,
                            strerror(errno), fix);
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return apr_psprintf(p, "AcmeClusterKeyFile %s is not a regular file; %s", path, fix);
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return apr_psprintf(p, "AcmeClusterKeyFile %s has mode %04o: it holds the key that "
                            "protects every private key in Redis, so only its owner may read "
                            "it; run 'chmod 600 %s'", path, (unsigned)(st.st_mode & 07777), path);
    }
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n != ACME_CLUSTER_KEY_LEN || st.st_size != ACME_CLUSTER_KEY_LEN) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return apr_psprintf(p, "AcmeClusterKeyFile %s holds %ld bytes, not exactly %d (a "
                            "trailing newline counts); %s", path, (long)st.st_size,
                            ACME_CLUSTER_KEY_LEN, fix);
    }
    if (key) {
        memcpy(key, buf, ACME_CLUSTER_KEY_LEN);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return NULL;
}

/* Who may replace files in directory st: its owner, and with group or
 * world write permission and no sticky bit (restricted deletion) anyone in
 * its group or anyone. NULL when only owner (or root) can, else why. */
static const char *dir_writable(apr_pool_t *p, const char *dir, const struct stat *st,
                                uid_t owner, const char *owner_name)
{
    if (st->st_uid != owner && st->st_uid != 0) {
        return apr_psprintf(p, "its directory %s is owned by uid %ld, who can replace the "
                            "key file (rename another file over it); run 'chown %s %s' or "
                            "move the key file into a directory only %s can write, e.g. "
                            "/etc/apache2", dir, (long)st->st_uid, owner_name, dir, owner_name);
    }
    if ((st->st_mode & S_IWOTH || (st->st_mode & S_IWGRP && st->st_gid != 0))
        && !(st->st_mode & S_ISVTX)) {
        return apr_psprintf(p, "its directory %s has mode %04o: %s can replace the key file "
                            "(rename another file over it); run 'chmod go-w %s' or move the "
                            "key file into a directory only %s can write, e.g. /etc/apache2",
                            dir, (unsigned)(st->st_mode & 07777),
                            st->st_mode & S_IWOTH ? "every user" : "every user of its group",
                            dir, owner_name);
    }
    return NULL;
}

const char *acme_cluster_check_key_custody(apr_pool_t *p, const char *path, uid_t owner,
                                           const char *owner_name, uid_t child_uid,
                                           const char *child_user)
{
    char real[PATH_MAX], *slash;
    struct stat st;
    const char *why;

    if (lstat(path, &st) != 0 || !realpath(path, real)) {
        return apr_psprintf(p, "cannot look at AcmeClusterKeyFile %s (%s)", path,
                            strerror(errno));
    }
    if (st.st_uid != owner) {
        if (child_user && st.st_uid == child_uid) {
            return apr_psprintf(p, "AcmeClusterKeyFile %s is owned by %s, the User httpd's "
                                "children (and the site's scripts) run as: they could read "
                                "it, and it opens every private key in Redis; run 'chown "
                                "%s %s' (mode 0600 stays)", path, child_user, owner_name,
                                path);
        }
        return apr_psprintf(p, "AcmeClusterKeyFile %s is owned by uid %ld, not by %s, who "
                            "starts httpd: its owner can read or replace the key; run 'chown "
                            "%s %s'", path, (long)st.st_uid, owner_name, owner_name, path);
    }
    /* Every directory above it: whoever can write one can swap what is below. */
    while ((slash = strrchr(real, '/')) != NULL) {
        if (slash == real) {
            slash[1] = '\0';
        }
        else {
            *slash = '\0';
        }
        if (stat(real, &st) != 0) {
            return apr_psprintf(p, "cannot look at %s, the directory of AcmeClusterKeyFile %s "
                                "(%s)", real, path, strerror(errno));
        }
        if ((why = dir_writable(p, real, &st, owner, owner_name)) != NULL) {
            return apr_psprintf(p, "AcmeClusterKeyFile %s: %s", path, why);
        }
        if (slash == real) {
            break;
        }
    }
    return NULL;
}

const char *acme_cluster_check_ca_file(apr_pool_t *p, const char *path)
{
    char buf[16 * 1024 + 1];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return apr_psprintf(p, "cannot read AcmeClusterCACertificateFile %s (%s); point it "
                            "at a PEM file with the certificate of the CA that signed Redis' "
                            "TLS certificate", path, strerror(errno));
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    if (!strstr(buf, "-----BEGIN CERTIFICATE-----")) {
        return apr_psprintf(p, "AcmeClusterCACertificateFile %s holds no PEM certificate; "
                            "point it at the CA certificate that signed Redis' TLS "
                            "certificate", path);
    }
    return NULL;
}

/* The id of key (id, and as hex from p): SHA-256 of a label and the key,
 * its first ACME_CLUSTER_KEY_ID_LEN bytes; names the key, reveals nothing. */
static const char *key_id(const unsigned char *key, unsigned char *id, apr_pool_t *p)
{
    static const char label[] = "mod_acme cluster key id";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
    char *hex = apr_palloc(p, 2 * ACME_CLUSTER_KEY_ID_LEN + 1);
    int i;

    memset(md, 0, sizeof(md));
    if (md_ctx) {
        EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL);
        EVP_DigestUpdate(md_ctx, label, sizeof(label));
        EVP_DigestUpdate(md_ctx, key, ACME_CLUSTER_KEY_LEN);
        EVP_DigestFinal_ex(md_ctx, md, &mdlen);
        EVP_MD_CTX_free(md_ctx);
    }
    memcpy(id, md, ACME_CLUSTER_KEY_ID_LEN);
    for (i = 0; i < ACME_CLUSTER_KEY_ID_LEN; ++i) {
        apr_snprintf(hex + 2 * i, 3, "%02x", id[i]);
    }
    return hex;
}

static apr_status_t wipe_key(void *data)
{
    acme_cluster_t *c = data;

    OPENSSL_cleanse(c->key, sizeof(c->key));
    OPENSSL_cleanse(c->previous, sizeof(c->previous));
    return APR_SUCCESS;
}

apr_status_t acme_cluster_create(acme_cluster_t **cluster, apr_pool_t *p, const char *url_text,
                                 const char *key_file, const char *ca_file, const char *node,
                                 const char **why)
{
    acme_cluster_t *c = apr_pcalloc(p, sizeof(*c));
    char host[256];

    if ((*why = acme_cluster_parse_url(p, url_text, &c->url))) {
        return APR_EINVAL;
    }
    if (!key_file) {
        *why = "AcmeCluster needs AcmeClusterKeyFile: the key that seals private keys in "
               "Redis; make it with 'head -c 32 /dev/urandom > FILE; chmod 600 FILE' and "
               "copy it to every node";
        return APR_EINVAL;
    }
    if ((*why = acme_cluster_read_key(p, key_file, c->key))) {
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, c, wipe_key, apr_pool_cleanup_null);
    if (ca_file && (*why = acme_cluster_check_ca_file(p, ca_file))) {
        return APR_EINVAL;
    }
    c->key_id_hex = key_id(c->key, c->key_id, p);
    c->ca_file = ca_file;
    c->key_file = apr_pstrdup(p, key_file);
    if (!node) {
        if (gethostname(host, sizeof(host)) != 0) {
            apr_cpystrn(host, "node", sizeof(host));
        }
        host[sizeof(host) - 1] = '\0';
        node = host;
    }
    c->node = apr_pstrdup(p, node);
    c->timeout = apr_time_from_sec(2);
    *cluster = c;
    return APR_SUCCESS;
}

apr_status_t acme_cluster_set_previous(acme_cluster_t *c, apr_pool_t *p, const char *key_file,
                                       const char **why)
{
    if ((*why = acme_cluster_read_key(p, key_file, c->previous))) {
        return APR_EINVAL;
    }
    c->previous_id_hex = key_id(c->previous, c->previous_id, p);
    if (!memcmp(c->previous_id, c->key_id, ACME_CLUSTER_KEY_ID_LEN)) {
        *why = apr_psprintf(p, "AcmeClusterKeyFile %s and %s hold the same key; the second "
                            "file names the key being replaced: write 'AcmeClusterKeyFile NEW "
                            "OLD' with the new key first, or only one file", c->key_file,
                            key_file);
        return APR_EINVAL;
    }
    c->previous_file = apr_pstrdup(p, key_file);
    c->has_previous = 1;
    return APR_SUCCESS;
}

const char *acme_cluster_key(apr_pool_t *p, const char *kind, const char *id)
{
    return apr_pstrcat(p, ACME_CLUSTER_PREFIX, kind, ":", id, NULL);
}
