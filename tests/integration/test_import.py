"""acmectl import: a certificate certbot or mod_md manages becomes the live
certificate of mod_acme's store; httpd serves it after one start and orders
nothing before its renewal is due. Refusals: a key that does not fit, an
unknown layout, a name that has a live certificate already."""
import json
import os
import re
import shutil
import subprocess

import pytest
from cryptography import x509

from harness import acmectl_path, clean_env, free_port, live_version, run, ssl_vhost, wait_for


def acmectl(store, *args):
    return run([acmectl_path(), "--store", store] + list(args), timeout=30)


def certbot_lineage(root, name, fullchain, key, server):
    """/etc/letsencrypt as certbot leaves it: live/NAME/*.pem links into
    archive/NAME/*1.pem, renewal/NAME.conf naming the CA."""
    archive = os.path.join(root, "archive", name)
    live = os.path.join(root, "live", name)
    os.makedirs(archive)
    os.makedirs(live)
    os.makedirs(os.path.join(root, "renewal"))
    certs = fullchain.split(b"-----END CERTIFICATE-----")
    files = {"fullchain": fullchain, "privkey": key,
             "cert": certs[0] + b"-----END CERTIFICATE-----\n",
             "chain": b"-----END CERTIFICATE-----".join(certs[1:]).lstrip()}
    for kind, data in files.items():
        with open(os.path.join(archive, kind + "1.pem"), "wb") as f:
            f.write(data)
        os.symlink("../../archive/%s/%s1.pem" % (name, kind), os.path.join(live, kind + ".pem"))
    os.chmod(os.path.join(archive, "privkey1.pem"), 0o600)
    with open(os.path.join(root, "renewal", name + ".conf"), "w") as f:
        f.write("# renew_before_expiry = 30 days\nversion = 2.1.0\narchive_dir = %s\n"
                "[renewalparams]\naccount = 0123\nauthenticator = apache\nserver = %s\n"
                % (archive, server))
    return live


def md_domain(root, name, fullchain, key, ca_url):
    """mod_md's store: domains/NAME/ with md.json, pubcert.pem, privkey.pem."""
    d = os.path.join(root, "domains", name)
    os.makedirs(d)
    with open(os.path.join(d, "pubcert.pem"), "wb") as f:
        f.write(fullchain)
    with open(os.path.join(d, "privkey.pem"), "wb") as f:
        f.write(key)
    os.chmod(os.path.join(d, "privkey.pem"), 0o600)
    with open(os.path.join(d, "md.json"), "w") as f:
        json.dump({"name": name, "domains": [name], "ca": {"urls": [ca_url], "proto": "ACME"},
                   "state": 2, "renew-mode": 1}, f)
    return d


def self_signed(workdir, name, curve="P-256"):
    key = os.path.join(workdir, "ss-key.pem")
    cert = os.path.join(workdir, "ss-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:" + curve, "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=" + name, "-addext",
                    "subjectAltName=DNS:" + name], check=True, capture_output=True, timeout=30)
    with open(cert, "rb") as f, open(key, "rb") as g:
        return f.read(), g.read()


def issued_pair(httpd_factory, name):
    """A certificate issued by Pebble for name through a server of its own,
    stopped: (that server, the served certificate, fullchain PEM bytes, key
    PEM bytes)."""
    first = httpd_factory()
    first.write_config(vhosts=ssl_vhost(name))
    first.start()
    issued = first.wait_for_pebble_cert(name)
    first.stop()
    version = live_version(first.store, name)
    with open(os.path.join(version, "cert.pem"), "rb") as f:
        fullchain = f.read()
    with open(os.path.join(version, "privkey.pem"), "rb") as f:
        key = f.read()
    return first, issued, fullchain, key


