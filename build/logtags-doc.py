#!/usr/bin/env python3
"""Writes docs/troubleshooting.md: every ACMEnnnnn message of level warning
and above (and every configtest error) found in mod_acme's sources, what it
means and what to do. Run after adding or changing such a message (build/check-docs.py, run by
`make check`, fails while the page is behind the sources):
    python3 build/logtags-doc.py"""
import glob
import os
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
LEVELS = {"APLOG_EMERG": "emerg", "APLOG_ALERT": "alert", "APLOG_CRIT": "crit",
          "APLOG_ERR": "error", "APLOG_WARNING": "warn", "ACME_LOG_ERR": "error",
          "ACME_LOG_WARN": "warn"}
CONFIG_FILES = ("acme_config.c", "acme_config_cmds.c", "acme_config_once.c", "acme_conf_parse.c",
                "acme_check.c",
                "acme_check_domains.c", "acme_config_dns.c", "acme_rootprog.c", "acme_check_user.c",
                "acme_check_seclevel.c", "acme_check_tls.c")
# Messages of the configuration files that configtest prints as warnings (the
# server works; configtest passes), also logged at each start.
CONFIG_WARNINGS = ("01620",)
# What to do, where the message itself does not say it after a ';'.
ADVICE = {
    "01619": "Each SSLOpenSSLConfCmd Certificate needs its PrivateKey after it, and each "
             "PrivateKey the certificate loaded for its key type before it. mod_acme's "
             "certificates take the slots of the vhost's key types (AcmeKeyType): a "
             "certificate of another key type, with its key, can go beside them (an RSA pair "
             "beside the default ec-p256). One of mod_acme's key type, with its key, takes the "
             "place of mod_acme's: the server works and serves it, mod_acme renews a "
             "certificate never served, and configtest warns (ACME01620). A vhost with a "
             "certificate of its own of that key type: take AcmeDomain out of it.",
    "01511": "Nothing is needed for serving: the name serves the archived version the message "
             "names and no certificate is ordered for it. domains/NAME was replaced by "
             "something mod_acme never makes there (a restore or copy that turned the link "
             "into a file, a link to a removed version or outside archive/NAME/): find out "
             "what did it, look at the entry kept aside (domains/NAME.broken-TIME), then "
             "remove it; 'acmectl check' lists what is left.",
    "01512": "Nothing is needed for serving: a new certificate is ordered and served when it "
             "arrives (the temporary one and 503 meanwhile). No version in archive/NAME/ "
             "could be served (expired, unreadable, another key or other names); look at the "
             "entry kept aside (domains/NAME.broken-TIME), then remove it.",
    "01513": "The store directory domains/ cannot be written by root (read-only file system, "
             "full disk, immutable attribute), or every name to keep the entry aside within "
             "that second is taken: fix that, move domains/NAME aside as the message says, "
             "and restart httpd; it then links the newest usable version. Meanwhile the "
             "message says what the name serves: what domains/NAME holds when it is a usable "
             "certificate and key (a copied version directory, a link to a copy elsewhere), "
             "else the previous version (ACME00637), else the temporary certificate and 503 "
             "until a new certificate arrives.",
    "01053": "The second file of AcmeClusterKeyFile is the cluster key being replaced: it must "
             "be a key file like the first (32 bytes, mode 0600) and another key; write the new "
             "key's file first, the old one second (README, Cluster, 'Changing the cluster "
             "key'), or one file only when no key is being replaced.",
    "01600": "Write the directive once in the server configuration (Debian: mind the line in "
             "mods-available/acme.conf) and once at most in each <VirtualHost>: keep the line "
             "the message's fix gives (for a list, both lines' values joined on one line, or "
             "for AcmeAutoDomains both 'except' lists joined) and remove the other one it "
             "names. A <VirtualHost>'s own line overriding the server-level one is fine.",
    "01411": "The message ends with what to change for that name: add it to the vhost's "
             "AcmeDomain, take it out of 'AcmeAutoDomains on except', or move it to an SSL "
             "<VirtualHost> of its own whose certificate holds it.",
    "01414": "The message ends with the <VirtualHost> line to write in place of the one "
             "it names (that vhost then also listens on the addresses this one has, and its "
             "twin answers the name there over https), or keep the name in one "
             "<VirtualHost> only.",
    "01415": "Add the Listen lines the message gives (one for each address it names), next "
             "to the Listen of the https port it names (Debian: ports.conf, inside "
             "<IfModule ssl_module>); or take the address out of the port-80 <VirtualHost> "
             "if https is not wanted there.",
    "00691": "Nothing to do for this start: mod_acme took the extra bits away. Find what "
             "opened the directory (a restore, a chmod -R, a deployment tool) and make it "
             "keep the store's modes (cp -p, tar -p); 'acmectl check' lists what is left.",
    "01507": "mod_acme took the write bits away. While others could write there, they could "
             "have replaced a certificate, a key or a link in it: run 'acmectl check', compare "
             "what each name serves with 'acmectl show NAME', and renew what looks wrong "
             "('acmectl renew NAME'). Find what opened the directory (a restore, a chmod -R, "
             "a deployment tool) and make it keep the store's modes (cp -p, tar -p).",
    "01508": "httpd does not start: a directory of the store that root alone must write is "
             "owned by the user the message names, who could read or replace what it holds "
             "(keys/: every private key) or plant links root writes through. mod_acme never "
             "changes an owner (that user could change it back). Find out how that user came "
             "to own it (a restore, a chown -R, a deployment tool); run the chown and chmod the "
             "message gives as root, then 'acmectl check', and renew what it names ('acmectl "
             "renew NAME'), every name if keys/ or archive/ was another user's. A start or "
             "'apachectl graceful' is refused earlier (ACME01509); this one is a graceful "
             "restart signalled with kill -USR1, which stops the server. Logged by the "
             "background walk of keys/ and archive/, it does not stop a running server.",
    "01509": "configtest fails, a start is refused, and 'apachectl graceful' or '<httpd> -k "
             "graceful' (the message names the program httpd was run as: apache2, httpd) "
             "signals nothing: the running server keeps serving. Run the chown and "
             "chmod the message gives as root, then 'acmectl check', and renew what it names "
             "('acmectl renew NAME'); then the graceful restart. A graceful restart signalled "
             "with kill -USR1 skips this check and stops the server (ACME01508).",
    "01510": "Nothing is changed by configtest, which passes: the next start or graceful "
             "restart sets the directory back and warns (ACME01507 or ACME00691). To fix it "
             "now, run the chmod to the documented mode the message gives as root; if the "
             "message says the directory was writable, run 'acmectl check' as well.",
    "00692": "Run the chmod the message gives, as root; if other users could read a key, "
             "replace its certificate with 'acmectl renew NAME'.",
    "00200": "libcurl could not start: reinstall libcurl4 (Debian) and restart Apache.",
    "00201": "Out of memory or a broken libcurl: restart Apache; check memory limits.",
    "00213": "The store could not be written: check free disk space and the store's permissions.",
    "00302": "Nothing is lost, the old certificate serves. Check disk space and the store's "
             "permissions; the staged certificate is tried again at the next restart.",
    "00314": "Nothing was imported and the store's live certificate is unchanged: check disk "
             "space and the store's permissions (run acmectl import as root), then again.",
    "00303": "The AcmeNotifyCmd event is lost; check disk space and the store's permissions.",
    "00407": "A new certificate is ordered by itself; if it happens again, run "
             "'acmectl check' to see what is wrong in the store.",
    "00408": "The status page may be out of date (acmectl list, show and check say the record "
             "is out of date while status/<name>.unsaved exists); check disk space and the "
             "store's permissions.",
    "00412": "Nothing to do unless it repeats: then check that AcmeCA still names the CA "
             "the account was made at.",
    "00424": "Read the message: it names the renewal-information problem.",
    "00427": "The AcmeNotifyCmd event is lost; check disk space and the store's permissions.",
    "00428": "The AcmeNotifyCmd event is lost; check disk space and the store's permissions.",
    "01457": "Check disk space and that accounts/<ca-id>/ in the store is the server User's; "
             "nothing else is lost.",
    "00618": "Find out why the program was killed (memory limits, OOM killer).",
    "00623": "Check the store's permissions; remove the file by hand if it stays.",
    "00624": "Something other than mod_acme wrote into the store's events/ directory: find "
             "out what, and remove the file.",
    "00627": "Check the program: it should exit with status 0.",
    "00633": "Set AcmeTrustedRootsFile to the CA's issuing root, or fix the file it names.",
    "00636": "Check what the error says: the disk has space, the store's keys/ directory is root's, "
             "mode 0700, and not immutable (`lsattr -d`; `chattr -i`); then `apachectl graceful`.",
    "00638": "Fix AcmeStoreDir as the message says.",
    "00706": "An internal error: restart Apache and report it if it repeats.",
    "00707": "Check the messages above it; restart Apache once the cause is fixed.",
    "00709": "Nothing to do unless it repeats; the messages above say what failed.",
    "00714": "Check that mod_watchdog is loaded and restart Apache.",
    "00716": "Out of memory: restart Apache; report it if it repeats.",
    "00718": "Nothing to do: the certificate goes live a little later.",
    "00731": "Out of memory: restart Apache; report it if it repeats.",
    "01451": "Change the TXT record at _validation-persist.NAME to the one the message gives "
             "(this CA's issuer domain name, this account's accounturi, policy=wildcard for a "
             "wildcard); the next attempt checks it again.",
    "01452": "Set the TXT record the message gives, once, in the zone of NAME; mod_acme "
             "looks again every 5 s and the order goes on by itself.",
    "01455": "Set (or change to) the TXT record the message gives, once, in the zone of NAME; "
             "mod_acme looks again (5 s, then up to every 5 minutes) and orders by itself "
             "once it is visible at AcmeDnsResolver. No restart is needed.",
    "00503": "Add 'AcmeChallenges dns-01' and 'AcmeDnsCmd /path/to/hook' for the wildcard name, or 'AcmeChallenges dns-persist-01' and its TXT record with policy=wildcard.",
    "00517": "Use one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096.",
    "00532": "Write 'AcmeAgreeToTerms on' at server level.",
    "00301": "What is served stays, as the message says: the live certificate when it can be "
             "served, else the temporary one (or an earlier archived version a start found "
             "usable: ACME00610, ACME00637); the message says why the staged one was refused "
             "(e.g. a chain to an untrusted root: AcmeTrustedRootsFile). A new one is ordered "
             "after the retry delay from the latest refusal, doubling with the refusals in a "
             "row of entries for the current key (at most a day, across restarts too; "
             "ACME01220); after a "
             "refusal for the vhost's OpenSSL security level none is ordered for 7 days unless "
             "the level, the key type, AcmeCA, AcmePreferredChain or AcmeProfile changes "
             "(ACME01292; docs/security.md).",
    "01220": "The server refused a staged certificate at activation, for the reason given "
             "(the status page and acmectl show it too, error kind 'refused'); its error log "
             "says more (ACME00301). Every refused chain is a certificate the CA issued for the same "
             "names, so the next order waits the usual retry delay (a minute) from the latest "
             "refusal, doubling with each such refusal in a row of entries for the name's "
             "current key (at most a day), even when orders succeed in between and across "
             "restarts (refused/NAME.json: key_count, key_at). An entry planted with another "
             "key delays nothing. Fix the cause; the next attempt is at the time given, or "
             "'acmectl renew NAME' orders now.",
    "01292": "The hold lasts 7 days from the latest refusal; then one new certificate is "
             "ordered, and a chain refused again holds 7 days more (one duplicate certificate "
             "a week at most). Lower @SECLEVEL for the vhost serving the name (SSLCipherSuite), or choose a key "
             "type (AcmeKeyType), a chain (AcmePreferredChain) or a CA (AcmeCA) whose chain meets "
             "the level, then restart httpd gracefully: the refused certificate is proven again "
             "first and goes live with no new order if it now may. 'acmectl renew NAME' orders "
             "anyway.",
    "01519": "Nothing to do: the refused certificate is proven again at this start; if it still "
             "fails (for another reason) a new one is ordered.",
    "00402": "Open the status page: its card shows the CA's error and one line of advice (port "
             "80/443 not reachable, DNS not pointing here, a CAA record, a rate limit). mod_acme "
             "retries by itself at the time given.",
    "00604": "The old certificate, if there is one, keeps serving (else the temporary one); the "
             "message says why the new one was refused and whether a new one is ordered (not "
             "after a refusal for the vhost's security level: see ACME01292).",
    "00630": "The message says why the program could not run; fix AcmeNotifyCmd.",
    "00634": "Check what the error says: the disk has space, the store's keys/ directory is root's, "
             "mode 0700, and not immutable (`lsattr -d`; `chattr -i`); then `apachectl graceful`.",
    "00637": "Nothing is lost; run 'acmectl check' to see what is wrong with the live files.",
    "00725": "Raise the shared memory limits, or use http-01 (AcmeChallenges http-01).",
    "00900": "Remove the _acme-challenge TXT record by hand if your hook did not.",
    "00410": "Check disk space and the store's permissions; an interrupted order starts over "
             "after a restart.",
    "00422": "Check disk space and the store's permissions.",
    "00426": "Nothing to do: the CA's renewal information is optional; mod_acme renews by "
             "AcmeRenewWindow meanwhile.",
    "00431": "Remove AcmeProfile, or use a CA that offers the profile.",
    "00434": "The account was deactivated (e.g. by 'acmectl account deactivate'); the message "
             "says what mod_acme does next.",
    "00610": "Nothing to do: a new certificate is ordered. 'acmectl check' shows what is wrong.",
    "00619": "Look at the program's output above the message and fix the program.",
    "00743": "Nothing is lost: the live certificate keeps serving. Find why the earlier staged "
             "certificates were refused (ACME00301 above it); then run apachectl graceful to "
             "check and activate what is staged now, or remove the refusal record the message "
             "names to end the backoff (docs/security.md).",
    "00766": "Nothing is lost: the live certificates keep serving and the test runs again by "
             "itself. Run apachectl configtest by hand: if it passes, apachectl graceful "
             "activates what is staged; the reason in the message says what the test lacked "
             "(a timeout: a very slow machine or many domains; a report that is not whole: "
             "another module stopping the test early).",
    "00767": "Nothing to do if the name was taken out of the configuration; else apachectl "
             "graceful checks and activates what is staged.",
    "00702": "Read the messages above it; a new certificate replaces the staged one.",
    "00719": "Nothing to do: certificates go live up to ten seconds later.",
    "00547": "Fix AcmeStoreDir as the message says.",
    "00548": "Fix AcmeStoreDir as the message says.",
    "00505": "Split the names over several AcmeDomain lines.",
    "00535": "Name the program, e.g. 'AcmeNotifyCmd /usr/local/bin/acme-notify'.",
    "00570": "Run the fix the message gives: the server's User must read AcmeCACertificateFile.",
    "00571": "Run the fix the message gives: the server's User must run the AcmeDnsCmd hook.",
    "00572": "Run the fix the message gives, or set AcmeStoreDir to a place the server's User "
             "can reach.",
    "00573": "Run the fix the message gives: the server's User writes in this store directory.",
    "00574": "Run the fix the message gives: the server's User writes in this store directory.",
    "00575": "Remount the file system read-write, or move AcmeStoreDir.",
    "00576": "Run the fix the message gives: the server's children read "
             "AcmeClusterCACertificateFile.",
    "00577": "Nothing to do at once: a file problem shows at the first attempt instead.",
    "00220": "Run the fix the message gives (the CA certificate file must be readable by the "
             "server's User, and hold PEM certificates).",
    "00543": "Make the program and every directory on its way root's and writable by nobody else.",
    "01607": "Do what the message ends with: write the AcmeKeyType it gives (a type with the bits "
             "the level asks for: ec-p256 or rsa-3072 at level 3, ec-p384 at level 4) at the line "
             "it names, or lower @SECLEVEL in the SSLCipherSuite or SSLOpenSSLConfCmd "
             "CipherString line it names (level 2 takes rsa-2048).",
    "01609": "Lower @SECLEVEL in the line the message names, or get a chain whose certificates "
             "have keys of the bits the level asks for (AcmePreferredChain, another CA): at level "
             "3 an RSA-2048 intermediate is refused. Until then leave the level as it was.",
    "01614": "Allow at least one protocol version in the SSLProtocol line the message names "
             "(the vhost's, else the server's), e.g. 'SSLProtocol -all +TLSv1.2 +TLSv1.3': "
             "'-all' alone, or '-' for every version written, leaves mod_ssl none.",
    "01608": "Lower @SECLEVEL to 3 in the line the message names: mod_acme's temporary "
             "certificate and its tls-alpn-01 answers are EC P-256 (128 bits), which levels 4 "
             "and 5 refuse.",
}


