# shellcheck shell=bash
# tests/integration/disk/lib.sh: small tmpfs mounts for the full-disk tests (README.md).
#
#   disk_init                 work dir (DISK_WORK), traps: every mount is unmounted at exit
#   disk_mount DIR SIZE       a tmpfs of SIZE at DIR; a refusal FAILS the test, loudly
#   disk_umount DIR
#   disk_log / disk_fail
#
# The caller sets NAME before disk_init and DISK_OK=1 at the end (the work dir goes on a pass, stays
# on a failure; DISK_KEEP=1 keeps it always). A test that also uses eos/lib.sh calls
# disk_umount_all from its own EXIT trap instead (see full_run.sh).

DISK_T0=$SECONDS
DISK_MOUNTS=()
disk_log() { printf '[%s +%3ds] %s\n' "$NAME" $((SECONDS - DISK_T0)) "$*"; }
disk_fail() {
  printf '[%s +%3ds] FAIL: %s\n' "$NAME" $((SECONDS - DISK_T0)) "$*" >&2
  exit 1
}

disk_init() {
  [[ -x $SAMORDNA && -x $SAMORDNA_GEN ]] || disk_fail "no samordna / samordna_gen binary"
  DISK_WORK=$(mktemp -d "${TMPDIR:-/tmp}/samordna-$NAME.XXXX")
  DISK_OK=0
  trap disk_cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  disk_log "work dir $DISK_WORK"
}

disk_mount() {  # DIR SIZE
  mkdir -p "$1"
  local err
  if ! err=$(mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>&1); then
    printf '\n[%s] ************************************************************\n' "$NAME" >&2
    printf '[%s] CANNOT MOUNT a %s tmpfs at %s: %s\n' "$NAME" "$2" "$1" "$err" >&2
    printf '[%s] This test fills a small disk and needs root (or CAP_SYS_ADMIN) to mount one.\n' "$NAME" >&2
    printf '[%s] It FAILS rather than pass without having tested anything.\n' "$NAME" >&2
    printf '[%s] ************************************************************\n\n' "$NAME" >&2
    exit 1
  fi
  DISK_MOUNTS+=("$1")
}

disk_umount() {  # DIR
  umount "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
  local m kept=()
  for m in ${DISK_MOUNTS[@]+"${DISK_MOUNTS[@]}"}; do [[ $m == "$1" ]] || kept+=("$m"); done
  DISK_MOUNTS=(${kept[@]+"${kept[@]}"})
}

disk_umount_all() {
  local m
  for m in ${DISK_MOUNTS[@]+"${DISK_MOUNTS[@]}"}; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  DISK_MOUNTS=()
}

disk_cleanup() {
  local rc=$?
  trap - EXIT TERM INT
  set +e
  disk_umount_all  # lazily if a process still holds it
  if ((rc == 0 && DISK_OK)); then
    [[ ${DISK_KEEP:-0} == 1 ]] || rm -rf "$DISK_WORK"
    disk_log PASS
  else
    ((rc == 0)) && rc=1
    echo "[$NAME] work dir kept: $DISK_WORK" >&2
  fi
  exit "$rc"
}
