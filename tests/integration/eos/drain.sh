#!/usr/bin/env bash
# eos.drain: in `--clock wall` (the default), the deadlines that fell due while the service was down
# fire after the restart in bounded passes interleaved with consumption (a round of the service's
# loop takes up to `timerPass` messages already fetched, then one pass of up to `timerPass` timers per
# partition, and no transaction holds more than `maxBatch` inputs): every overdue deadline fires exactly once, none is skipped, and the events that
# arrived during the downtime are consumed and committed while the backlog is still draining. A
# SIGKILL in the middle of a second drain changes nothing in the committed output.
#
# A backlog episode: `admitted` + `needsAssessed` (SOCIAL_SERVICES, no estimatedDischargeAt) with
# occurredAt = now - 24 h + lead (+ 0..3 s): a noticeHeld at once; its ADMISSION_NOTICE deadline,
# due at occurredAt + 24 h, fires as one deadlineMissed with issuedAt = dueAt + 1 s (no reminder:
# due - 4 h is past when the deadline opens). A "new" episode is produced during a downtime with
# occurredAt = now: one noticeHeld, its deadline a day ahead.
#
#   run1  (default batching) applies backlog A; SIGTERM before any of it is due. Down: the new
#         episodes of A are produced, then every A deadline is overdue.
#   run2  (timerPass 2, maxBatch 20) drains A and consumes A's new episodes. From its -vv log (a
#         line per committed transaction): every A timer fired once; no transaction held more
#         than maxBatch inputs, so the drain took many; the last new event
#         was committed before the last A timer fired. Then backlog B is produced to it, and SIGTERM
#         before any of B is due. Down: B's new episodes, then every B deadline overdue.
#   run3  (timerPass 10, maxBatch 20: a faster drain) drains B; SIGKILL after a few committed
#         transactions that fired timers, mid-drain.
#   run4  (the same) restores and fires the rest; SIGTERM once the output is complete.
# Then the read_committed notifications, projected to (id, episode, kind, deadline, dueAt,
# issuedAt), must be exactly the expected ones: one noticeHeld per episode, one deadlineMissed per
# backlog episode with issuedAt = dueAt + 1 s, nothing twice, nothing else; no dead letters.
# README.md in this folder; usage: drain.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
# Environment: EOS_BACKLOG (2000 episodes per backlog), EOS_NEW (75 new episodes per downtime),
# EOS_LEAD (18 s from a backlog's creation to its first deadline; B gets 6 s more), EOS_SEED (the
# kill point; random, printed), EOS_KEEP=1.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init drain "$@"

backlog=${EOS_BACKLOG:-2000}
new=${EOS_NEW:-75}
lead=${EOS_LEAD:-18}
lead_b=$((lead + 6))   # B is applied by run2, at maxBatch 20: ~9 s where run1 takes ~3 s for A
spread=4           # a backlog's deadlines fall due over this many seconds
partitions=4       # eos_config's
pass_a=2           # run2: small passes and transactions, so the drain spans many of both
batch_a=20
pass_b=10          # run3, run4: larger ones, a drain of a second or two for the kill to land in
batch_b=20
seed=${EOS_SEED:-$(( ($(date +%s) + $$) % 1000000 ))}
RANDOM=$seed
kill_after=$((2 + RANDOM % 3))   # committed transactions that fired timers, before the SIGKILL
kill_delay=$(printf '0.%03d' $((RANDOM % 100)))   # and then this long: in or between transactions
eos_log "seed $seed (rerun with EOS_SEED=$seed): SIGKILL of the second drain ${kill_delay}s after $kill_after transactions; backlog $backlog episodes, $new new, lead ${lead}s"
# One round of the service's loop consumes at most pass_a messages and fires at most one pass of
# pass_a timers per assigned partition. So the 2*new new events take at least 2*new/pass_a rounds,
# which fire at most 2*new*partitions timers: with this many left over, the drain cannot end before
# the new events are all consumed unless consumption waits for it.
((2 * new * partitions <= backlog * 3 / 4)) ||
  eos_fail "EOS_NEW=$new is too many for EOS_BACKLOG=$backlog: the drain could end with the new events"

EOS_RUN_ARGS=(-v)   # -vv: a debug line per committed transaction
state=$EOS_WORK/state
id=$EOS_PREFIX-a
: >"$EOS_WORK/expected.txt"

EOS_TOPICS_MADE=1
eos_topics create "$EOS_PREFIX.events" --if-not-exists --partitions "$partitions" --replication-factor 1 \
  >"$EOS_WORK/topics.log" 2>&1 || { cat "$EOS_WORK/topics.log" >&2; eos_fail "cannot create $EOS_PREFIX.events"; }

