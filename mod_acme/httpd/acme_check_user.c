/* What the issuing child needs, checked at configtest as the identity it
 * runs as (the server's User): AcmeCACertificateFile and
 * AcmeClusterCACertificateFile readable, the AcmeDnsCmd hook executable, the
 * store reachable and its child areas writable. Root passes every such check,
 * so a configuration test run by root alone misses what fails in the child
 * at every attempt ("error setting certificate file").
 *
 * The answers come from the kernel: a child is forked, drops to the User
 * (supplementary groups, group, user: what mod_unixd does for the server's
 * children) and asks access(2) for each path, so modes, groups, ACLs and
 * read-only mounts all count. Everything it needs is prepared before the
 * fork and it makes only system calls until _exit, as the parent may have
 * threads at a restart.
 *
 * On Linux the child shares the parent's memory (clone with CLONE_VM and
 * CLONE_VFORK: the parent waits until it exits). A fork() copied the page
 * tables of a configuration of 10,000 vhosts and made every later write to
 * each of its pages a fault: about a tenth of the whole configuration test. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#endif
#include <apr_strings.h>
#include <apr_user.h>
#include <http_core.h>
#include <http_main.h>
#include <http_log.h>
#include <unixd.h>

#include "acme_private.h"
#include "acme_config.h"
#include "acme_access.h"
#include "acme_store_paths.h"

#define MAX_GROUPS 256

/* One path to ask about, and what to say when the answer is no. */
typedef struct {
    const char *path;
    int mode;                 /* for acme_access_probe */
    int missing_ok;           /* ENOENT is fine: root creates it (the store) */
    const char *tag_where;    /* "ACME005nn: file:line: Directive" */
    const char *need;         /* why the child needs it */
} probe_t;

/* What the forked child sends back per probe. */
typedef struct {
    int err;
    apr_size_t blocked;
} answer_t;

/* The identity the children run as. */
typedef struct {
    uid_t uid;
    gid_t gid;
    gid_t groups[MAX_GROUPS];
    int ngroups;
    int drop;                 /* root: switch to uid/gid first; else check as we are */
} identity_t;

static void identity_get(apr_pool_t *p, identity_t *id)
{
    const char *name = ap_unixd_config.user_name;
    char *resolved = NULL;

    memset(id, 0, sizeof(*id));
    id->drop = geteuid() == 0;
    id->uid = id->drop ? ap_unixd_config.user_id : geteuid();
    id->gid = id->drop ? ap_unixd_config.group_id : getegid();
    id->groups[0] = id->gid;
    id->ngroups = 1;
    if (!id->drop) {
        return;
    }
    /* "User #33" names no user: its groups are those of the uid's name. */
    if ((!name || name[0] == '#')
        && apr_uid_name_get(&resolved, (apr_uid_t)id->uid, p) == APR_SUCCESS) {
        name = resolved;
    }
    id->ngroups = MAX_GROUPS;
    if (!name || name[0] == '#'
        || getgrouplist(name, id->gid, id->groups, &id->ngroups) < 0) {
        id->groups[0] = id->gid;
        id->ngroups = 1;
    }
}

/* The forked child: becomes the User, answers, exits. System calls only. */
static void child_probe(const identity_t *id, const probe_t *probes, int n, int fd)
{
    int i;

    if (id->drop && (setgroups((size_t)id->ngroups, id->groups) != 0 || setgid(id->gid) != 0
                     || setuid(id->uid) != 0)) {
        _exit(2);
    }
    for (i = 0; i < n; ++i) {
        answer_t a;
        const char *buf = (const char *)&a;
        apr_size_t left = sizeof(a);

        memset(&a, 0, sizeof(a));
        a.err = acme_access_probe(probes[i].path, probes[i].mode, &a.blocked);
        while (left) {
            ssize_t w = write(fd, buf, left);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                _exit(3);
            }
            buf += w;
            left -= (apr_size_t)w;
        }
    }
    _exit(0);
}

