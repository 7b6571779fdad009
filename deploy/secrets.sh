#!/usr/bin/env bash
# Make the secrets of an indeklima cloud stack in DIR (idempotent: existing ones are kept):
#   DIR/env             INGEST/JOBS/CONTROL_MQTT_PASSWORD, GRAFANA_ADMIN_PASSWORD (random hex)
#   DIR/passwd          Mosquitto password file with the service users ingest, jobs, control
#   DIR/certs/server.*  a self-signed TLS certificate for the gateway listener (CN = $BROKER_HOST,
#                       default this host's name) — replace with one from a public CA for real use
# Needs mosquitto_passwd (Debian: mosquitto) and openssl.
# Usage: deploy/secrets.sh DIR      then add each gateway: mosquitto_passwd -b DIR/passwd GW-ID PW
set -euo pipefail

dir=${1:?"usage: $0 DIR (e.g. deploy/secrets or /etc/indeklima/secrets)"}
for tool in mosquitto_passwd openssl; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found: apt-get install -y mosquitto openssl" >&2
        exit 1
    }
done

umask 077
mkdir -p "$dir/certs"
env_file="$dir/env"
touch "$env_file"
for name in INGEST_MQTT_PASSWORD JOBS_MQTT_PASSWORD CONTROL_MQTT_PASSWORD GRAFANA_ADMIN_PASSWORD; do
    if ! grep -q "^${name}=" "$env_file"; then
        printf '%s=%s\n' "$name" "$(openssl rand -hex 24)" >>"$env_file"
    fi
done

# shellcheck source=/dev/null
. "$env_file"
passwd_file="$dir/passwd"
touch "$passwd_file"
for user in ingest jobs control; do
    if ! grep -q "^${user}:" "$passwd_file"; then
        case $user in
            ingest) password=$INGEST_MQTT_PASSWORD ;;
            jobs) password=$JOBS_MQTT_PASSWORD ;;
            control) password=$CONTROL_MQTT_PASSWORD ;;
        esac
        mosquitto_passwd -b "$passwd_file" "$user" "$password"
    fi
done

if [ ! -e "$dir/certs/server.crt" ]; then
    host=${BROKER_HOST:-$(hostname -f 2>/dev/null || hostname)}
    openssl req -x509 -newkey rsa:3072 -nodes -days 825 -subj "/CN=${host}" \
        -addext "subjectAltName=DNS:${host}" \
        -keyout "$dir/certs/server.key" -out "$dir/certs/server.crt" 2>/dev/null
fi
echo "secrets in $dir (kept where they existed)"