# gen NAME COUNT OCCURRED_AT_EPOCH DUE: NAME.jsonl (2 events per episode; occurredAt spread over
# $spread s when DUE) and the expected notifications appended to expected.txt:
#   id episode noticeHeld ADMISSION_NOTICE MISSING_CONTENT
#   id episode deadlineMissed ADMISSION_NOTICE dueAt issuedAt        (DUE=1: issuedAt = dueAt + 1 s)
gen() {
  local name=$1 count=$2 at0=$3 due=$4
  TZ=UTC awk -v pfx="dr$$-$name" -v n="$count" -v at0="$at0" -v due="$due" -v spread="$spread" \
    -v feed="$EOS_WORK/$name.jsonl" -v expf="$EOS_WORK/expected.txt" '
    function iso(t) { return strftime("%Y-%m-%dT%H:%M:%SZ", t) }
    BEGIN {
      split("195704289999 194608239986 200002292399", pnr, " ")
      for (i = 1; i <= n; i++) {
        ep = sprintf("%s-%04d", pfx, i)
        at = at0 + (due ? i % spread : 0)
        printf "{\"eventId\":\"%s-1\",\"episodeId\":\"%s\",\"occurredAt\":\"%s\",\"admitted\":{\"patient\":{\"personalId\":\"%s\",\"name\":\"Test Person %d\",\"address\":\"Gatan %d, 753 20 Uppsala\",\"homeMunicipality\":\"0380\"},\"careUnit\":\"DR-AVD1\",\"region\":\"03\",\"careType\":\"SOMATIC\"}}\n", ep, ep, iso(at), pnr[i % 3 + 1], i, i > feed
        printf "{\"eventId\":\"%s-2\",\"episodeId\":\"%s\",\"occurredAt\":\"%s\",\"needsAssessed\":{\"needs\":[\"SOCIAL_SERVICES\"]}}\n", ep, ep, iso(at) > feed
        print ep "/e/" ep "-2/1", ep, "noticeHeld ADMISSION_NOTICE MISSING_CONTENT" >> expf
        if (due) print ep "/t/due/ADMISSION_NOTICE/" (at + 86401) "/1", ep, "deadlineMissed ADMISSION_NOTICE", iso(at + 86400), iso(at + 86401) >> expf
      }
    }'
}

produce() {  # NAME
  "$SAMORDNA" produce --config "$EOS_CFG" --file "$EOS_WORK/$1.jsonl" 2>"$EOS_WORK/produce-$1.err" ||
    { cat "$EOS_WORK/produce-$1.err" >&2; eos_fail "samordna produce of $1 failed"; }
}

# The debug line of each committed transaction, as "events fired notifications dead_letters", one
# line per transaction in commit order. New episodes are counted by the notifications that are not
# from timers: one noticeHeld per episode, from its second event (each timer gives one
# deadlineMissed).
txns() {  # LOG
  awk '/committed transaction [0-9]+:/ {
         e = f = n = d = -1
         for (i = 1; i < NF; i++) {
           if ($i == "events") e = $(i + 1)
           else if ($i == "fired") f = $(i + 1)
           else if ($i == "notifications") n = $(i + 1)
           else if ($i == "letters") d = $(i + 1)
         }
         print e, f, n, d
       }' "$1"
}
# Sums over LOG's committed transactions: transactions, timers fired, notifications, dead letters,
# noticeHeld (notifications less timers fired).
sums() { txns "$1" | awk '{ f += $2; n += $3; d += $4 } END { print NR + 0, f + 0, n + 0, d + 0, n - f }'; }
# The events a run consumed, from its last line after a SIGTERM.
consumed() { sed -nE 's/.*stopped: consumed ([0-9]+) .*/\1/p' "$1"; }

# Until LOG's committed transactions hold at least HELD noticeHeld and FIRED timers.
wait_sums() {  # LOG HELD FIRED SECONDS PID
  local log=$1 held=$2 fired=$3 limit=$4 pid=$5 s
  local until=$((SECONDS + limit))
  while :; do
    read -r -a s <<<"$(sums "$log")"
    ((s[4] >= held && s[1] >= fired)) && return 0
    eos_alive "$pid" || eos_fail "pid $pid exited with ${s[4]}/$held noticeHeld and ${s[1]}/$fired timers committed ($(basename "$log"))"
    ((SECONDS < until)) || eos_fail "only ${s[4]}/$held noticeHeld and ${s[1]}/$fired timers committed after ${limit}s ($(basename "$log"))"
    sleep 0.2
  done
}