def calls():
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "mod_acme", "**", "*.c"), recursive=True)):
        base = os.path.basename(path)
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r'"ACME(\d{5}): ', text):
            tag = m.group(1)
            before = text[max(0, m.start() - 400):m.start()]
            levels = re.findall(r"(APLOG_[A-Z]+\d?|ACME_LOG_[A-Z]+)", before)
            level = LEVELS.get(levels[-1]) if levels else None
            if base in CONFIG_FILES and (not levels or "return" in before[-120:]):
                level = "warn" if tag in CONFIG_WARNINGS else "configtest"
            if not level:
                continue
            literal = re.match(r'"((?:[^"\\]|\\.)*)"(?:\s*"((?:[^"\\]|\\.)*)")*',
                               text[m.start():])
            message = re.sub(r'"\s*\n\s*"', "", text[m.start():m.start() + 1200])
            message = re.match(r'"((?:[^"\\]|\\.)*)"', message).group(1) if literal else ""
            message = message.replace('\\"', '"').replace("%%", "%")
            message = re.sub(r"%(?:\.\*)?[-0-9]*(?:l|ll|z)?[sdiuxp]|%\" APR_[A-Z0-9_]+ \"", "…",
                             message)
            found.setdefault(tag, (level, base, message))
    return found


def advice(tag, message):
    if tag in ADVICE:
        return ADVICE[tag]
    head, sep, fix = message.rpartition("; ")
    if sep and fix and len(fix) > 12:
        return fix[0].upper() + fix[1:]
    return "Read the message: it names what failed; the messages around it say why."


