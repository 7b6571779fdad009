#!/usr/bin/env bash
# Make the secrets of an indeklima cloud stack in DIR (idempotent: existing ones are kept):
#   DIR/env             INGEST/JOBS/CONTROL_MQTT_PASSWORD, BROKER_ADMIN_PASSWORD,
#                       GRAFANA_ADMIN_PASSWORD, INFLUX_*_PASSWORD (random hex)
#   DIR/<name>          each of them also alone in a file named after it in lower case
#                       (ingest_mqtt_password …): the services read --…-password-file, never argv
#   DIR/passwd          Mosquitto password file with the service users ingest, jobs, control
#   DIR/dynamic-security.json  the TLS listener's dynamic-security plugin config with its admin
#                       user indeklima-admin (gateways are added by `indeklima gateway provision`)
#   DIR/certs/server.*  a self-signed TLS certificate for the gateway listener (CN = $BROKER_HOST,
#                       default this host's name) — replace with one from a public CA for real use
# Needs mosquitto_passwd and mosquitto_ctrl (Debian: mosquitto) and openssl.
# Usage: deploy/secrets.sh DIR      then add each gateway: indeklima gateway provision GW-ID …
#        COMPOSE=1 deploy/secrets.sh deploy/secrets    for the compose stack (as root)
set -euo pipefail

dir=${1:?"usage: $0 DIR (e.g. deploy/secrets or /etc/indeklima/secrets)"}
for tool in mosquitto_passwd mosquitto_ctrl openssl; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found: apt-get install -y mosquitto openssl" >&2
        exit 1
    }
done

umask 077
mkdir -p "$dir/certs"
env_file="$dir/env"
touch "$env_file"
names=(INGEST_MQTT_PASSWORD JOBS_MQTT_PASSWORD CONTROL_MQTT_PASSWORD BROKER_ADMIN_PASSWORD
    GRAFANA_ADMIN_PASSWORD INFLUX_ADMIN_PASSWORD INFLUX_WRITER_PASSWORD INFLUX_JOBS_PASSWORD
    INFLUX_READER_PASSWORD)
for name in "${names[@]}"; do
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

# One file per secret (umask 077: mode 0600 from the start).
for name in "${names[@]}"; do
    file="$dir/${name,,}"
    if [ ! -e "$file" ]; then
        printf '%s' "${!name}" >"$file"
    fi
done

# For the compose stack (COMPOSE=1): Docker secrets from files keep the host's owner and mode,
# so hand each file to the container user that reads it (indeklima image: uid 10001;
# Grafana gets its password from secrets/env). Mode stays 0600.
if [ "${COMPOSE:-0}" = 1 ]; then
    chown 10001 "$dir/ingest_mqtt_password" "$dir/jobs_mqtt_password" \
        "$dir/influx_writer_password" "$dir/influx_jobs_password"
fi

# The dynamic-security plugin's config with its admin user (the password is on mosquitto_ctrl's
# command line for this one moment, as root, at install time; it never is again).
if [ ! -e "$dir/dynamic-security.json" ]; then
    mosquitto_ctrl dynsec init "$dir/dynamic-security.json" indeklima-admin \
        "$BROKER_ADMIN_PASSWORD" >/dev/null
fi

if [ ! -e "$dir/certs/server.crt" ]; then
    host=${BROKER_HOST:-$(hostname -f 2>/dev/null || hostname)}
    openssl req -x509 -newkey rsa:3072 -nodes -days 825 -subj "/CN=${host}" \
        -addext "subjectAltName=DNS:${host}" \
        -keyout "$dir/certs/server.key" -out "$dir/certs/server.crt" 2>/dev/null
fi
echo "secrets in $dir (kept where they existed)"