# No committed transaction of LOG held more than maxBatch inputs (events and timers fired): the
# passes are bounded by the room left in the transaction.
check_bounded() {  # LOG MAX_BATCH
  txns "$1" | awk -v bound="$2" '$1 + $2 > bound { bad = 1; print "  transaction " NR ": " $1 " events, " $2 " timers" }
       END { exit bad }' ||
    eos_fail "$(basename "$1"): a transaction held more than maxBatch ($2) inputs"
}

wait_until_epoch() {  # EPOCH WHAT
  eos_log "waiting until $(date -u -d "@$1" +%T) UTC: $2"
  while (($(date +%s) < $1)); do sleep 0.5; done
}

# While the service is down: the new episodes NAME are produced, then every deadline of the backlog
# (the last fires at LAST_FIRE) falls due.
downtime() {  # NAME LAST_FIRE WHAT
  gen "$1" "$new" "$(date +%s)" 0
  produce "$1"
  eos_log "down: produced $((2 * new)) events of $new new episodes"
  wait_until_epoch $(($2 + 1)) "$3"
}

# ------------------------------------------------------------------- run1: backlog A is applied
# Wall clock (the default): no `clock:`, no `until:`.
EOS_CLOCK=wall eos_config
eos_start run1 "$state" "$id"
pid=$EOS_PID
eos_wait_log "$EOS_WORK/run1.log" 'assigned partition' "$partitions" 90 "$pid"
now=$(date +%s)
gen backlogA "$backlog" $((now - 86400 + lead)) 1
produce backlogA
first_fire_a=$((now + lead + 1))               # the earliest fire time: dueAt + 1 s
last_fire_a=$((now + lead + spread - 1 + 1))
wait_sums "$EOS_WORK/run1.log" "$backlog" 0 90 "$pid"
eos_stop "$pid"
read -r -a s <<<"$(sums "$EOS_WORK/run1.log")"
((s[1] == 0)) || eos_fail "run1 fired ${s[1]} timers before it stopped: the first deadline came too soon (raise EOS_LEAD)"
c=$(consumed "$EOS_WORK/run1.log")
[[ $c == $((2 * backlog)) && ${s[2]} == "$backlog" ]] ||
  eos_fail "run1 consumed '$c' events and committed ${s[2]} notifications, expected $((2 * backlog)) and $backlog noticeHeld"
(($(date +%s) < first_fire_a)) || eos_fail "run1 stopped after the first A deadline had fallen due (raise EOS_LEAD)"
eos_log "run1: $backlog episodes applied (${s[0]} transactions, $backlog noticeHeld, no timer fired), stopped $((first_fire_a - $(date +%s)))s before the first A deadline"

# ------------------------------------------------------------------- downtime A
downtime newA "$last_fire_a" "every A deadline overdue"

# ------------------------------------------------------------------- run2: the drain of A
EOS_CLOCK=wall eos_config "timerPass: $pass_a" "maxBatch: $batch_a"
eos_start run2 "$state" "$id"
pid=$EOS_PID
t0=$SECONDS
wait_sums "$EOS_WORK/run2.log" "$new" "$backlog" 120 "$pid"
drain_s=$((SECONDS - t0))
# The drain as the service committed it: transaction i with t_i timers fired and h_i = n_i - t_i
# noticeHeld (each from the second, last event of a new episode). D: the transaction in which the
# timers fired reached the backlog (the drain's end); E: the one that committed the last new
# episode's noticeHeld, so the last of the new events.
txns "$EOS_WORK/run2.log" >"$EOS_WORK/run2.txns"
read -r drain_txns timer_txns held_txns last_new_txn fired_then max_t <<<"$(
  awk -v b="$backlog" -v m="$new" '
    { h += $3 - $2; f += $2
      if (!D) { if ($2 > 0) tt++; if ($2 > mt) mt = $2 }
      if (!E && $3 > $2) ht++
      if (!E && h >= m) { E = NR; fe = f }
      if (!D && f >= b) D = NR }
    END { print D + 0, tt + 0, ht + 0, E + 0, fe + 0, mt + 0 }' "$EOS_WORK/run2.txns")"
read -r -a s <<<"$(sums "$EOS_WORK/run2.log")"
eos_log "run2 drain (~${drain_s}s): $backlog overdue timers fired in $timer_txns of the first $drain_txns transactions (at most $max_t per transaction); the new episodes' $new noticeHeld were committed in $held_txns transactions, the last in transaction $last_new_txn, when $fired_then of $backlog timers had fired"
((s[1] == backlog)) || eos_fail "run2 fired ${s[1]} timers, the backlog is $backlog (skipped or fired twice)"
((s[4] == new)) || eos_fail "run2 committed ${s[4]} noticeHeld, $new new episodes were produced while it was down"
((s[3] == 0)) || eos_fail "run2 dead-lettered ${s[3]} inputs"
check_bounded "$EOS_WORK/run2.log" "$batch_a"
((last_new_txn < drain_txns)) ||
  eos_fail "the last new event was committed in transaction $last_new_txn, the drain ended in $drain_txns: consumption waited for the backlog"
