#!/bin/sh
# The Debian package libapache2-mod-acme (debian/).
#   build/package.sh --full [OUT]  dpkg-buildpackage -us -uc -b from a copy of
#       the source tree (the build cleans its tree, so never in place), then
#       the checks below on the unpacked .deb, then lintian (errors and
#       warnings fail; debian/*.lintian-overrides says why each override is
#       right). It builds mod_acme once more (211 s of CPU); build/test.sh
#       runs it unless ACME_FULL_PACKAGE=0.
#   build/package.sh [OUT]  (fast) the same checks on what
#       "make install" of the built tree puts into a throw-away root with the
#       package's paths: the files debian/rules installs are the same.
# Checks: every file the package must hold, the postinst does not enable the
# module, the module loads from the root (apache2 -t), acmectl runs from it.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
full=0
if [ "${1:-}" = "--full" ]; then full=1; shift; fi
out=${1:-$(mktemp -d /tmp/mod-acme-pkg.XXXXXX)}
mkdir -p "$out"
root="$out/root"
rm -rf "$root"
start=$(date +%s)

if [ $full -eq 1 ]; then
    work=$(mktemp -d /tmp/mod-acme-pkgsrc.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    # tracked and new (not ignored) files: what a clean clone would hold
    mkdir "$work/mod-acme"
    git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$work/mod-acme"
    echo "==> dpkg-buildpackage (log: $out/build.log)"
    if ! (cd "$work/mod-acme" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1); then
        tail -40 "$out/build.log"
        exit 1
    fi
    cp "$work"/libapache2-mod-acme_*.deb "$out/"
    deb=$(ls "$out"/libapache2-mod-acme_*.deb | tail -1)
    dpkg-deb -f "$deb" Depends | grep -q 'apache2-api-20120211' \
        || { echo "no apache2 API dependency"; exit 1; }
    dpkg-deb -e "$deb" "$out/control"
    postinst="$out/control/postinst"
    dpkg-deb -x "$deb" "$root"
else
    echo "==> make install into $root (the package's paths)"
    make -s install DESTDIR="$root" bindir=/usr/bin mandir=/usr/share/man >"$out/install.log" 2>&1 \
        || { tail -20 "$out/install.log"; exit 1; }
    postinst=debian/libapache2-mod-acme.postinst
    mkdir -p "$root/usr/share/doc/libapache2-mod-acme"
    cp debian/copyright "$root/usr/share/doc/libapache2-mod-acme/"
    gzip -9nf "$root/usr/share/man/man1/acmectl.1"
fi

echo "==> contents"
(cd "$root" && find . -type f -o -type l) | sed 's#^\./#/#' | sort > "$out/contents.txt"
for f in /usr/lib/apache2/modules/mod_acme.so /etc/apache2/mods-available/acme.load \
         /etc/apache2/mods-available/acme.conf /usr/bin/acmectl /usr/share/man/man1/acmectl.1.gz \
         /usr/share/doc/libapache2-mod-acme/copyright; do
    grep -qx "$f" "$out/contents.txt" || { echo "missing in package: $f"; cat "$out/contents.txt"; exit 1; }
done
if grep -v '^[[:space:]]*#' "$postinst" | grep -Eq '(^|[;&|(]) *(a2enmod|apache2_invoke|apache2_switch_mpm)'; then
    echo "postinst enables the module:"; cat "$postinst"; exit 1
fi
"$root/usr/bin/acmectl" --version
"$root/usr/bin/acmectl" --help | grep -q 'account rollover'
man -l "$root/usr/share/man/man1/acmectl.1.gz" 2>/dev/null | grep -q 'EXIT STATUS' \
    || { echo "man page does not render"; exit 1; }
grep -q "LoadModule acme_module /usr/lib/apache2/modules/mod_acme.so" \
    "$root/etc/apache2/mods-available/acme.load"
conf="$out/load-test.conf"
mods=/usr/lib/apache2/modules
{
    echo "ServerRoot $out"
    echo "ErrorLog /dev/null"
    echo "PidFile $out/httpd.pid"
    /usr/sbin/apache2 -l | grep -q 'mod_mpm_' || echo "LoadModule mpm_event_module $mods/mod_mpm_event.so"
    echo "LoadModule authz_core_module $mods/mod_authz_core.so"
    echo "LoadModule ssl_module $mods/mod_ssl.so"
    echo "LoadModule acme_module $root/usr/lib/apache2/modules/mod_acme.so"
    echo "Listen 127.0.0.1:1"
    echo "Include $root/etc/apache2/mods-available/acme.conf"
} > "$conf"
/usr/sbin/apache2 -t -f "$conf" > "$out/configtest.txt" 2>&1 && grep -q 'Syntax OK' "$out/configtest.txt" \
    || { echo "the packaged module does not load:"; cat "$out/configtest.txt"; exit 1; }

if [ $full -eq 1 ]; then
    if command -v lintian >/dev/null; then
        echo "==> lintian"
        lintian "$deb" > "$out/lintian.txt" 2>&1 || true
        cat "$out/lintian.txt"
        if grep -q '^[EW]:' "$out/lintian.txt"; then
            echo "lintian reports errors or warnings"; exit 1
        fi
    else
        echo "lintian not installed (build/deps.sh installs it)"; exit 1
    fi
fi
echo "==> package checks passed in $(( $(date +%s) - start )) s ($out)"
