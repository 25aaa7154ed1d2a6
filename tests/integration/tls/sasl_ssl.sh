#!/usr/bin/env bash
# tests/integration/tls/sasl_ssl.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR: samordna over TLS and
# SASL/SCRAM-SHA-512 to a private broker started by `KAFKA_SECURITY=sasl_ssl kafka.sh start`
# (README.md beside this file).
#
#   1. produce, run (--exit-at-end) and consume through SASL_SSL with the samordna.yaml kafka.sh
#      wrote: committed notifications == simulate, dead letters == its rejections (eos_check).
#   2. the TLS-only listener (SSL, no SASL): consume reads the same notifications.
#   3. a wrong SCRAM password: produce, consume and run each exit non-zero within 60 s, saying
#      "SASL authentication error ... invalid credentials".
#   4. a CA that did not sign the broker's certificate: the same, saying "certificate verify failed".
#   5. secrets: neither the SCRAM password nor the keystore password is on the command line of the
#      running broker or service, or in any log.
#
# Skips (77) without SAMORDNA_KAFKA_BOOTSTRAP like every broker test (the private broker is started
# here; the variable says the broker tests are on and Kafka's jars are fetched). Ports: TLS_KAFKA_PORT
# (29492) and the next three: controller, SSL, SASL_SSL. A port in use fails the test at once.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../eos/lib.sh
source "$HERE/../eos/lib.sh"