((held_txns >= 2)) || eos_fail "the new events were all committed in one transaction"

# ------------------------------------------------------------------- run2 goes on: backlog B
now=$(date +%s)
gen backlogB "$backlog" $((now - 86400 + lead_b)) 1
produce backlogB
first_fire_b=$((now + lead_b + 1))
last_fire_b=$((now + lead_b + spread - 1 + 1))
wait_sums "$EOS_WORK/run2.log" $((new + backlog)) "$backlog" 90 "$pid"
eos_stop "$pid"
read -r -a s <<<"$(sums "$EOS_WORK/run2.log")"
((s[1] == backlog)) || eos_fail "run2 fired $((s[1] - backlog)) B timers before it stopped: the first deadline came too soon (raise EOS_LEAD)"
c=$(consumed "$EOS_WORK/run2.log")
[[ $c == $((2 * new + 2 * backlog)) && ${s[4]} == $((new + backlog)) ]] ||
  eos_fail "run2 consumed '$c' events and committed ${s[4]} noticeHeld, expected $((2 * new + 2 * backlog)) and $((new + backlog))"
(($(date +%s) < first_fire_b)) || eos_fail "run2 stopped after the first B deadline had fallen due (raise EOS_LEAD)"
grep -q 'aborting transaction' "$EOS_WORK/run2.log" && eos_fail "run2 aborted a transaction"
eos_log "run2: $backlog B episodes applied, stopped $((first_fire_b - $(date +%s)))s before the first B deadline"

# ------------------------------------------------------------------- downtime B
downtime newB "$last_fire_b" "every B deadline overdue"

# ------------------------------------------------------------------- run3: SIGKILL mid-drain
EOS_CLOCK=wall eos_config "timerPass: $pass_b" "maxBatch: $batch_b"
eos_start run3 "$state" "$id"
pid=$EOS_PID
eos_wait_log "$EOS_WORK/run3.log" 'committed transaction [0-9]+: events [0-9]+ timers fired [1-9]' "$kill_after" 120 "$pid"
sleep "$kill_delay"
eos_kill "$pid"
read -r -a s3 <<<"$(sums "$EOS_WORK/run3.log")"
eos_log "SIGKILL of run3 after ${s3[0]} committed transactions: ${s3[1]} of $backlog B timers fired and ${s3[4]} of $new new episodes' noticeHeld committed"
((s3[1] < backlog)) || eos_fail "the SIGKILL came after the drain had ended (all $backlog timers committed): it proves nothing"
check_bounded "$EOS_WORK/run3.log" "$batch_b"

# ------------------------------------------------------------------- run4: the rest
eos_start run4 "$state" "$id"
pid=$EOS_PID
# After a SIGKILL the same static member (instance id) takes its partitions back at once.
eos_wait_log "$EOS_WORK/run4.log" 'assigned partition' "$partitions" 90 "$pid"
EOS_EXPECTED=$(wc -l <"$EOS_WORK/expected.txt")
eos_wait_output 120 "$pid"
sleep 2   # anything extra (a duplicate, a reminder) would show up now
eos_stop "$pid"
read -r -a s4 <<<"$(sums "$EOS_WORK/run4.log")"
eos_log "run4: ${s4[1]} timers fired and ${s4[4]} noticeHeld after the restore (run3 had committed ${s3[1]} and ${s3[4]}), in ${s4[0]} transactions"
# Informational (timerPass 10: up to 10 events per up to 40 timers): run4's drain and its new events.
eos_log "run4: $(txns "$EOS_WORK/run4.log" | awk -v b=$((backlog - s3[1])) -v m=$((new - s3[4])) '
  { h += $3 - $2; f += $2; if (!E && h >= m) { E = NR; fe = f }; if (!D && f >= b) D = NR }
  END { printf "the drain ended in transaction %d, the last new noticeHeld was committed in %d (%d timers fired by then)", D, E, fe }')"
check_bounded "$EOS_WORK/run4.log" "$batch_b"
# The log line follows the Kafka commit (a kill between the two hides a committed transaction
# from it), so in sum the two logs may show fewer, never more.
((s3[1] + s4[1] <= backlog)) || eos_fail "run3 and run4 committed $((s3[1] + s4[1])) timer firings for $backlog B timers"

