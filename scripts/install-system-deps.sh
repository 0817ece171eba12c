#!/usr/bin/env bash
# Installs the system programs the tests and benchmarks use, from Debian's packages,
# only where they are missing: Knot DNS (knotd, kdig), dnsperf, PostgreSQL, Chromium.
set -euo pipefail
need=()
command -v knotd >/dev/null || need+=(knot)
command -v kdig >/dev/null || need+=(knot-dnsutils)
command -v dnsperf >/dev/null || need+=(dnsperf)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v npm >/dev/null || need+=(npm)
# axe-core (npm), which the accessibility tests inject into every page, into .tools/ (not
# committed); Node and npm come with Debian's nodejs/npm packages.
install_axe() {
  if [ -f .tools/node_modules/axe-core/axe.min.js ]; then return 0; fi
  command -v npm >/dev/null || { echo "npm is missing: install Debian's npm for axe-core"; return 1; }
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --silent "axe-core@^4.10" >/dev/null
}
# the OpenID Connect provider the OIDC sign-in tests start on loopback (tests/web/oidc/idp.mjs)
install_oidc_provider() {
  if [ -f .tools/node_modules/oidc-provider/lib/index.js ]; then return 0; fi
  command -v npm >/dev/null || { echo "npm is missing: install Debian's npm for oidc-provider"; return 1; }
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --silent "oidc-provider@9.13.3" >/dev/null
}
if [ ${#need[@]} -eq 0 ]; then install_axe; install_oidc_provider; exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a PostgreSQL cluster on install; the tests run their own on a free port.
install_axe
install_oidc_provider