def test_certbot_lineage_is_served_without_a_new_order(httpd_factory, pebble, unique):
    name = unique("import")
    # A real Pebble-issued certificate, as certbot would have obtained it.
    first, issued, fullchain, key = issued_pair(httpd_factory, name)

    # ports of its own: the first server's cleanup waits for its ports to close
    httpd = httpd_factory(http_port=free_port(), https_port=free_port())
    letsencrypt = os.path.join(httpd.serverroot, "letsencrypt")
    lineage = certbot_lineage(letsencrypt, name, fullchain, key, pebble.directory_url)
    # a store whose parents do not exist yet, as /var/lib/apache2/acme on a new machine
    made = os.path.join(httpd.serverroot, "var")
    httpd.store = os.path.join(made, "lib", "acme")
    httpd.write_config(vhosts=ssl_vhost(name))

    # dry run by default: says what it would do, writes nothing
    r = acmectl(httpd.store, "import", lineage)
    assert r.returncode == 0, r.stderr
    assert "would import" in r.stdout and "--yes" in r.stdout, r.stdout
    assert not os.path.exists(made), os.listdir(made)

    r = acmectl(httpd.store, "import", "--yes", lineage)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ACME00813" in r.stdout and name in r.stdout, r.stdout
    assert "warning:" not in r.stdout and "orders nothing" in r.stdout, r.stdout
    # parents as the server makes them (acmectl's umask is 077): traversable
    # by the server's User, root's
    for d in (made, os.path.dirname(httpd.store), httpd.store):
        st = os.stat(d)
        assert (oct(st.st_mode & 0o777), st.st_uid) == (oct(0o755), 0), (d, oct(st.st_mode))
    imported = live_version(httpd.store, name)
    assert imported, os.listdir(httpd.store)
    st = os.stat(os.path.join(imported, "privkey.pem"))
    assert (st.st_mode & 0o777, st.st_uid) == (0o600, 0), oct(st.st_mode)
    with open(os.path.join(imported, "meta.json")) as f:
        meta = json.load(f)
    assert meta["ca"] == pebble.directory_url and meta["imported_from"] == "certbot", meta

    # a second import of the same lineage changes nothing
    r = acmectl(httpd.store, "import", "--yes", lineage)
    assert r.returncode == 0 and "live already" in r.stdout, r.stdout + r.stderr
    assert live_version(httpd.store, name) == imported

    orders = pebble.new_order_count()
    httpd.start()
    served = httpd.verified_cert(name)
    assert served.serial_number == issued.serial_number, (served.serial_number,
                                                          issued.serial_number)
    httpd.wait_idle(timeout=40)
    d = httpd.domain_status(name)
    assert d.get("state") == "valid", d
    assert pebble.new_order_count() == orders, "an order was made for an imported certificate"
    assert httpd.served_cert(name).serial_number == issued.serial_number
    assert live_version(httpd.store, name) == imported
    assert "ACME00403" not in httpd.error_log_text()
    # the store acmectl made is the one the server makes: same modes and owners
    assert store_dirs(httpd.store) == store_dirs(first.store), (store_dirs(httpd.store),
                                                                  store_dirs(first.store))

    # a lineage of a name no server using the store configures: imported, and
    # said to be neither served nor renewed until an AcmeDomain has it
    other = unique("unconfigured")
    pem, pkey = self_signed(httpd.serverroot, other)
    lineage = certbot_lineage(os.path.join(httpd.serverroot, "le2"), other, pem, pkey,
                              pebble.directory_url)
    r = acmectl(httpd.store, "--json", "import", lineage)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "neither served nor renewed" in json.loads(r.stdout)["note"], r.stdout
    r = acmectl(httpd.store, "import", "--yes", lineage)
    assert r.returncode == 0 and "ACME00813" in r.stdout, r.stdout + r.stderr
    assert re.search(r"note: no server using \S+ configures %s .*neither served nor renewed "
                     r"until an AcmeDomain" % re.escape(other), r.stdout), r.stdout
    # the configured name of the same store gets no such note
    r = acmectl(httpd.store, "--json", "import", certbot_lineage(
        os.path.join(httpd.serverroot, "le3"), name, fullchain, key, pebble.directory_url))
    assert "note" not in r.stdout, r.stdout


def store_dirs(store):
    """Mode and owner of the store and of each directory at its top."""
    out = {}
    for d in [""] + sorted(e for e in os.listdir(store)
                           if os.path.isdir(os.path.join(store, e))):
        st = os.stat(os.path.join(store, d))
        out[d or "."] = (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid)
    return out


def test_mod_md_domain_imports(tmp_path, pebble, unique):
    name = unique("md-import")
    cert, key = self_signed(str(tmp_path), name)
    d = md_domain(str(tmp_path / "md"), name, cert, key, pebble.directory_url)
    store = str(tmp_path / "store")
    r = acmectl(store, "--json", "import", "--yes", d)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["imported"] is True and out["layout"] == "mod_md" and out["name"] == name, out
    assert out["ca"] == pebble.directory_url and out["key_type"] == "ec-p256", out
    version = live_version(store, name)
    with open(os.path.join(version, "cert.pem"), "rb") as f:
        assert f.read() == cert
    leaf = x509.load_pem_x509_certificate(cert)
    assert int(out["serial"], 16) == leaf.serial_number


