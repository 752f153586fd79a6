/* dns-01 (RFC 8555 §8.4): the administrator's hook program that puts the
 * TXT record into DNS and takes it out again (AcmeDnsCmd), and the lookup
 * that checks the record is visible before the CA is asked to validate it
 * (AcmeDnsResolver). Nothing here blocks for long: the hook is a child
 * process polled by the caller, a lookup waits at most a few seconds. */
#ifndef ACME_DNS_H
#define ACME_DNS_H
#include <apr_pools.h>
#include <apr_tables.h>
#include <sys/types.h>
#include <apr_network_io.h>
#include "acme_core.h"
#include "acme_proc.h"

#define ACME_DNS_HOOK_TIMEOUT     apr_time_from_sec(60)   /* then its group is killed */
/* stdout + stderr kept: the start and the end (where a failing hook says
 * why), with acme_proc's gap mark between */
#define ACME_DNS_HOOK_OUTPUT_MAX  (ACME_PROC_OUTPUT_MAX + sizeof(ACME_PROC_ELIDED) - 1)
#define ACME_DNS_VISIBLE_TIMEOUT  apr_time_from_sec(120)  /* TXT record must show by then */
#define ACME_DNS_CHECK_INTERVAL   apr_time_from_sec(1)
#define ACME_DNS_ANSWER_MAX       8192                    /* one DNS response */
#define ACME_DNS_TXT_MAX          16                      /* TXT values kept per name */
#define ACME_DNS_HOOK_SHOWN_MAX   160     /* bytes of a hook's output acme_dns_hook_shown keeps */
/* A hook's output in its error log line (acme_dns_hook_logged): its first and
 * last bytes. httpd cuts a line at 8 KB (MAX_STRING_LEN) after escaping, where a
 * control character or a byte beyond ASCII takes 4 ("\x01"), and acme_log at
 * 2 KB before: 1.4 KB of output stays below both with room for the hook's
 * label, so the end, where a failing program says why, is never cut off. */
#define ACME_DNS_HOOK_LOGGED_HEAD 384
#define ACME_DNS_HOOK_LOGGED_TAIL 1024

/* "_acme-challenge.example.org" for "example.org" or "*.example.org". */
const char *acme_dns_record_name(apr_pool_t *p, const char *identifier);

/* AcmeDnsResolver "host[:port]" (IPv4 address or host name; port 53 by
 * default). APR_EINVAL with *why on anything else. */
apr_status_t acme_dns_resolver_parse(apr_pool_t *p, const char *spec, const char **host,
                                     apr_port_t *port, const char **why);

/* The TXT strings a DNS response holds for name, following CNAMEs in the
 * answer section; each record's strings are joined (RFC 7208 §3.3). Names
 * compare without case and without a trailing dot. APR_EINVAL when the
 * message is malformed. */
apr_status_t acme_dns_txt_parse(apr_pool_t *p, const unsigned char *msg, apr_size_t len,
                                const char *name, apr_array_header_t **values);

/* Asks resolver ("host[:port]", NULL = the system's) for the TXT records of
 * name, following CNAMEs (up to 8) also where the answer holds only the
 * CNAME: the CNAME's target is asked for next, at resolver and, when that
 * server cannot answer for it (refused, failed, a referral: the primary of
 * one zone only), at the system resolver. *target is where the chain ends
 * (name itself without a CNAME; lower case, no trailing dot), *values the
 * TXT strings there (an empty array when there are none). APR_SUCCESS with
 * *why NULL, or a note that the system resolver was asked and why, and,
 * when there is no value, what the answer said: no TXT record (NOERROR, no
 * data) or no such name (NXDOMAIN). APR_EGENERAL with *why (and *target the
 * name that could not be looked up) saying which failure it was: timed
 * out, connection refused, SERVFAIL, REFUSED, a truncated answer and no TCP,
 * a referral, a malformed answer. Waits at most a few seconds per server
 * and name asked (Pool p owns all). */
apr_status_t acme_dns_txt_resolve(apr_pool_t *p, const char *resolver, const char *name,
                                  apr_array_header_t **values, const char **target,
                                  const char **why);

/* acme_dns_txt_resolve without the target. */
apr_status_t acme_dns_txt_lookup(apr_pool_t *p, const char *resolver, const char *name,
                                 apr_array_header_t **values, const char **why);

