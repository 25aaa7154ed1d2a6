#!/usr/bin/env bash
# eos.live_timers: in `--clock wall` (the default) a deadline fires on the wall clock, about a second
# after it is due, and its notification is committed (read_committed) within a few seconds.
# Each episode: `admitted` + `needsAssessed` (SOCIAL_SERVICES, no estimatedDischargeAt) whose
# occurredAt is now - 24 h + D s (D = 8, 9, ...). The admission notice is held (noticeHeld at once)
# and its deadline, due at occurredAt + 24 h, stays pending: deadlineMissed ADMISSION_NOTICE with
# issuedAt = dueAt + 1 s (the timer's fire time). The reminder (4 h before due) is already past when
# the deadline opens, so none is sent.
# README.md in this folder; usage: live_timers.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
# Environment: EOS_EPISODES (20), EOS_KEEP=1.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init live_timers "$@"

episodes=${EOS_EPISODES:-20}
lead=20          # seconds from the feed's creation to the first deadline: room for the startup
bound=10         # generous: every deadlineMissed committed within this many seconds of issuedAt

# Wall clock (the default): no `clock:` and no `until:`.
# shellcheck disable=SC2119  # no extra config lines
EOS_CLOCK=wall eos_config

EOS_TOPICS_MADE=1
eos_topics create "$EOS_PREFIX.events" --if-not-exists --partitions 4 --replication-factor 1 \
  >"$EOS_WORK/topics.log" 2>&1 || { cat "$EOS_WORK/topics.log" >&2; eos_fail "cannot create $EOS_PREFIX.events"; }

# The service first: it creates the notifications topic, and it is ready before the feed arrives.
eos_start run "$EOS_WORK/state" "$EOS_PREFIX-a"
svc=$EOS_PID
eos_wait_log "$EOS_WORK/run.log" 'assigned partition' 4 60 "$svc"

# A watcher that stamps every committed notification with the wall time it was read. Kafka's
# ConsoleConsumer (read_committed) flushes each record (`samordna consume` buffers its output); only
# key and create time are printed (the value is binary protobuf), the content is checked below with
# `samordna consume`. Its command line names the work dir (the properties file), so the cleanup
# kills it.
printf 'isolation.level=read_committed\ngroup.id=%s-watch\nauto.offset.reset=earliest\n' "$EOS_PREFIX" \
  >"$EOS_WORK/watch.properties"
mkfifo "$EOS_WORK/watch.fifo"
bash "$EOS_KAFKA_SH" tool org.apache.kafka.tools.consumer.ConsoleConsumer \
  --bootstrap-server "$EOS_BOOTSTRAP" --topic "$EOS_PREFIX.notifications" \
  --consumer.config "$EOS_WORK/watch.properties" \
  --property print.key=true --property print.value=false --property print.timestamp=true \
  --property key.separator=' ' >"$EOS_WORK/watch.fifo" 2>"$EOS_WORK/watch.err" </dev/null &
watch_sh=$!
echo "$watch_sh" >>"$EOS_WORK/pids"
while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done \
  <"$EOS_WORK/watch.fifo" >"$EOS_WORK/watch.txt" &
sleep 1
watch_java=$(ps -o pid= --ppid "$watch_sh" | tr -d ' ' | head -n 1)
[[ -n $watch_java ]] && echo "$watch_java" >>"$EOS_WORK/pids"
sleep 6   # the JVM's startup and the group join, before the first notification

now=$(date -u +%s)
: >"$EOS_WORK/feed.jsonl"
: >"$EOS_WORK/due.txt"
for ((i = 1; i <= episodes; i++)); do
  ep=$(printf 'lt-%s-%03d' "$$" "$i")
  at_s=$((now - 86400 + lead + i))
  at=$(date -u -d "@$at_s" +%Y-%m-%dT%H:%M:%SZ)
  pnr=(195704289999 194608239986 200002292399)
  cat >>"$EOS_WORK/feed.jsonl" <<EOF
{"eventId":"$ep-1","episodeId":"$ep","occurredAt":"$at","admitted":{"patient":{"personalId":"${pnr[i % 3]}","name":"Test Person $i","address":"Gatan $i, 753 20 Uppsala","homeMunicipality":"0380"},"careUnit":"LT-AVD1","region":"03","careType":"SOMATIC"}}
{"eventId":"$ep-2","episodeId":"$ep","occurredAt":"$at","needsAssessed":{"needs":["SOCIAL_SERVICES"]}}
EOF
  # episode, dueAt, the timer's fire time (dueAt + 1 s) as epoch seconds
  echo "$ep $(date -u -d "@$((at_s + 86400))" +%Y-%m-%dT%H:%M:%SZ) $((at_s + 86400 + 1))" >>"$EOS_WORK/due.txt"
done
"$SAMORDNA" produce --config "$EOS_CFG" --file "$EOS_WORK/feed.jsonl" 2>"$EOS_WORK/produce.err" ||
  { cat "$EOS_WORK/produce.err" >&2; eos_fail "samordna produce failed"; }
produced=$(date -u +%s)
first_due=$((now + lead + 1 + 1))
((produced + 3 < first_due)) || eos_fail "producing took too long: the first deadline ($first_due) is too close (now $produced)"
eos_log "produced $((2 * episodes)) events for $episodes episodes; deadlines fire from $(date -u -d "@$first_due" +%T) to $(date -u -d "@$((first_due + episodes - 1))" +%T) UTC"