def test_import_refuses_while_a_certificate_is_staged(tmp_path, pebble, unique):
    """A certificate mod_acme obtained waits in staging/ for the next restart
    (served early already, perhaps): an import then was accepted and said to
    go live at the restart, where the staged one went live and the import was
    archived unseen. Refused, saying what to do; nothing is written."""
    name = unique("staged")
    cert, key = self_signed(str(tmp_path), name)
    lineage = certbot_lineage(str(tmp_path / "le"), name, cert, key, pebble.directory_url)
    store = str(tmp_path / "store")
    # the store as acmectl makes it, by an import of another name
    other = unique("other")
    ocert, okey = self_signed(str(tmp_path), other)
    r = acmectl(store, "import", "--yes", certbot_lineage(str(tmp_path / "le-other"), other,
                                                          ocert, okey, pebble.directory_url))
    assert r.returncode == 0, r.stdout + r.stderr
    os.makedirs(os.path.join(store, "staging", name))
    with open(os.path.join(store, "staging", name, "cert.pem"), "wb") as f:
        f.write(cert)
    with open(os.path.join(store, "staging", name, "ready"), "w") as f:
        f.write("{}\n")
    r = acmectl(store, "import", "--yes", lineage)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ACME00817" in r.stderr and "is staged in the store" in r.stderr, r.stderr
    assert "remove staging/%s/ first" % name in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(store, "archive", name)), os.listdir(store)
    # without the staged entry the same import is taken
    import shutil
    shutil.rmtree(os.path.join(store, "staging", name))
    r = acmectl(store, "import", "--yes", lineage)
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_refuses_a_key_of_another_certificate(tmp_path, pebble, unique):
    name = unique("mismatch")
    cert, _key = self_signed(str(tmp_path), name)
    _other_cert, other_key = self_signed(str(tmp_path), name)
    lineage = certbot_lineage(str(tmp_path / "le"), name, cert, other_key, pebble.directory_url)
    store = str(tmp_path / "new" / "store")
    for args in (("import", lineage), ("import", "--yes", lineage)):
        r = acmectl(store, *args)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "ACME00811" in r.stderr and "does not match the private key" in r.stderr, r.stderr
        # a refusal leaves nothing behind: no store, no parent of it
        assert not os.path.exists(str(tmp_path / "new")), args
    # nor when the name does not fit, or the store is there already
    cert2, key2 = self_signed(str(tmp_path), name)
    good = certbot_lineage(str(tmp_path / "le2"), name, cert2, key2, pebble.directory_url)
    r = acmectl(store, "import", "--yes", "--name", "other." + name, good)
    assert r.returncode == 1 and "ACME00811" in r.stderr, r.stdout + r.stderr
    assert not os.path.exists(str(tmp_path / "new"))
    os.makedirs(store)
    r = acmectl(store, "import", "--yes", lineage)
    assert r.returncode == 1 and os.listdir(store) == [], os.listdir(store)


def test_import_refuses_an_unknown_layout_and_a_taken_name(tmp_path, pebble, unique):
    name = unique("layout")
    cert, key = self_signed(str(tmp_path), name)
    store = str(tmp_path / "store")
    odd = tmp_path / "odd" / name
    odd.mkdir(parents=True)
    (odd / "cert.pem").write_bytes(cert)
    (odd / "key.pem").write_bytes(key)
    r = acmectl(store, "import", "--yes", str(odd))
    assert r.returncode == 1 and "ACME00810" in r.stderr, r.stdout + r.stderr
    assert "neither a certbot lineage" in r.stderr, r.stderr
    assert not os.path.exists(store)
    # certbot's live/ files without renewal/NAME.conf: not a lineage either
    lineage = certbot_lineage(str(tmp_path / "le"), name, cert, key, pebble.directory_url)
    conf = os.path.join(str(tmp_path / "le"), "renewal", name + ".conf")
    os.rename(conf, conf + ".bak")
    r = acmectl(store, "import", "--yes", lineage)
    assert r.returncode == 1 and "ACME00810" in r.stderr and "renewal" in r.stderr, r.stderr
    os.rename(conf + ".bak", conf)
    r = acmectl(store, "import", "--yes", lineage)
    assert r.returncode == 0, r.stderr
    # another certificate for the same name: refused, the live one stays
    live = live_version(store, name)
    other = tmp_path / "other"
    other.mkdir()
    cert2, key2 = self_signed(str(other), name)
    shutil.rmtree(str(tmp_path / "le"))
    lineage2 = certbot_lineage(str(tmp_path / "le"), name, cert2, key2, pebble.directory_url)
    r = acmectl(store, "import", "--yes", lineage2)
    assert r.returncode == 1 and "ACME00812" in r.stderr, r.stdout + r.stderr
    assert live_version(store, name) == live


