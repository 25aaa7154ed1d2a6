#!/usr/bin/env bash
# serve.keys_mtls: key rotation without a restart and mTLS client certificates, against the real
# broker (README.md in this folder; connectors/serve/README.md "Key rotation", "mTLS").
#   1. the --auth-public-key file replaced (moved into place) under a running serve: a token of
#      the new key is taken, one of the old key refused, without a restart; a broken file leaves
#      the keys as they were; SIGHUP reloads as well;
#   2. --tls-client-ca + --tls-client-map: a client certificate of the CA mapped to an operator
#      reads /metrics with no token; an unmapped one of the same CA gets 401; one of another CA
#      fails the handshake.
# Usage: keys_mtls.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR.
set -euo pipefail
# shellcheck source=../eos/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../eos/lib.sh"
eos_init serve-keys "$@"
command -v curl >/dev/null || eos_fail "curl is needed (deploy/install-deps.sh)"
command -v openssl >/dev/null || eos_fail "openssl is needed (deploy/install-deps.sh)"
EOS_CLOCK=wall eos_config
EOS_TOPICS_MADE=1 # serve creates its topics; the cleanup deletes $EOS_PREFIX.*
W=$EOS_WORK

# Keys: the old (EC) and the new (RSA) signing key of the "identity provider".
openssl ecparam -name prime256v1 -genkey -noout -out "$W/old.pem" 2>/dev/null
openssl ec -in "$W/old.pem" -pubout -out "$W/old.pub.pem" 2>/dev/null
openssl genrsa -out "$W/new.pem" 2048 2>/dev/null
openssl rsa -in "$W/new.pem" -pubout -out "$W/new.pub.pem" 2>/dev/null
cp "$W/old.pub.pem" "$W/auth.pem"
token() { "$SAMORDNA" token --signing-key "$W/$1.pem" --org REGION:01 --role operator --ttl 600; }
OLD=$(token old)
NEW=$(token new)

# A throw-away CA, serve's certificate, two client certificates of the CA and one of another CA.
mkcert() {  # NAME SUBJECT CA
  openssl req -newkey rsa:2048 -nodes -keyout "$W/$1.key" -out "$W/$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$W/$1.csr" -CA "$W/$3.pem" -CAkey "$W/$3.key" -CAcreateserial \
    -days 2 -out "$W/$1.crt" 2>/dev/null || eos_fail "openssl could not sign $1"
}
for ca in ca other-ca; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/$ca.key" -out "$W/$ca.pem" -days 2 \
    -subj "/CN=samordna test $ca" 2>/dev/null || eos_fail "openssl could not make $ca"
done
mkcert server "/CN=127.0.0.1" ca
mkcert scraper "/C=SE/O=Region Test/CN=prometheus" ca
mkcert unmapped "/C=SE/O=Region Test/CN=someone-else" ca
mkcert stranger "/C=SE/O=Region Test/CN=prometheus" other-ca
# The subject as serve sees it (RFC 2253), the form the map takes.
SUBJECT=$(openssl x509 -in "$W/scraper.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
cat >"$W/clients.yaml" <<YAML
clientCertificates:
  - subject: "$SUBJECT"
    org: REGION:01
    role: operator
    name: region-01-prometheus
YAML

"$SAMORDNA" serve --config "$EOS_CFG" --data-dir "$W/data" --http-port 0 \
  --auth-public-key "$W/auth.pem" --audit-topic "$EOS_PREFIX.audit" \
  --delivery-status-topic "$EOS_PREFIX.delivery-status" \
  --tls-cert "$W/server.crt" --tls-key "$W/server.key" \
  --tls-client-ca "$W/ca.pem" --tls-client-map "$W/clients.yaml" -v \
  >"$W/serve.log" 2>&1 </dev/null &
PID=$!
echo "$PID" >>"$W/pids"
eos_wait_log "$W/serve.log" 'listening on' 1 60 "$PID"
URL="https://$(sed -nE 's/.*listening on ([0-9.:]+) .*/\1/p' "$W/serve.log" | tail -1)"
metrics() {  # curl args... -> the status of GET /metrics
  curl -sk -o /dev/null -w '%{http_code}' "$@" "$URL/metrics" || true
}
bearer() { metrics -H "Authorization: Bearer $1"; }
reloads() { grep -c "key(s) loaded" "$W/serve.log" || true; }

# --- 1. key rotation ---
[[ $(bearer "$OLD") == 200 ]] || eos_fail "the old key's token refused before the rotation"
[[ $(bearer "$NEW") == 401 ]] || eos_fail "the new key's token taken before the rotation"
cp "$W/new.pub.pem" "$W/auth.pem.tmp" && mv "$W/auth.pem.tmp" "$W/auth.pem"
eos_wait_log "$W/serve.log" 'key\(s\) loaded .*the file changed' 1 20 "$PID"
[[ $(bearer "$NEW") == 200 ]] || eos_fail "the new key's token refused after the rotation"
[[ $(bearer "$OLD") == 401 ]] || eos_fail "the old key's token still taken after the rotation"
eos_log "rotation by a new file: new key taken, old refused, no restart"
printf -- '-----BEGIN PUBLIC KEY-----\nhalf written' >"$W/auth.pem.tmp" && mv "$W/auth.pem.tmp" "$W/auth.pem"
eos_wait_log "$W/serve.log" 'not reloaded, the old keys stay' 1 20 "$PID"
[[ $(bearer "$NEW") == 200 ]] || eos_fail "a broken key file locked the callers out"
cp "$W/old.pub.pem" "$W/auth.pem.tmp" && mv "$W/auth.pem.tmp" "$W/auth.pem"
eos_wait_log "$W/serve.log" 'key\(s\) loaded' 2 20 "$PID"
before=$(reloads)
kill -HUP "$PID"
eos_wait_log "$W/serve.log" 'key\(s\) loaded .*SIGHUP' 1 20 "$PID"
eos_alive "$PID" || eos_fail "serve died on SIGHUP"
[[ $(bearer "$OLD") == 200 ]] || eos_fail "the old key's token refused after rotating back"
eos_log "a broken file keeps the keys; SIGHUP reloads ($before reloads before it)"

# --- 2. mTLS ---
[[ $(metrics) == 401 ]] || eos_fail "no token and no certificate: not 401"
got=$(metrics --cert "$W/scraper.crt" --key "$W/scraper.key")
[[ $got == 200 ]] || eos_fail "the mapped client certificate got $got on /metrics"
got=$(metrics --cert "$W/unmapped.crt" --key "$W/unmapped.key")
[[ $got == 401 ]] || eos_fail "an unmapped client certificate got $got"
got=$(metrics --cert "$W/stranger.crt" --key "$W/stranger.key")
[[ $got == 000 ]] || eos_fail "a certificate of another CA got through the handshake ($got)"
got=$(bearer "$OLD")
[[ $got == 200 ]] || eos_fail "a token without a certificate got $got next to mTLS"
grep -q "CN=" "$W/serve.log" && eos_fail "serve logged a certificate subject"
eos_log "mTLS: mapped certificate 200, unmapped 401, other CA refused in the handshake"
eos_stop "$PID"
EOS_OK=1