/* One run of the hook program: "program action name value", run by
 * acme_proc (stdin from /dev/null, stdout and stderr captured together up to
 * ACME_DNS_HOOK_OUTPUT_MAX, own process group, httpd's environment), its
 * ACME_DNS_HOOK_TIMEOUT counted from now. Lives in p: destroying p kills a
 * hook still running when kill_on_cleanup is set, else leaves it to finish
 * alone. APR_SUCCESS, or why it could not be started (also in the result). */
typedef struct acme_dns_hook_t acme_dns_hook_t;

apr_status_t acme_dns_hook_start(acme_dns_hook_t **hook, apr_pool_t *p, const char *program,
                                 const char *action, const char *name, const char *value,
                                 const char *delegated_from, apr_time_t now, int kill_on_cleanup);
/* APR_EAGAIN while it runs; APR_SUCCESS when it exited 0; APR_EGENERAL when
 * it failed (exit code or signal in the description); APR_TIMEUP when it
 * ran ACME_DNS_HOOK_TIMEOUT (by now) and its group was killed (blocks up to
 * ACME_PROC_KILL_GRACE then). Reads its output as it goes. */
apr_status_t acme_dns_hook_poll(acme_dns_hook_t *hook, apr_time_t now);
/* What it printed, trimmed, "" when nothing. */
const char *acme_dns_hook_output(const acme_dns_hook_t *hook);
/* What it printed for its log line: acme_dns_hook_output, or its start, " ... "
 * and its end when longer (ACME_DNS_HOOK_LOGGED_HEAD and _TAIL bytes, whole
 * characters). Lives as long as the hook. */
const char *acme_dns_hook_logged(const acme_dns_hook_t *hook);
/* "AcmeDnsCmd /path setup NAME" for messages; the value is not secret but
 * long: a path longer than ACME_DNS_HOOK_LABEL_PATH bytes is given by its
 * two ends (acme_text_ends). Lives as long as the hook. */
#define ACME_DNS_HOOK_LABEL_PATH 192
const char *acme_dns_hook_label(const acme_dns_hook_t *hook);
/* "AcmeDnsCmd setup NAME", the label without the program's path: for the
 * status record. Lives as long as the hook. */
const char *acme_dns_hook_shown_label(const acme_dns_hook_t *hook);
/* How it ended, for the status record (the status page, acmectl show), where
 * no path of the server is shown: "AcmeDnsCmd setup NAME exited with 3:
 * LINE", the label without the program's path; LINE the last non-empty line
 * of its output (where a program says why it failed), each word holding a
 * '/' (a path, a URL) given as "[path]", one shaped like a TSIG key
 * (alg:name:secret) as "[key]", a byte that starts no well-formed UTF-8
 * character or starts a control (C0, C1, bidirectional) as '?', cut to
 * ACME_DNS_HOOK_SHOWN_MAX bytes on a character boundary; no ": LINE" when it
 * printed nothing. The output kept (acme_dns_hook_output) is the error
 * log's. Allocated from p. */
const char *acme_dns_hook_shown(const acme_dns_hook_t *hook, apr_pool_t *p);
/* How it ended: "exited with 3", "killed by signal 9", "timed out after 60 s". */
const char *acme_dns_hook_result(const acme_dns_hook_t *hook);
apr_time_t acme_dns_hook_started(const acme_dns_hook_t *hook);
/* Its process id, 0 when it could not be started. */
pid_t acme_dns_hook_pid(const acme_dns_hook_t *hook);
/* The pool it was started in. */
apr_pool_t *acme_dns_hook_pool(const acme_dns_hook_t *hook);
/* Stops it, when it still runs: its group gets SIGTERM, then SIGKILL
 * (acme_proc_kill: blocks up to ACME_PROC_KILL_GRACE); it is reaped. */
void acme_dns_hook_stop(acme_dns_hook_t *hook);
/* Its group gets SIGTERM when it still runs; returns at once (stop it with
 * acme_dns_hook_stop_until). */
void acme_dns_hook_terminate(acme_dns_hook_t *hook);
/* acme_dns_hook_stop with the grace ending at until (apr_time_now's clock):
 * hooks sent SIGTERM together (acme_dns_hook_terminate) share one grace;
 * until already past kills it at once. Blocks until then at most. */
void acme_dns_hook_stop_until(acme_dns_hook_t *hook, apr_time_t until);

#endif