def render():
    """The page's text, from the sources under ROOT."""
    found = calls()
    groups = [("Configuration errors (apachectl configtest)", ("configtest",)),
              ("Errors and worse: something does not work", ("emerg", "alert", "crit", "error")),
              ("Warnings: something may stop working", ("warn",))]
    out = ["# Troubleshooting by log tag", "",
           "Every message of mod_acme starts with its tag `ACMEnnnnn`. This page lists every tag",
           "logged at level `warn` or above, and every configtest error: what the message says",
           "(`…` marks a value filled in) and what to do. Messages at `notice` and below are",
           "informational. Find a tag in the error log with `grep -o 'ACME[0-9]*' error.log | sort | uniq -c`.",
           "For the status of every certificate see the `acme-status` page or `acmectl list`.", "",
           "While a vhost serves mod_acme's temporary certificate (its own has not arrived yet), mod_ssl",
           "logs `AH01909: NAME:443:0 server certificate does NOT include an ID which matches the server",
           "name` for it at every start and restart, at `warn`: expected, not an error; it stops once",
           "that vhost's certificate is live. ACME00674 (notice) says how many vhosts wait and for what.",
           "`LogLevel ssl:error` hides it, with mod_ssl's other warnings.", "",
           "Generated from the sources by `build/logtags-doc.py`.", ""]
    for title, levels in groups:
        out += ["## " + title, ""]
        for tag in sorted(t for t, v in found.items() if v[0] in levels):
            level, base, message = found[tag]
            out += ["### ACME%s" % tag, "",
                    "Level `%s`, `%s`." % (level, base), "",
                    "> %s" % message.replace("<", "&lt;"), "",
                    "What to do: %s" % advice(tag, message).replace("<", "&lt;"), ""]
    return "\n".join(out)


def main():
    text = render()
    with open(os.path.join(ROOT, "docs", "troubleshooting.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print("docs/troubleshooting.md: %d tags" % text.count("\n### ACME"))


if __name__ == "__main__":
    main()
