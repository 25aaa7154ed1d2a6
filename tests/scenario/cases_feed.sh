#!/usr/bin/env bash
# Every scenario case's events as one feed of distinct episodes, on stdout, ordered by processing
# time (recordedAt, else occurredAt; stable) as a hospital's feed is.
#   cases_feed.sh CASES_DIR [COPIES]
# Cases reuse episode ids: each is prefixed with its case name ("case:ep"). With COPIES, the feed
# holds that many copies, the copy's number prefixed to episode and event ids too ("3-case:ep").
set -euo pipefail
cases=$1 copies=${2:-}
for copy in $(seq 1 "${copies:-1}"); do
  for c in "$cases"/*/; do
    name=$(basename "$c")
    if [[ -n $copies ]]; then
      sed "s/\"episodeId\":\"/\"episodeId\":\"$copy-$name:/; s/\"eventId\":\"/\"eventId\":\"$copy-/" "$c/events.jsonl"
    else
      sed "s/\"episodeId\":\"/\"episodeId\":\"$name:/" "$c/events.jsonl"
    fi
  done
done | awk '{
  key = "0000"
  if (match($0, /"recordedAt":"[^"]*"/)) key = substr($0, RSTART + 14, RLENGTH - 15)
  else if (match($0, /"occurredAt":"[^"]*"/)) key = substr($0, RSTART + 14, RLENGTH - 15)
  print key "\t" $0
}' | sort -s -t $'\t' -k1,1 | cut -f2-
