#!/usr/bin/env bash
# deb.sh -- build the Debian package of build/preflightd with dpkg-deb:
#
#   bash scripts/deb.sh            (make deb)
#
# Built with Debian's hardening flags (dpkg-buildflags, hardening=+all) in
# build/deb-obj, `make install` into a staging root with Debian's paths, man pages
# compressed, the binary stripped, /usr/share/doc/preflightd/{copyright,
# changelog.gz}; the control file comes from dist/debian/control and
# dist/debian/changelog through dpkg-gencontrol, its Depends from
# dpkg-shlibdeps (the libraries the binary really links); the example
# policy under /etc/preflightd/ is a conffile. Prints the path of the
# .deb, then runs lintian on it when lintian is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/deb
ROOT=$OUT/root
SRC=$OUT/src        # a minimal source tree: the dpkg-dev tools read debian/

rm -rf "$OUT"
mkdir -p "$ROOT" "$SRC/debian"
cp dist/debian/control dist/debian/changelog "$SRC/debian/"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
# in the environment, not on the command line: the Makefile appends to CFLAGS
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get LDFLAGS)" \
	make --no-print-directory BUILD=build/deb-obj install DESTDIR="$PWD/$ROOT" PREFIX=/usr \
	UNITDIR=/lib/systemd/system SYSCONFDIR=/etc >/dev/null
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
	"$ROOT/usr/sbin/preflightd"
gzip -9n "$ROOT"/usr/share/man/man*/*
doc=$ROOT/usr/share/doc/preflightd
install -d "$doc"
install -m 0644 dist/debian/copyright "$doc/copyright"
gzip -9nc dist/debian/changelog >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

install -d "$ROOT/DEBIAN"
(cd "$ROOT" && find etc -type f -printf '/%p\n' | sort) >"$ROOT/DEBIAN/conffiles"
(cd "$SRC" && dpkg-shlibdeps -Tdebian/substvars -e"../root/usr/sbin/preflightd")
(cd "$SRC" && dpkg-gencontrol -ppreflightd -Tdebian/substvars -P../root)
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$ROOT/DEBIAN/md5sums"
chmod 0644 "$ROOT/DEBIAN/"*

version=$(dpkg-parsechangelog -l dist/debian/changelog -S Version)
deb=$OUT/preflightd_${version}_$(dpkg --print-architecture).deb
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$deb" >/dev/null
echo "$deb"
if command -v lintian >/dev/null; then
	lintian --fail-on warning,error "$deb"
else
	echo "deb: lintian not installed: not linted" >&2
fi
