#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the browser test of run reports (report.html).
# Idempotent and quiet when /usr/bin/chromium (or $GRAFT_CHROMIUM, the test's override) is already there.
# Non-root: prints what to install and exits 0, so a developer's setup never fails for it; the browser
# test itself then fails with a message pointing back here.
set -euo pipefail

chromium_bin=/usr/bin/chromium

say() { printf 'graft setup: %s\n' "$*" >&2; }

wanted="${GRAFT_CHROMIUM:-$chromium_bin}"
[ -x "$wanted" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "Chromium ($wanted) is missing; the report browser test needs it. Install it, then run the tests again:"
  say "    sudo apt-get install chromium        (Debian/Ubuntu)"
  say "or point GRAFT_CHROMIUM at a Chromium or Chrome executable."
  exit 0
fi

say "installing Debian's chromium (for the report browser test)"
apt-get update -qq >/dev/null || true
# fonts-dejavu-core: the charts name DejaVu Sans; a font must exist for Chromium and librsvg to draw text.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
[ -x "$chromium_bin" ] || { say "apt-get installed chromium but $chromium_bin is not there"; exit 1; }
say "chromium ready: $("$chromium_bin" --version 2>/dev/null || echo "$chromium_bin")"
