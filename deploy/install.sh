#!/usr/bin/env bash
# Bare-metal install of indeklima on Debian 12 (or Raspberry Pi OS 12). Idempotent: run it again
# after `git pull` to upgrade; existing settings, secrets and data are kept.
#
#   sudo deploy/install.sh gateway   # a Pi in a building: the gateway service
#   sudo deploy/install.sh cloud     # the server: Mosquitto, InfluxDB, ingest x2, hourly jobs
#
# Grafana is not in Debian: add Grafana's apt repository (https://apt.grafana.com) and copy
# dashboards/provisioning/* to /etc/grafana/provisioning/ (see deploy/README.md).
set -euo pipefail

role=${1:-}
case $role in
    gateway | cloud) ;;
    *)
        echo "usage: $0 gateway|cloud" >&2
        exit 2
        ;;
esac
if [ "$(id -u)" -ne 0 ]; then
    echo "run as root: sudo $0 $role" >&2
    exit 1
fi

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deploy=$src/deploy
prefix=/opt/indeklima
etc=/etc/indeklima
state=/var/lib/indeklima
ingest_instances=${INGEST_INSTANCES:-2}

log() { printf '==> %s\n' "$*"; }

# --- Debian packages -----------------------------------------------------------------------------
packages=(python3 python3-venv python3-pip ca-certificates)
if [ "$role" = gateway ]; then
    packages+=(bluez)
else
    packages+=(mosquitto influxdb openssl curl)
fi
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The distribution's python3 (PEP 668 "externally managed": the program gets its own venv).
python=/usr/bin/python3
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "fejl / error: indeklima kræver / needs Python >= 3.11; $python is" \
        "$("$python" -c 'import platform; print(platform.python_version())')." \
        "Debian 12 / Raspberry Pi OS 12 (bookworm) have 3.11: upgrade the OS." >&2
    exit 1
}

# --- user, folders -------------------------------------------------------------------------------
if ! id indeklima >/dev/null 2>&1; then
    log "user indeklima"
    useradd --system --home-dir "$state" --no-create-home --shell /usr/sbin/nologin indeklima
fi
if [ "$role" = gateway ]; then
    usermod -a -G dialout,bluetooth indeklima
fi
install -d -o root -g indeklima -m 0750 "$etc"
install -d -o indeklima -g indeklima -m 0750 "$state"

# --- the program, in its own venv ----------------------------------------------------------------
# A venv whose interpreter no longer runs (the OS's Python was upgraded) is made again.
if [ -e "$prefix/venv" ] && ! "$prefix/venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "venv $prefix/venv is broken (Python upgraded?): making it again"
    rm -rf "$prefix/venv"
fi
if [ ! -x "$prefix/venv/bin/python" ]; then
    log "venv $prefix/venv with $python ($("$python" --version))"
    "$python" -m venv "$prefix/venv"
fi
extra=edge
if [ "$role" = cloud ]; then
    extra=cloud
fi
log "pip install ${src}[${extra}]"
"$prefix/venv/bin/pip" install -q --disable-pip-version-check --upgrade "${src}[${extra}]"

# --- settings, secrets, broker -------------------------------------------------------------------
install_once() { # install_once SOURCE TARGET MODE: never overwrite an edited file
    if [ ! -e "$2" ]; then
        install -o root -g indeklima -m "$3" "$1" "$2"
        log "$2 (from $1: edit it)"
    fi
}

units=()
if [ "$role" = gateway ]; then
    install_once "$deploy/gateway.example.toml" "$etc/gateway.toml" 0640
    # Bluetooth adapter recovery without root: /dev/rfkill and USB adapters to group indeklima.
    install -D -o root -g root -m 0644 "$deploy/udev/70-indeklima-bluetooth.rules" \
        /etc/udev/rules.d/70-indeklima-bluetooth.rules
    if command -v udevadm >/dev/null && udevadm control --reload-rules; then
        udevadm trigger --subsystem-match=misc --subsystem-match=usb
    fi
    units+=(indeklima-gateway.service)
else
    install_once "$deploy/registry.example.toml" "$etc/registry.toml" 0640
    "$deploy/secrets.sh" "$etc/secrets"
    if [ ! -e /etc/mosquitto/mosquitto.conf.debian ] && [ -e /etc/mosquitto/mosquitto.conf ]; then
        cp -p /etc/mosquitto/mosquitto.conf /etc/mosquitto/mosquitto.conf.debian
    fi
    install -o root -g root -m 0644 "$deploy/mosquitto/mosquitto.conf" /etc/mosquitto/mosquitto.conf
    install -o root -g mosquitto -m 0640 "$deploy/mosquitto/acl" /etc/mosquitto/acl
    # The password file also holds the gateways' users: add them, never replace the file.
    if [ ! -e /etc/mosquitto/passwd ]; then
        install -o root -g mosquitto -m 0640 "$etc/secrets/passwd" /etc/mosquitto/passwd
    fi
    install -d -o root -g mosquitto -m 0750 /etc/mosquitto/certs
    for file in server.crt server.key; do
        if [ ! -e "/etc/mosquitto/certs/$file" ]; then
            install -o root -g mosquitto -m 0640 "$etc/secrets/certs/$file" /etc/mosquitto/certs/
        fi
    done
    systemctl enable mosquitto influxdb
    systemctl restart mosquitto
    systemctl start influxdb
    log "InfluxDB database indeklima"
    for _ in $(seq 1 30); do
        curl -fsS http://127.0.0.1:8086/ping >/dev/null 2>&1 && break
        sleep 1
    done
    curl -fsS -XPOST http://127.0.0.1:8086/query --data-urlencode 'q=CREATE DATABASE indeklima' >/dev/null
    for i in $(seq 1 "$ingest_instances"); do
        units+=("indeklima-ingest@$i.service")
    done
    units+=(indeklima-jobs.timer)
fi

# --- systemd units -------------------------------------------------------------------------------
for unit in "$deploy"/systemd/*; do
    install -o root -g root -m 0644 "$unit" /etc/systemd/system/
done
systemctl daemon-reload
log "enable ${units[*]}"
systemctl enable "${units[@]}"
systemctl restart "${units[@]}"
log "done: systemctl status ${units[*]}"
