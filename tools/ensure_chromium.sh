#!/usr/bin/env sh
# The studio's browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download needs the internet). Installs it when absent and this machine can (root, or sudo without
# a password). Without it the browser tests are skipped, unless FACEWEAVE_REQUIRE_BROWSER=1 (CI),
# where a missing browser is a failure.
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  SUDO="none"
fi
if [ "$SUDO" != "none" ]; then
  echo "installing Debian's chromium for the studio's browser tests ..." >&2
  # Never a question on the terminal (debconf), never waiting on input that nobody sees.
  APT="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -y -q"
  $APT install chromium </dev/null >/dev/null 2>&1 \
    || { $APT update </dev/null >/dev/null 2>&1 && $APT install chromium </dev/null >/dev/null 2>&1; } \
    && exit 0
fi
if [ "${FACEWEAVE_REQUIRE_BROWSER:-}" = "1" ]; then
  echo "cannot install chromium for the studio's browser tests (apt-get install chromium)" >&2
  exit 1
fi
echo "chromium is not installed and cannot be installed here: the browser tests will be skipped" >&2
