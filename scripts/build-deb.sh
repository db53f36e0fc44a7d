#!/usr/bin/env bash
# Builds the Debian package valved_<version>_<arch>.deb from this tree into
# $1 (default ./build-deb). dpkg-buildpackage writes its results next to the
# source tree, so it runs on a copy of the tree in a private temporary
# directory: several checkouts can build at once, and the tree stays clean.
# The package is built without the test suite (scripts/test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-build-deb}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/valved"
# The tracked and the new (not ignored) files, as they are now; outside a git
# checkout (a container build's context), all but the build directories.
if git rev-parse --git-dir >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$work/valved"
else
  tar --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$work/valved"
fi
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(CCACHE_BASEDIR="$work/valved" CCACHE_NOHASHDIR=1 VALVED_CMAKE_FLAGS=-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
(cd "$work/valved" &&
  env "${launcher[@]}" DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -b -us -uc --no-sign >"$work/build.log" 2>&1) || {
  tail -n 60 "$work/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed" >&2
  exit 1
}
cp "$work"/*.deb "$out"/
ls "$out"/*.deb