eos_init tls "$1" "$2" "$3"
kport=${TLS_KAFKA_PORT:-29492}
kdata=$EOS_WORK/kafka
export KAFKA_PORT=$kport KAFKA_CONTROLLER_PORT=$((kport + 1)) KAFKA_SSL_PORT=$((kport + 2))
export KAFKA_SASL_SSL_PORT=$((kport + 3)) KAFKA_DATA_DIR=$kdata
tls_cleanup() {
  local rc=$?
  trap - EXIT
  [[ ${TLS_BROKER:-0} == 1 ]] && bash "$EOS_KAFKA_SH" stop >/dev/null 2>&1
  (exit "$rc")
  eos_cleanup
}
trap tls_cleanup EXIT
for p in "$kport" $((kport + 1)) $((kport + 2)) $((kport + 3)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    eos_fail "port $p is in use: set TLS_KAFKA_PORT to a free range of four ports"
  fi
done

# The broker starts while the feed is made and simulated.
TLS_BROKER=1
KAFKA_SECURITY=sasl_ssl bash "$EOS_KAFKA_SH" start >"$EOS_WORK/bootstrap.txt" 2>"$EOS_WORK/kafka-start.log" &
start_pid=$!
eos_feed 300 4401 0.01
wait "$start_pid" || { cat "$EOS_WORK/kafka-start.log" >&2; eos_fail "KAFKA_SECURITY=sasl_ssl kafka.sh start failed"; }
EOS_BOOTSTRAP=$(<"$EOS_WORK/bootstrap.txt")
[[ $EOS_BOOTSTRAP == "127.0.0.1:$((kport + 3))" ]] || eos_fail "kafka.sh printed '$EOS_BOOTSTRAP', not the SASL_SSL listener 127.0.0.1:$((kport + 3))"
sec=$kdata/security
for f in ca.pem client.properties samordna.yaml java-client.properties scram.pass; do
  [[ -s $sec/$f ]] || eos_fail "kafka.sh wrote no $sec/$f"
done
[[ $(stat -c %a "$sec/samordna.yaml") == 600 && $(stat -c %a "$sec") == 700 ]] ||
  eos_fail "the client files holding the password are not private (samordna.yaml $(stat -c %a "$sec/samordna.yaml"), dir $(stat -c %a "$sec"))"
eos_log "broker: SASL_SSL on $EOS_BOOTSTRAP, SSL on 127.0.0.1:$((kport + 2))"

# A samordna config: kafka.sh's (bootstrap and the client properties) plus this test's topics.
tls_config() {  # OUT [sed expression applied to kafka.sh's samordna.yaml]
  local out=$1 expr=${2:-}
  (
    umask 077
    {
      if [[ -n $expr ]]; then sed -e "$expr" "$sec/samordna.yaml"; else cat "$sec/samordna.yaml"; fi
      cat <<EOF
  groupId: $EOS_PREFIX
  partitions: 4
  topics: {events: $EOS_PREFIX.events, notifications: $EOS_PREFIX.notifications, deadletter: $EOS_PREFIX.deadletter, changelog: $EOS_PREFIX.changelog}
stateDir: $EOS_WORK/state
rulesDir: $EOS_SOURCE/rules/sets
clock: event-time
until: $EOS_UNTIL
EOF
    } >"$out"
  )
}
tls_config "$EOS_CFG"

# ---------------------------------------------------------------- 1. produce, run, consume
bash "$EOS_KAFKA_SH" tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$EOS_BOOTSTRAP" \
  --command-config "$sec/java-client.properties" --create --topic "$EOS_PREFIX.events" \
  --partitions 4 --replication-factor 1 >"$EOS_WORK/topics.log" 2>&1 ||
  { cat "$EOS_WORK/topics.log" >&2; eos_fail "cannot create $EOS_PREFIX.events over SASL_SSL"; }
rc=0
"$SAMORDNA" produce --config "$EOS_CFG" --file "$EOS_WORK/feed.jsonl" 2>"$EOS_WORK/produce.err" || rc=$?
((rc == 0 || rc == 1)) || { tail -n 5 "$EOS_WORK/produce.err" >&2; eos_fail "produce over SASL_SSL exited $rc"; }
# Expected dead letters: simulate's rejections less the lines produce refused (as eos_load).
sed -nE 's/^\{.*"line":([0-9]+).*/\1/p' "$EOS_WORK/produce.err" | sort -u >"$EOS_WORK/produce-refused.lines"
awk 'FILENAME == ARGV[1] { refused[$1] = 1; next }
     match($0, /"line":[0-9]+/) { if (!(substr($0, RSTART + 7, RLENGTH - 7) in refused)) print }' \
  "$EOS_WORK/produce-refused.lines" "$EOS_WORK/simulate.err" >"$EOS_WORK/expected-deadletter.jsonl"
eos_selfcheck
eos_log "produced over SASL_SSL; expecting $EOS_EXPECTED notifications, $(wc -l <"$EOS_WORK/expected-deadletter.jsonl") dead letters"

"$SAMORDNA" run --config "$EOS_CFG" --exit-at-end -v >"$EOS_WORK/run.log" 2>&1 </dev/null &
run_pid=$!
echo "$run_pid" >>"$EOS_WORK/pids"
# 5. (while it runs) no secret on the command lines of the long-running processes.
scram=$(<"$sec/scram.pass")
keystore=$(<"$sec/keystore.pass")
broker=$(<"$kdata/kafka.pid")
sleep 1
for p in "$run_pid" "$broker"; do
  [[ -r /proc/$p/cmdline ]] || continue
  if tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -e "$scram" -e "$keystore"; then
    eos_fail "a password is on the command line of pid $p"
  fi
done
until=$((SECONDS + 120))
while eos_alive "$run_pid"; do
  ((SECONDS < until)) || eos_fail "run --exit-at-end over SASL_SSL did not finish within 120 s"
  sleep 0.5
done
rc=0
wait "$run_pid" || rc=$?
((rc == 0)) || eos_fail "run over SASL_SSL exited $rc: $(tail -n 3 "$EOS_WORK/run.log")"
eos_check

# ---------------------------------------------------------------- 2. the TLS-only listener
tls_config "$EOS_WORK/ssl.yaml" "s/127.0.0.1:$((kport + 3))/127.0.0.1:$((kport + 2))/; s/\"SASL_SSL\"/\"SSL\"/; /sasl\\./d"
grep -q '"SSL"' "$EOS_WORK/ssl.yaml" && ! grep -q 'sasl' "$EOS_WORK/ssl.yaml" || eos_fail "could not make the SSL config"
"$SAMORDNA" consume --config "$EOS_WORK/ssl.yaml" --topic "$EOS_PREFIX.notifications" --from-beginning \
  --timeout-ms 3000 >"$EOS_WORK/ssl.jsonl" 2>"$EOS_WORK/ssl.err" || eos_fail "consume over SSL (127.0.0.1:$((kport + 2))) failed: $(tail -n 2 "$EOS_WORK/ssl.err")"
eos_compare "$EOS_WORK/expected.jsonl" "$EOS_WORK/ssl.jsonl" ssl || eos_fail "consume over SSL read other notifications"
eos_log "2. SSL listener: consume reads the same $(wc -l <"$EOS_WORK/ssl.jsonl") notifications"

# ---------------------------------------------------------------- 3, 4. refused, in bounded time
refused() {  # CASE CONFIG REGEX: produce, consume, run each exit non-zero within 60 s with REGEX
  local name=$1 cfg=$2 regex=$3 cmd rc t0 i=0
  for cmd in produce consume run; do
    i=$((i + 1))
    local args=(--config "$cfg")
    case $cmd in
      produce) args+=(--file "$EOS_WORK/feed.jsonl");;
      consume) args+=(--topic "$EOS_PREFIX.notifications" --from-beginning --timeout-ms 3000);;
      run) args+=(--state-dir "$EOS_WORK/state-$name" --instance-id "$EOS_PREFIX-$name");;
    esac
    t0=$SECONDS
    rc=0
    timeout -s KILL 60 "$SAMORDNA" "$cmd" "${args[@]}" >/dev/null 2>"$EOS_WORK/$name-$cmd.err" </dev/null || rc=$?
    ((rc != 137)) || eos_fail "$name: $cmd still running after 60 s (a hang, not a refusal)"
    ((rc != 0)) || eos_fail "$name: $cmd exited 0"
    grep -qE -- "$regex" "$EOS_WORK/$name-$cmd.err" ||
      eos_fail "$name: $cmd's stderr does not say why ('$regex'): $(tail -n 2 "$EOS_WORK/$name-$cmd.err")"
    grep -qF -e "$scram" "$EOS_WORK/$name-$cmd.err" && eos_fail "$name: $cmd printed the password"
    eos_log "$name: $cmd exit $rc after $((SECONDS - t0)) s: $(grep -oE -- "$regex.{0,60}" "$EOS_WORK/$name-$cmd.err" | head -n 1)"
  done
}
tls_config "$EOS_WORK/bad-password.yaml" 's/sasl.password: .*/sasl.password: "not-the-password"/'
refused "3. wrong password" "$EOS_WORK/bad-password.yaml" 'SASL authentication error: .*invalid credentials'
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$EOS_WORK/other-ca.key" -out "$EOS_WORK/other-ca.pem" \
  -days 2 -subj "/CN=not the broker's CA" >/dev/null 2>&1 || eos_fail "openssl could not make a second CA"
tls_config "$EOS_WORK/bad-ca.yaml" "s#ssl.ca.location: .*#ssl.ca.location: \"$EOS_WORK/other-ca.pem\"#"
refused "4. untrusted CA" "$EOS_WORK/bad-ca.yaml" 'certificate verify failed'

# ---------------------------------------------------------------- 5. no secret in any log
for f in "$EOS_WORK"/*.log "$EOS_WORK"/*.err "$kdata"/logs/*; do
  [[ -f $f ]] || continue
  if grep -qF -e "$scram" -e "$keystore" "$f"; then eos_fail "a password is in $f"; fi
done
eos_log "5. no password on a command line or in a log ($(ls "$kdata"/logs | wc -l) broker logs, $(ls "$EOS_WORK"/*.log "$EOS_WORK"/*.err | wc -l) of ours)"
EOS_OK=1
