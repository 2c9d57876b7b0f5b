#!/usr/bin/env bash
# Build the Linux packages: PyInstaller one-folder app → .tar.gz and .deb (dpkg-deb).
#
#   packaging/build_linux.sh [--skip-pyinstaller]
#
# Environment: PYTHON (default .venv/bin/python, must have the `packaging` extra installed),
# BUILD_DIR (default build/packaging), GZIP_LEVEL (default 1: the payload is mostly CUDA
# libraries, where higher levels cost minutes and save little).
# Output: $BUILD_DIR/out/latent-studio-VERSION-linux-ARCH.tar.gz and latent-studio_VERSION_ARCH.deb
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

PYTHON=${PYTHON:-$repo/.venv/bin/python}
BUILD_DIR=${BUILD_DIR:-$repo/build/packaging}
GZIP_LEVEL=${GZIP_LEVEL:-1}
skip_pyinstaller=0
for arg in "$@"; do
    case "$arg" in
        --skip-pyinstaller) skip_pyinstaller=1 ;;
        *) echo "usage: $0 [--skip-pyinstaller]" >&2; exit 2 ;;
    esac
done

dist="$BUILD_DIR/dist"
app="$dist/latent-studio"
out="$BUILD_DIR/out"
stage="$BUILD_DIR/deb-root"
started=$(date +%s)
phase() { echo "build: [$(( $(date +%s) - started ))s] $*"; }

version=$(PYTHONPATH=desktop "$PYTHON" -c 'from latentstudio import __version__; print(__version__)')
arch=$(dpkg --print-architecture)
machine=$(uname -m)

if [ "$skip_pyinstaller" -eq 0 ]; then
    phase "checking the environment holds the lock's versions (constraints.txt)"
    "$PYTHON" packaging/lock.py
    phase "PyInstaller (one-folder) → $app"
    "$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "$dist" --workpath "$BUILD_DIR/work" packaging/latent_studio.spec
fi
[ -x "$app/latent-studio" ] || { echo "build: no $app/latent-studio" >&2; exit 1; }

phase "checking the files the app needs at run time"
"$PYTHON" packaging/check_bundle.py "$app/_internal"

mkdir -p "$out"
compress() { if command -v pigz >/dev/null; then pigz "-$GZIP_LEVEL"; else gzip "-$GZIP_LEVEL"; fi; }

tarball="$out/latent-studio-$version-linux-$machine.tar.gz"
phase "tar.gz → $tarball"
tar -C "$dist" --owner=0 --group=0 -cf - latent-studio | compress > "$tarball.part"
mv "$tarball.part" "$tarball"

phase "staging the .deb tree"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
    "$stage/usr/share/icons/hicolor/256x256/apps" "$stage/usr/share/icons/hicolor/512x512/apps" \
    "$stage/usr/share/icons/hicolor/scalable/apps"
# Hard links: the tree is several GB and lives on the same disk as the build.
cp -al "$app" "$stage/opt/latent-studio"
# Relative, so the launcher also works inside a scratch root (the smoke test).
ln -s ../../opt/latent-studio/latent-studio "$stage/usr/bin/latent-studio"
install -m 0644 packaging/linux/latent-studio.desktop "$stage/usr/share/applications/latent-studio.desktop"
install -m 0644 resources/icons/latent-studio.png "$stage/usr/share/icons/hicolor/256x256/apps/latent-studio.png"
install -m 0644 resources/icons/latent-studio-512.png "$stage/usr/share/icons/hicolor/512x512/apps/latent-studio.png"
install -m 0644 resources/icons/latent-studio.svg "$stage/usr/share/icons/hicolor/scalable/apps/latent-studio.svg"
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# PyInstaller's bootloader and the bundled Python are linked on this machine: its glibc is the floor.
glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
cat > "$stage/DEBIAN/control" <<CONTROL
Package: latent-studio
Version: $version
Architecture: $arch
Maintainer: Latent Studio maintainers <maintainers@latentstudio.invalid>
Installed-Size: $installed_kb
Section: graphics
Priority: optional
Depends: libc6 (>= $glibc), libgl1, libegl1, libfontconfig1, libfreetype6, libxkbcommon0, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0, libxcb-xinerama0, libdbus-1-3, libglib2.0-0t64 | libglib2.0-0
Description: offline photo search and image and code generation
 Latent Studio finds pictures in your own folders by describing them, generates
 images from prompts and code from prompts, on your GPU when you have one, with
 nothing sent anywhere. Models are downloaded or imported from the app's Models page.
 User data lives in ~/.local/share/latent-studio and is kept when the package is removed.
CONTROL
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
    command -v update-desktop-database >/dev/null && update-desktop-database -q /usr/share/applications || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true
fi
exit 0
POSTINST
cp "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"
sed -i 's/"configure"/"remove"/' "$stage/DEBIAN/postrm"
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"

deb="$out/latent-studio_${version}_$arch.deb"
phase ".deb → $deb"
dpkg-deb --root-owner-group -Zgzip "-z$GZIP_LEVEL" --build "$stage" "$deb.part" >/dev/null
mv "$deb.part" "$deb"
rm -rf "$stage"

phase "done"
du -sh "$app" | awk '{print "build: one-folder app " $1}'
ls -l "$tarball" "$deb" | awk '{printf "build: %s %.1f MiB\n", $NF, $5 / 1048576}'