# Until every episode has its 2 records (or the last fire time + bound + 5 s).
last_fire=$((now + lead + episodes + 1))
until (($(wc -l <"$EOS_WORK/watch.txt") >= 2 * episodes)); do
  eos_alive "$svc" || eos_fail "the service exited (see run.log)"
  (($(date -u +%s) < last_fire + bound + 5)) ||
    eos_fail "only $(wc -l <"$EOS_WORK/watch.txt") of $((2 * episodes)) notifications committed by $(date -u +%T)"
  sleep 0.2
done
sleep 2   # anything extra (a reminder, a duplicate) would show up now
eos_stop "$svc"
[[ -z $watch_java ]] || kill "$watch_java" 2>/dev/null || true
kill "$watch_sh" 2>/dev/null || true

# The content, read_committed, with samordna's decoder.
eos_consume "$EOS_PREFIX.notifications" "$EOS_WORK/notifications.jsonl" --timeout-ms 5000 \
  2>"$EOS_WORK/consume.err" || eos_fail "consume failed: $(head -c 300 "$EOS_WORK/consume.err")"
# Expected, exactly (ids aside): per episode one noticeHeld issued at occurredAt (the held notice)
# and one deadlineMissed ADMISSION_NOTICE with issuedAt = dueAt + 1 s; nothing else.
: >"$EOS_WORK/expected.txt"
while read -r ep due fire; do
  echo "$ep noticeHeld ADMISSION_NOTICE MISSING_CONTENT" >>"$EOS_WORK/expected.txt"
  echo "$ep deadlineMissed ADMISSION_NOTICE $due $(date -u -d "@$fire" +%Y-%m-%dT%H:%M:%SZ)" >>"$EOS_WORK/expected.txt"
done <"$EOS_WORK/due.txt"
sed -E 's/^.*"episodeId":"([^"]*)".*"issuedAt":"([^"]*)".*"(noticeHeld|deadlineMissed|deadlineReminder)":\{"(notice|deadline)":"([A-Z_]*)"(,"reason":"([A-Z_]*)")?(.*"dueAt":"([^"]*)")?.*$/\1 \3 \5 \7 \9 \2/' \
  "$EOS_WORK/notifications.jsonl" |
  awk '$2 == "noticeHeld" { print $1, $2, $3, $4; next } { print $1, $2, $3, $4, $5 }' >"$EOS_WORK/got.txt"
if ! diff <(LC_ALL=C sort "$EOS_WORK/expected.txt") <(LC_ALL=C sort "$EOS_WORK/got.txt") >"$EOS_WORK/content.diff"; then
  head -n 20 "$EOS_WORK/content.diff" >&2
  eos_fail "the committed notifications are not one noticeHeld and one deadlineMissed (issuedAt = dueAt + 1 s) per episode"
fi
ids=$(grep -o '^{"notificationId":"[^"]*"' "$EOS_WORK/notifications.jsonl" | LC_ALL=C sort | uniq -d | wc -l)
((ids == 0)) || eos_fail "$ids notificationId(s) twice"
eos_log "content exact: $episodes noticeHeld + $episodes deadlineMissed (issuedAt = dueAt + 1 s), no reminder, no duplicate"

# Latency: the wall time the watcher read each episode's deadlineMissed (its second record; the
# first is the noticeHeld, at once) minus issuedAt.
awk 'NR == FNR { fire[$1] = $3; next }
     { k = $NF; n[k]++; if (n[k] == 2 && (k in fire)) printf "%s %.3f\n", k, $1 - fire[k] }' \
  "$EOS_WORK/due.txt" "$EOS_WORK/watch.txt" >"$EOS_WORK/latency.txt"
(($(wc -l <"$EOS_WORK/latency.txt") == episodes)) || eos_fail "latency: $(wc -l <"$EOS_WORK/latency.txt") of $episodes deadlineMissed seen by the watcher"
# The noticeHeld (each episode's first record) at once: within the bound of the produce.
awk -v p="$produced" -v b="$bound" '{ k = $NF; if (!(k in seen)) { seen[k] = 1; d = $1 - p; if (d > b) { bad = 1; print "  noticeHeld late: " k " " d " s" } } }
     END { exit bad }' "$EOS_WORK/watch.txt" || eos_fail "a noticeHeld was committed more than ${bound}s after its events were produced"
sed 's/^/  latency /' "$EOS_WORK/latency.txt"
stats=$(awk '{ print $2 }' "$EOS_WORK/latency.txt" | LC_ALL=C sort -g |
  awk '{ v[NR] = $1 } END { printf "min %.3f s, median %.3f s, max %.3f s", v[1], v[int((NR + 1) / 2)], v[NR] }')
eos_log "consumed wall time - issuedAt: $stats"
awk -v b="$bound" '$2 > b || $2 < -1 { bad = 1; print "  out of bounds: " $0 } END { exit bad }' "$EOS_WORK/latency.txt" ||
  eos_fail "a deadlineMissed was committed more than ${bound}s after its issuedAt (or before it)"
EOS_OK=1
