#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build, test and run locally (idempotent).
# Runs `apt-get update` first whenever something is missing, or always with CI=true.
set -euo pipefail
PKGS=(
    # build
    gcc make pkg-config libc6-dev
    libcurl4-openssl-dev libssl-dev libfcgi-dev libgd-dev libexif-dev libcmocka-dev libjansson-dev libseccomp-dev libxml2-dev
    # tests and tools (node and npm come with the machine; the browser test's npm packages are
    # installed by the test itself from tests/browser/package-lock.json)
    valgrind curl python3 python3-boto3 python3-botocore awscli clang chromium
    # test_install: systemd-analyze verify / security / syscall-filter (no running systemd
    # needed), man --warnings for the man pages
    systemd man-db
    # the local stack: a real S3 server (Ceph RGW), front servers, the FastCGI spawner
    radosgw ceph-mon ceph-osd ceph-common nginx-light lighttpd spawn-fcgi
    # benchmarks (make bench): the chart and the profile
    gnuplot-nox linux-perf
)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ] && [ "${CI:-}" != true ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: apt-get update; installing: ${missing[*]:-(nothing missing)}" >&2
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
    # policy-rc.d keeps Debian's postinst scripts from starting nginx/lighttpd system services
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
