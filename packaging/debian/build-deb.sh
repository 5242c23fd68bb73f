#!/bin/bash
# Builds the Debian package from `make install` into a staging root:
#   packaging/debian/build-deb.sh VERSION OUTPUT_DIRECTORY
# Needs bin/network-broker (make build). Runs lintian on the result when it is installed.
set -euo pipefail

version=$1
out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/packaging/debian"
arch=$(dpkg --print-architecture)
stage="$out/stage"
deb="$out/network-broker_${version}_${arch}.deb"

rm -rf "$stage" && mkdir -p "$stage"
# Debian 12 keeps units under /lib/systemd/system (merged /usr makes both paths work).
make -C "$repo" --no-print-directory install DESTDIR="$stage" PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/lib/systemd/system >/dev/null

doc="$stage/usr/share/doc/network-broker"
install -m 0644 "$here/copyright" "$doc/copyright"
sed "s/@VERSION@/$version/" "$here/changelog" | gzip -9n > "$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"
gzip -9n "$stage"/usr/share/man/man*/*

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$here/control.in" > "$stage/DEBIAN/control"
install -m 0644 "$here/conffiles" "$stage/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$stage/DEBIAN/"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"

# Everything in the package belongs to root, whoever builds it.
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"

if command -v lintian >/dev/null; then
    # initial-upload-closes-no-bugs: the package is built here, not uploaded to Debian (no ITP bug to close).
    lintian --fail-on error,warning $([ "$(id -u)" = 0 ] && echo --allow-root) \
        --suppress-tags-from-file "$here/lintian-overrides.txt" "$deb" >&2
else
    echo "lintian is not installed: the package was not checked (apt-get install lintian)" >&2
fi