def test_import_without_a_directory_is_a_usage_error(tmp_path):
    r = acmectl(str(tmp_path / "store"), "import")
    assert r.returncode == 2 and "acmectl import" in r.stderr, r.stdout + r.stderr
    r = acmectl(str(tmp_path / "store"), "import", "--bogus", str(tmp_path))
    assert r.returncode == 2, r.stdout + r.stderr


MOD_MD = "/usr/lib/apache2/modules/mod_md.so"


def test_a_store_mod_md_filled_from_pebble_imports(httpd_factory, pebble, unique):
    """mod_md itself (Debian's apache2 ships it) obtains a certificate from
    Pebble into its store; acmectl import takes that domain over, and
    mod_acme serves the certificate without ordering a new one."""
    if not os.path.exists(MOD_MD):
        pytest.fail("%s is missing: Debian's apache2 package ships it (build/deps.sh)" % MOD_MD)
    name = unique("modmd")
    md = httpd_factory()
    md_store = os.path.join(md.serverroot, "md")
    md.write_config(load_acme=False, extra_global="\n".join([
        "LoadModule md_module %s" % MOD_MD,
        "MDStoreDir \"%s\"" % md_store,
        "MDCertificateAuthority %s" % pebble.directory_url,
        "MDCACertificateFile \"%s\"" % pebble.ca.ca_pem,
        "MDCertificateAgreement accepted",
        "MDContactEmail admin@example.test",
        "MDCAChallenges http-01",
        "MDPortMap http:{http_port} https:{https_port}",
        "MDRetryDelay 1s",
        # mod_acme's default key type: a certificate of another one is replaced at once
        "MDPrivateKeys secp256r1",
        "MDomain %s" % name]),
        vhosts="<VirtualHost *:{https_port}>\n    ServerName %s\n    SSLEngine on\n"
               "</VirtualHost>\n" % name)
    md.start()
    # an EC key's files are pubcert.secp256r1.pem and privkey.secp256r1.pem
    pem = "pubcert.secp256r1.pem"
    staged = os.path.join(md_store, "staging", name, pem)
    domain = os.path.join(md_store, "domains", name)
    wait_for(lambda: os.path.exists(staged) or os.path.exists(os.path.join(domain, pem)), 90,
             interval=0.5, what="mod_md to obtain %s from Pebble (%s)" % (name, md.error_log))
    # mod_md activates what it staged at its next start, into domains/NAME
    md.stop()
    md.start()
    wait_for(lambda: os.path.exists(os.path.join(domain, pem)), 30, interval=0.5,
             what="mod_md to activate %s" % name)
    served = md.served_cert(name)
    md.stop()
    assert "pubcert.pem" not in os.listdir(domain), os.listdir(domain)
    with open(os.path.join(domain, pem), "rb") as f:
        pubcert = f.read()
    leaf = x509.load_pem_x509_certificate(pubcert)
    assert leaf.serial_number == served.serial_number
    assert "Pebble" in leaf.issuer.rfc4514_string(), leaf.issuer

    httpd = httpd_factory(http_port=free_port(), https_port=free_port())
    r = acmectl(httpd.store, "--json", "import", "--yes", domain)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["imported"] is True and out["layout"] == "mod_md" and out["name"] == name, out
    assert out["ca"] == pebble.directory_url and out["key_type"] == "ec-p256", out
    assert int(out["serial"], 16) == leaf.serial_number, out
    version = live_version(httpd.store, name)
    with open(os.path.join(version, "cert.pem"), "rb") as f:
        assert f.read().split(b"-----END CERTIFICATE-----")[0] == \
            pubcert.split(b"-----END CERTIFICATE-----")[0]
    with open(os.path.join(version, "meta.json")) as f:
        assert json.load(f)["imported_from"] == "mod_md"

    httpd.write_config(vhosts=ssl_vhost(name))
    orders = pebble.new_order_count()
    httpd.start()
    assert httpd.verified_cert(name).serial_number == leaf.serial_number
    httpd.wait_idle(timeout=40)
    assert httpd.domain_status(name).get("state") == "valid"
    assert pebble.new_order_count() == orders, "an order was made for an imported certificate"