#ifdef __linux__
#define VM_CHILD_STACK (128 * 1024)

typedef struct {
    const identity_t *id;
    const probe_t *probes;
    int n;
    answer_t *answers;
} vm_child_t;

/* The child that shares the parent's memory: it writes the answers straight
 * into the parent's array (the parent waits meanwhile) and returns its exit
 * status. Raw system calls for the identity: glibc's setuid() would also
 * signal the threads it believes this process has, which are the parent's. */
static int vm_child(void *data)
{
    const vm_child_t *c = data;
    const identity_t *id = c->id;
    int i;

#if defined(SYS_setresuid32)
    if (id->drop && (syscall(SYS_setgroups32, (long)id->ngroups, id->groups) != 0
                     || syscall(SYS_setresgid32, id->gid, id->gid, id->gid) != 0
                     || syscall(SYS_setresuid32, id->uid, id->uid, id->uid) != 0)) {
        return 2;
    }
#else
    if (id->drop && (syscall(SYS_setgroups, (long)id->ngroups, id->groups) != 0
                     || syscall(SYS_setresgid, id->gid, id->gid, id->gid) != 0
                     || syscall(SYS_setresuid, id->uid, id->uid, id->uid) != 0)) {
        return 2;
    }
#endif
    for (i = 0; i < c->n; ++i) {
        c->answers[i].err = acme_access_probe(c->probes[i].path, c->probes[i].mode,
                                              &c->answers[i].blocked);
    }
    return 0;
}

/* run_probes without copying the address space. APR_ENOTIMPL when clone is
 * refused (a seccomp filter, say): the caller forks instead. */
static apr_status_t run_probes_vm(apr_pool_t *p, const identity_t *id, const probe_t *probes,
                                  int n, answer_t *answers)
{
    vm_child_t c = { id, probes, n, answers };
    char *stack = apr_palloc(p, VM_CHILD_STACK);
    int status = 0;
    pid_t pid;

    /* the stack grows down on every architecture Debian builds httpd for */
    pid = clone(vm_child, stack + VM_CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
    if (pid < 0) {
        return APR_ENOTIMPL;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return WIFEXITED(status) && WEXITSTATUS(status) == 2 ? APR_FROM_OS_ERROR(EPERM)
                                                             : APR_EGENERAL;
    }
    return APR_SUCCESS;
}
#endif

/* Runs the probes as id; answers[i] for probes[i]. APR_SUCCESS, or why no
 * answer came (fork, pipe, the child could not become the User). */
static apr_status_t run_probes(apr_pool_t *p, const identity_t *id, const probe_t *probes,
                               int n, answer_t *answers)
{
    apr_size_t want = (apr_size_t)n * sizeof(answer_t), got = 0;
    int fds[2], status = 0;
    pid_t pid;

#ifdef __linux__
    apr_status_t rv = run_probes_vm(p, id, probes, n, answers);
    if (rv != APR_ENOTIMPL) {
        return rv;
    }
#else
    (void)p;
#endif
    if (pipe(fds) != 0) {
        return errno;
    }
    pid = fork();
    if (pid < 0) {
        apr_status_t rv = errno;
        close(fds[0]);
        close(fds[1]);
        return rv;
    }
    if (pid == 0) {
        close(fds[0]);
        child_probe(id, probes, n, fds[1]);
    }
    close(fds[1]);
    while (got < want) {
        ssize_t r = read(fds[0], (char *)answers + got, want - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (apr_size_t)r;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got < want) {
        return WIFEXITED(status) && WEXITSTATUS(status) == 2 ? APR_FROM_OS_ERROR(EPERM) : APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* At configtest a problem fails the test (STARTUP: printed as is on stderr,
 * whatever LogLevel says); at a start it is an error in the log, and the
 * server starts: its sites do not depend on these files. */
static void report(server_rec *base, const char *msg)
{
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST) {
        /* logtag: from caller */
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, base, "%s", msg);
    }
    else {
        /* logtag: from caller */
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, base, "%s", msg);
    }
}

static void add_probe(apr_array_header_t *probes, const char *path, int mode, int missing_ok,
                      const char *tag_where, const char *need)
{
    probe_t *pr = apr_array_push(probes);

    pr->path = path;
    pr->mode = mode;
    pr->missing_ok = missing_ok;
    pr->tag_where = tag_where;
    pr->need = need;
}

static int uses_dns01(const acme_domain_t *d)
{
    int i;

    for (i = 0; d->dns_cmd && i < d->challenges->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(d->challenges, i, const char *), "dns-01")) {
            return 1;
        }
    }
    return 0;
}

