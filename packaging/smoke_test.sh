#!/usr/bin/env bash
# Smoke-test the built Linux packages as a user gets them.
#
#   packaging/smoke_test.sh [PACKAGE.deb [PACKAGE.tar.gz]]
#
# Unpacks the .deb into a scratch root (dpkg-deb -x: the system is not touched), checks the
# launcher, the .desktop entry and the icons, then runs the installed app through
# packaging/smoke_check.py: fresh empty data home, no network where permitted, offscreen Qt;
# `doctor --json` and `gui --quit-after-shown` must pass, then one job per domain with the tiny
# test models when they are built. Checks the .tar.gz holds the app and
# prints the package sizes. With xvfb-run present it also opens the window on X11 (xcb).
# Needs bash, dpkg and python3 (no virtual environment).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BUILD_DIR:-build/packaging}/out
deb=${1:-$(ls -t "$out"/latent-studio_*.deb 2>/dev/null | head -n1 || true)}
tarball=${2:-$(ls -t "$out"/latent-studio-*.tar.gz 2>/dev/null | head -n1 || true)}
[ -f "$deb" ] || { echo "smoke: no .deb found (build it with packaging/build_linux.sh)" >&2; exit 1; }

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

echo "smoke: package $deb"
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$root"
launcher="$root/usr/bin/latent-studio"
[ -L "$launcher" ] || fail "no /usr/bin/latent-studio launcher"
[ -x "$root/opt/latent-studio/latent-studio" ] || fail "no /opt/latent-studio/latent-studio"
desktop="$root/usr/share/applications/latent-studio.desktop"
[ -f "$desktop" ] || fail "no .desktop entry"
grep -qx 'Exec=latent-studio' "$desktop" || fail "the .desktop entry does not start latent-studio"
grep -qx 'Icon=latent-studio' "$desktop" || fail "the .desktop entry names no icon"
for icon in 256x256/apps/latent-studio.png scalable/apps/latent-studio.svg; do
    [ -f "$root/usr/share/icons/hicolor/$icon" ] || fail "no icon $icon"
done
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$desktop" || fail "the .desktop entry is invalid"
fi
echo "smoke: launcher, .desktop entry and icons present"

# The installed launcher (a relative symlink into /opt), as the desktop entry runs it. With the
# test suite's tiny models built (the cache tests/support/model_store.py keeps), one real job per
# domain runs too.
models=()
cache=${TINY_MODELS:-${LATENT_STUDIO_TEST_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/latent-studio/test-models}}
if [ -d "$cache/clip-tiny" ] && [ -d "$cache/diffusion-tiny" ] && [ -d "$cache/llm-tiny" ]; then
    models=(--tiny-models "$cache")
else
    echo "smoke: no tiny models in $cache (run pytest tests/test_packaging.py first): skipping the model jobs"
fi
python3 packaging/smoke_check.py "$launcher" --version "$version" --no-network "${models[@]}"

# The X11 path too (Qt's xcb plugin and the system libraries it needs), when Xvfb is installed.
if command -v xvfb-run >/dev/null; then
    x11_home=$(mktemp -d)
    shown=$(LATENT_STUDIO_HOME="$x11_home" QT_QPA_PLATFORM=xcb timeout 300 \
        xvfb-run -a -s "-screen 0 1440x960x24" "$launcher" gui --quit-after-shown 2>"$x11_home.err" \
        | sed -n 's/^window-shown-ms: //p') || true
    rm -rf "$x11_home"
    [ -n "$shown" ] || { cat "$x11_home.err" >&2; rm -f "$x11_home.err"; fail "the window did not show on X11 (xcb under Xvfb)"; }
    rm -f "$x11_home.err"
    echo "smoke: window-shown-ms: $shown (X11: xcb under Xvfb)"
fi

if [ -n "$tarball" ] && [ -f "$tarball" ]; then
    tar -tzf "$tarball" latent-studio/latent-studio >/dev/null 2>&1 || fail "$tarball holds no latent-studio/latent-studio"
    echo "smoke: $(basename "$tarball") holds latent-studio/latent-studio"
fi

echo "smoke: sizes"
for file in "$deb" "$tarball"; do
    [ -n "$file" ] && [ -f "$file" ] || continue
    awk -v n="$(basename "$file")" -v s="$(stat -c %s "$file")" 'BEGIN{printf "smoke:   %-44s %9.1f MiB\n", n, s / 1048576}'
done
awk -v s="$(du -sk "$root/opt/latent-studio" | cut -f1)" \
    'BEGIN{printf "smoke:   %-44s %9.1f MiB\n", "installed /opt/latent-studio", s / 1024}'
echo "smoke: PASS"