def test_import_warns_when_the_system_level_refuses_the_chain(tmp_path, pebble, unique):
    """The import proves security level 2 only (a vhost may lower its level
    to 2); with openssl.cnf raising the default to 3 it says that a vhost
    without a lower level of its own cannot serve an RSA-2048 chain (the
    start would set it aside, ACME01512, and order anew), and says nothing
    of an EC P-256 one, which level 3 takes."""
    cnf = tmp_path / "openssl-level3.cnf"
    cnf.write_text("openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
                   "[ssl_sect]\nsystem_default = system_default_sect\n"
                   "[system_default_sect]\nCipherString = DEFAULT:@SECLEVEL=3\n")
    env = clean_env({"OPENSSL_CONF": str(cnf)})
    for kind, weak in (("rsa", True), ("ec", False)):
        name = unique("level" + kind)
        work = tmp_path / kind
        work.mkdir()
        key, cert = str(work / "key.pem"), str(work / "cert.pem")
        newkey = ["-newkey", "rsa:2048"] if weak else ["-newkey", "ec", "-pkeyopt",
                                                         "ec_paramgen_curve:P-256"]
        subprocess.run(["openssl", "req", "-x509"] + newkey + [
            "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=" + name,
            "-addext", "subjectAltName=DNS:" + name], check=True, capture_output=True,
            timeout=60)
        with open(cert, "rb") as f, open(key, "rb") as g:
            lineage = certbot_lineage(str(work / "le"), name, f.read(), g.read(),
                                      pebble.directory_url)
        r = run([acmectl_path(), "--store", str(tmp_path / "store"), "import", lineage],
                timeout=30, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        said = "default OpenSSL security level 3 refuses this chain" in r.stdout
        assert said == weak, (kind, r.stdout)
        if weak:
            assert "112 bits of security; level 3 asks for 128" in r.stdout, r.stdout


def test_import_into_a_running_server_goes_live_at_its_next_restart(httpd_factory, pebble,
                                                                     unique):
    """A certificate imported while httpd runs is live in the store, but the
    running server serves what it served since its start (here the
    temporary certificate: its CA cannot be reached) until its next restart:
    acmectl show and the status page say so, as ACME00813 does, and do not
    say that the imported one is served."""
    name = unique("importrun")
    _, _, fullchain, key = issued_pair(httpd_factory, name)

    httpd = httpd_factory(http_port=free_port(), https_port=free_port())
    httpd.write_config(vhosts=ssl_vhost(name),
                       acme={"AcmeCA": "https://127.0.0.1:%d/dir" % free_port()})
    httpd.start()
    wait_for(lambda: (httpd.domain_status(name) or {}).get("failing"), 60,
             what="the first order failing")
    lineage = certbot_lineage(os.path.join(httpd.serverroot, "le"), name, fullchain, key,
                              pebble.directory_url)
    r = acmectl(httpd.store, "import", "--yes", lineage)
    assert r.returncode == 0 and "ACME00813" in r.stdout, r.stdout + r.stderr
    # ordered from another CA than the domain's AcmeCA: the server orders
    # from AcmeCA at once, and acmectl says so instead of "orders nothing"
    warned = [l for l in r.stdout.splitlines() if l.strip().startswith("warning:")]
    assert warned and pebble.directory_url in warned[0] and "AcmeCA" in warned[0] \
        and "within a minute" in warned[0], r.stdout
    assert "orders nothing" not in r.stdout, r.stdout
    show = acmectl(httpd.store, "show", name).stdout
    served = [l for l in show.splitlines() if l.strip().startswith("served:")]
    assert served and "not served yet" in served[0] and "next restart" in served[0] \
        and "temporary certificate" in served[0], show
    assert "keeps being served" not in show, show
    # the import leaves its mark, naming the live version, in imports/
    mark = os.path.join(httpd.store, "imports", name + ".json")
    with open(mark) as f:
        assert json.load(f)["version"] == os.path.basename(
            os.readlink(os.path.join(httpd.store, "domains", name)))
    doc = json.loads(acmectl(httpd.store, "--json", "show", name).stdout)
    assert doc["import_pending"], doc
    d = wait_for(lambda: (lambda d: d if d and d["cert"] else None)(httpd.domain_status(name)),
                 10, what="the imported certificate on the status page")
    assert "not served yet" in (d["notice"] or "") and "temporary certificate" in d["notice"], d
    # the next restart serves it: nothing pending any more
    httpd.graceful()
    wait_for(lambda: httpd.verified_cert(name), 20, what="the imported certificate served")
    assert not os.path.exists(mark)
    show = acmectl(httpd.store, "show", name).stdout
    assert "not served yet" not in show, show
    assert json.loads(acmectl(httpd.store, "--json", "show", name).stdout)["import_pending"] \
        is None
    d = wait_for(lambda: (lambda d: d if d and "not served yet" not in (d["notice"] or "")
                          else None)(httpd.domain_status(name)), 10,
                 what="the status page without the import's notice")