/* A script's interpreter reads it as the User: then reading counts too. */
static int is_script(const char *path)
{
    char head[2];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    ssize_t r;

    if (fd < 0) {
        return 0;
    }
    r = read(fd, head, sizeof(head));
    close(fd);
    return r == 2 && head[0] == '#' && head[1] == '!';
}

static void add_dns_hooks(apr_pool_t *p, apr_array_header_t *probes,
                          const apr_array_header_t *domains, const apr_array_header_t *decls)
{
    apr_hash_t *seen = apr_hash_make(p);
    int i;

    for (i = 0; i < domains->nelts; ++i) {
        const acme_domain_t *d = APR_ARRAY_IDX(domains, i, const acme_domain_t *);
        const acme_domain_decl_t *decl = APR_ARRAY_IDX(decls, i, const acme_domain_decl_t *);
        const char *where = acme_config_where(decl->s, ACME_CONF_WHERE_DNS_CMD);

        if (!uses_dns01(d) || apr_hash_get(seen, d->dns_cmd, APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(seen, d->dns_cmd, APR_HASH_KEY_STRING, "");
        add_probe(probes, d->dns_cmd, X_OK | (is_script(d->dns_cmd) ? R_OK : 0), 0,
                  apr_psprintf(p, "ACME00571: %s: AcmeDnsCmd",
                               where ? where : apr_psprintf(p, "%s:%d", decl->file, decl->line)),
                  "the issuing child runs the dns-01 hook as the server's User");
    }
}

/* tag "ACME005nn: " + "file:line: AcmeStoreDir" (the first AcmeDomain's line when the
 * default store is used). */
static const char *store_where(apr_pool_t *p, server_rec *base, const char *tag,
                               const apr_array_header_t *decls)
{
    const char *where = acme_config_where(base, ACME_CONF_WHERE_STORE_DIR);
    const acme_domain_decl_t *first = APR_ARRAY_IDX(decls, 0, const acme_domain_decl_t *);

    if (where) {
        return apr_psprintf(p, "%s%s: AcmeStoreDir", tag, where);
    }
    return apr_psprintf(p, "%s%s: AcmeStoreDir (not set: the default %s)", tag,
                        apr_psprintf(p, "%s:%d", first->file, first->line),
                        acme_config_store_dir(base));
}

/* The store: the User reaches it (root makes it 0755 at start, but not the
 * directories above it), writes in its own areas where they exist already
 * (root gives them to the User at start, without changing their mode), and
 * nobody writes on a read-only mount. Problems found here without the
 * User's eyes are reported at once; *ok cleared. */
static void add_store(apr_pool_t *p, server_rec *base, const identity_t *id,
                      apr_array_header_t *probes, const apr_array_header_t *decls, int *ok)
{
    const char *store = acme_config_store_dir(base);
    const char *const *areas = acme_store_child_dir_names();
    char *existing = apr_pstrdup(p, store), *slash;
    struct statvfs vfs;
    struct stat st;
    int i;

    add_probe(probes, store, F_OK, 1, store_where(p, base, "ACME00572: ", decls),
              "the issuing child keeps its accounts, orders and status there");
    while (stat(existing, &st) < 0 && (slash = strrchr(existing, '/')) && slash != existing) {
        *slash = '\0';
    }
    if (statvfs(existing, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
        report(base, apr_psprintf(p, "%s %s: %s is on a read-only file system, where neither "
                                  "root nor the issuing child can write (fix: remount it "
                                  "read-write, or set AcmeStoreDir to a directory on a "
                                  "writable file system)",
                                  store_where(p, base, "ACME00575: ", decls), store, existing));
        *ok = 0;
        return;
    }
    for (i = 0; areas[i]; ++i) {
        const char *dir = apr_pstrcat(p, store, "/", areas[i], NULL);

        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            continue;                 /* root makes it at start */
        }
        if (st.st_uid == id->uid) {
            add_probe(probes, dir, W_OK | X_OK, 0, store_where(p, base, "ACME00573: ", decls),
                      "the issuing child writes there");
        }
        else if ((st.st_mode & (S_IWUSR | S_IXUSR)) != (S_IWUSR | S_IXUSR)) {
            report(base, apr_psprintf(p, "%s %s: %s has mode %04o: at start mod_acme gives it "
                                      "to %s, who still could not write in it (fix: chmod "
                                      "u+rwx %s)", store_where(p, base, "ACME00574: ", decls),
                                      store, dir, (unsigned)(st.st_mode & 07777),
                                      acme_access_user(p, (long)id->uid), dir));
            *ok = 0;
        }
    }
}

int acme_check_user(apr_pool_t *p, server_rec *base, const apr_array_header_t *domains,
                    const apr_array_header_t *decls)
{
    apr_array_header_t *probes = apr_array_make(p, 8, sizeof(probe_t));
    const char *ca_file = acme_config_ca_file(base), *cluster_ca, *where;
    identity_t id;
    answer_t *answers;
    apr_status_t rv;
    int i, ok = 1;

    identity_get(p, &id);
    if (ca_file) {
        where = acme_config_where(base, ACME_CONF_WHERE_CA_FILE);
        add_probe(probes, ca_file, R_OK, 0,
                  apr_psprintf(p, "ACME00570: %s: AcmeCACertificateFile", where ? where : "?"),
                  "the issuing child reads it for every connection to the CA");
    }
    cluster_ca = acme_config_cluster(base, ACME_CONF_CLUSTER_CA, &where);
    if (cluster_ca && acme_config_cluster(base, ACME_CONF_CLUSTER_URL, NULL)) {
        add_probe(probes, cluster_ca, R_OK, 0,
                  apr_psprintf(p, "ACME00576: %s: AcmeClusterCACertificateFile",
                               where ? where : "?"),
                  "the server's children read it for every connection to Redis");
    }
    add_dns_hooks(p, probes, domains, decls);
    add_store(p, base, &id, probes, decls, &ok);

    answers = apr_pcalloc(p, (apr_size_t)probes->nelts * sizeof(answer_t));
    rv = run_probes(p, &id, (const probe_t *)probes->elts, probes->nelts, answers);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, rv, base, "ACME00577: cannot "
                     "check as %s whether the issuing child can use its files (CA "
                     "certificate file, dns-01 hook, store); a problem there shows at the first "
                     "attempt instead", acme_access_user(p, (long)id.uid));
        return ok;
    }
    for (i = 0; i < probes->nelts; ++i) {
        const probe_t *pr = &APR_ARRAY_IDX(probes, i, probe_t);
        const answer_t *a = &answers[i];

        if (!a->err || (pr->missing_ok && a->err == ENOENT)) {
            continue;
        }
        report(base, apr_psprintf(p, "%s %s: %s; %s", pr->tag_where, pr->path,
                                  acme_access_explain(p, pr->path, pr->mode, a->err, a->blocked,
                                                      (long)id.uid, (long)id.gid),
                                  pr->need));
        ok = 0;
    }
    return ok || ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_CONFIG_TEST;
}