# ------------------------------------------------------------------- the committed output
eos_read_output
[[ ! -s $EOS_WORK/deadletter.jsonl ]] || eos_fail "$(wc -l <"$EOS_WORK/deadletter.jsonl") dead letter(s), expected none"

# Each notification projected to the fields that do not depend on when it was processed (a
# noticeHeld is issued at the wall time of its event; addressees are skipped); any other line is
# kept whole, so it differs.
project() {
  awk 'function f(k) {
         if (match($0, "\"" k "\":\"[^\"]*\"")) return substr($0, RSTART + length(k) + 4, RLENGTH - length(k) - 5)
         return "?"
       }
       /^\{"notificationId":"[^"]*","episodeId":"[^"]*","issuedAt":"[^"]*",("addressees":\[[^]]*\],)?"noticeHeld":\{/ {
         print f("notificationId"), f("episodeId"), "noticeHeld", f("notice"), f("reason"); next }
       /^\{"notificationId":"[^"]*","episodeId":"[^"]*","issuedAt":"[^"]*",("addressees":\[[^]]*\],)?"deadlineMissed":\{/ {
         print f("notificationId"), f("episodeId"), "deadlineMissed", f("deadline"), f("dueAt"), f("issuedAt"); next }
       { print }' "$1"
}
content_equal() {  # EXPECTED GOT DIFF: the same lines, each as often (any order)
  diff <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2") >"$3"
}
project "$EOS_WORK/notifications.jsonl" >"$EOS_WORK/got.txt"

# The comparison must be able to fail: a line dropped, a line twice, one issuedAt a second off.
exp=$EOS_WORK/expected.txt
mid=$(((EOS_EXPECTED + 1) / 2))
miss_line=$(grep -n ' deadlineMissed ' "$exp" | sed -n '1s/:.*//p')
sed "${mid}d" "$exp" >"$EOS_WORK/sc.txt"
! content_equal "$exp" "$EOS_WORK/sc.txt" /dev/null || eos_fail "self-check: a dropped notification was not caught"
sed "${mid}p" "$exp" >"$EOS_WORK/sc.txt"
! content_equal "$exp" "$EOS_WORK/sc.txt" /dev/null || eos_fail "self-check: a duplicate was not caught"
awk -v l="$miss_line" 'NR == l { d = substr($NF, length($NF) - 1, 1); $NF = substr($NF, 1, length($NF) - 2) (d == 9 ? 8 : d + 1) "Z" }
                       { print }' "$exp" >"$EOS_WORK/sc.txt"
! content_equal "$exp" "$EOS_WORK/sc.txt" /dev/null || eos_fail "self-check: a changed issuedAt was not caught"
rm -f "$EOS_WORK/sc.txt"

if ! content_equal "$exp" "$EOS_WORK/got.txt" "$EOS_WORK/content.diff"; then
  echo "expected (<) and committed (>) differ in $(grep -c '^[<>]' "$EOS_WORK/content.diff") line(s):" >&2
  head -n 20 "$EOS_WORK/content.diff" >&2
  eos_fail "the committed notifications are not one noticeHeld per episode and one deadlineMissed (issuedAt = dueAt + 1 s) per overdue deadline"
fi
dups=$(grep -o '^{"notificationId":"[^"]*"' "$EOS_WORK/notifications.jsonl" | LC_ALL=C sort | uniq -d | wc -l)
((dups == 0)) || eos_fail "$dups notificationId(s) twice"
eos_log "content exact: $((2 * backlog + 2 * new)) noticeHeld + $((2 * backlog)) deadlineMissed (issuedAt = dueAt + 1 s), nothing twice, nothing else, no dead letters"

# A pass that finds nothing due opens no transaction: after a drain the timer heads are only lower
# bounds (now + 1 s) while the new episodes' deadlines lie a day ahead, and an idle service must not
# commit an empty transaction every second.
empty=$(cat "$EOS_WORK"/run[1-4].log | grep -cE 'committed transaction [0-9]+: events 0 timers fired 0 ' || true)
((empty == 0)) || eos_fail "$empty empty transaction(s) committed (no events, no timers): an idle pass opened them"

# Informational: the records of the transaction the SIGKILL cut short (read_uncommitted only).
all=$(eos_consume "$EOS_PREFIX.notifications" /dev/stdout --timeout-ms 3000 \
        -X isolation.level=read_uncommitted 2>/dev/null | wc -l) || all=0
eos_log "read_uncommitted sees $all notification records: $((all - EOS_EXPECTED)) in the transaction the SIGKILL cut short (0: it fell between two)"
EOS_OK=1
