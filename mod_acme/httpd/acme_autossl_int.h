/* Shared by the files that edit the configuration tree before pre_config
 * ends (acme_autossl.c, acme_autossl_tree.c, acme_autossl_auto.c,
 * acme_autossl_redirects.c; acme_autossl_report.c reads address words):
 * a <VirtualHost> as read from the tree, and the tree helpers. Everything is
 * allocated from the pool passed in (pconf); nothing here is used after
 * pre_config except through acme_autossl_t (acme_config.h). */
#ifndef ACME_AUTOSSL_INT_H
#define ACME_AUTOSSL_INT_H

#include <apr_tables.h>
#include <http_config.h>

#include "acme_config.h"
#include "acme_private.h"

/* A <VirtualHost> of the tree, as far as the autossl files need it. */
typedef struct acme_autossl_vhost_t {
    ap_directive_t *node;          /* the <VirtualHost> node */
    apr_array_header_t *names;     /* ServerName, then ServerAlias words (const char*) */
    apr_array_header_t *domains;   /* its AcmeDomain children (ap_directive_t*) */
    int named;                     /* it has a ServerName of its own */
    int ssl;                       /* on the https port, or SSLEngine on */
    int plain;                     /* every address on the http port (or on no port:
                                    * any), no SSLEngine on */
    const ap_directive_t *auto_added;  /* the AcmeDomain AcmeAutoDomains added, or NULL */
    const ap_directive_t *site;    /* plain vhost: the AcmeDomain AcmeAutoDomains added to an
                                    * SSL vhost of the same site that holds its names, or NULL */
} acme_autossl_vhost_t;

/* ---- acme_autossl_tree.c: reading (acme_autossl_tree_is and _where: acme_private.h) ---- */
/* The words of a directive's arguments (const char*, from p); a section's
 * trailing '>' is dropped. */
apr_array_header_t *acme_autossl_tree_words(apr_pool_t *p, const char *args);
/* Where the port of "addr:port" ([v6]:port, *:port, _default_:port) starts,
 * a pointer into word, or NULL when it names none. */
const char *acme_autossl_tree_port(const char *word);
/* The address of "addr:port" without its port (word itself when it names
 * none), from p. */
const char *acme_autossl_tree_addr_host(apr_pool_t *p, const char *word);
/* ServerName's host: without scheme and port, lowercase, from p. */
const char *acme_autossl_tree_host(apr_pool_t *p, const char *arg);
/* The <VirtualHost> node read: its names (ServerName first), its AcmeDomain
 * children, whether it is SSL or plain http (ports as AcmePortMap says; an
 * address without a port, <VirtualHost *>, answers on every port, the http
 * port included). What it keeps from p (pconf); the words it reads from
 * scratch, which may go when it returns. */
acme_autossl_vhost_t *acme_autossl_tree_vhost(apr_pool_t *p, apr_pool_t *scratch,
                                              ap_directive_t *node, int http_port, int https_port);
/* 1 when v has name as ServerName or ServerAlias, or a wildcard alias matches it. */
int acme_autossl_tree_has_name(const acme_autossl_vhost_t *v, const char *name);

/* 1 when an SSL vhost of vhosts (acme_autossl_vhost_t*) has name. */
int acme_autossl_tree_served_by_ssl(const apr_array_header_t *vhosts, const char *name);
/* The names an AcmeDomain node d stands for (const char*, from p): its
 * words, else (no words) the names of its vhost v. */
apr_array_header_t *acme_autossl_tree_domain_names(apr_pool_t *p, const ap_directive_t *d,
                                                   const acme_autossl_vhost_t *v);
/* 1 when a name or wildcard of patterns (const char*) covers name
 * (acme_name_covers: "*.example.org" covers one label more). */
int acme_autossl_tree_list_covers(const apr_array_header_t *patterns, const char *name);
/* 1 when list (const char*) holds name, case-insensitively. */
int acme_autossl_tree_in_list(const apr_array_header_t *list, const char *name);

/* ---- acme_autossl_tree.c: editing ---- */
/* A new node (from p) under parent, with at's file and line. */
ap_directive_t *acme_autossl_tree_node(apr_pool_t *p, const char *directive, const char *args,
                                       ap_directive_t *parent, const ap_directive_t *at);
/* A deep copy (from p) of the sibling list src and everything below it, under parent. */
ap_directive_t *acme_autossl_tree_clone(apr_pool_t *p, const ap_directive_t *src,
                                        ap_directive_t *parent);
/* Unlinks child from parent's children (nothing when it is not there). */
void acme_autossl_tree_remove(ap_directive_t *parent, const ap_directive_t *child);
/* Links child as parent's last child. */
void acme_autossl_tree_append_child(ap_directive_t *parent, ap_directive_t *child);
/* Links node after the last top-level node of ap_conftree. */
void acme_autossl_tree_append(ap_directive_t *node);

/* ---- acme_autossl_auto.c ---- */
/* AcmeAutoDomains on: adds "AcmeDomain <names>" to the vhosts (their nodes
 * and v->domains), sets v->auto_added and v->site, counts plan->auto_added,
 * records skipped names and 'except' names no vhost has in plan.
 * top_domains: the server-level AcmeDomain nodes; except: normalized names. */
void acme_autossl_auto_domains(apr_pool_t *p, acme_autossl_t *plan, apr_array_header_t *vhosts,
                               const apr_array_header_t *top_domains,
                               const apr_array_header_t *except);
/* Records that name of v gets no certificate, and why (once per vhost and
 * name), and that a TLS handshake for it is to be refused where no SSL vhost
 * serves it (not for localhost and address literals). */
void acme_autossl_auto_skip(apr_pool_t *p, acme_autossl_t *plan, const acme_autossl_vhost_t *v,
                            const char *name, const char *why);

/* ---- acme_autossl_redirects.c ---- */
/* Removes from the twin's subtree below parent (at any depth) the redirects
 * to https on a name of v or on the request's own host, with a RewriteRule's
 * RewriteCond lines; each removed one is added to plan->unlooped. */
void acme_autossl_redirects_drop(apr_pool_t *p, acme_autossl_t *plan,
                                 const acme_autossl_vhost_t *v, ap_directive_t *parent);

#endif
