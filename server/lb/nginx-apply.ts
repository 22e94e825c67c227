/**
 * The traffic switch itself: a POSIX sh script run on the load balancer host (over SSH, as the
 * `lb` step of a switch_traffic playbook) that replaces the cluster's upstream include file and
 * reloads nginx, or changes nothing.
 *
 * What it guarantees, in order:
 * 1. Fencing. Under an exclusive lock (flock, where available), it reads the epoch in the current
 *    file's first line and refuses (exit 3) if it is newer than this switchover's. Equal is
 *    allowed: a resumed switchover re-runs its steps. The new content must itself start with
 *    `# switchyard-epoch: <epoch>` (exit 2 otherwise), so the next switch can fence against it.
 * 2. Atomicity. The content goes to a temp file in the same directory and is renamed over the
 *    target, so nginx (or a reader) never sees a half-written file. The previous file is kept as
 *    `.<name>.switchyard-prev` beside it.
 * 3. Validation. `nginx -T` (the test of `-t`, plus a dump of the config we read the pid file
 *    from) must pass, or the previous file is put back byte for byte (removed, if there was none),
 *    nginx's error goes to stderr, exit 4. A failed reload restores it too (exit 5).
 * 4. In effect on return. `nginx -s reload` only signals the master: the master then parses the
 *    config, starts new workers, sleeps 100 ms and only then tells the old workers to stop
 *    accepting. Requests arriving meanwhile still go to the old upstream, so the script waits
 *    (bounded, ~2 s) until every worker that existed before the reload has exited or announced
 *    "shutting down" (its process title), i.e. has closed its listening sockets. If they never
 *    do, the master did not apply the config: the previous file is restored, nginx reloaded
 *    with it, exit 5. The wait needs Linux /proc and an absolute pid path; without them the
 *    script says so on stderr and returns right after the reload.
 * The reload always happens, even when the content is unchanged: a run that died between the
 * rename and the reload must be finished by the re-run.
 *
 * Scratch files start with a dot and do not end in `.conf`, so an `include dir/*.conf` (or `*`,
 * which skips dotfiles) never picks them up; they are removed on every exit path.
 *
 * Exit codes: 0 switched, 2 bad input/environment, 3 newer epoch (or unreadable header) on
 * disk, 4 nginx rejected the config, 5 reload failed or not applied, 6 lock timeout.
 */
import { renderCommand } from "@/server/switchover/template";

// Keep this free of `{{`/`}}` other than the placeholders (renderCommand rejects strays), and of
// bash-isms: it runs under dash (/bin/sh on Debian) as well as under a login shell like bash.
export const NGINX_SWITCH_TEMPLATE = `set -eu
umask 022
f={{upstream_path}}
new={{upstream_config}}
epoch={{epoch}}
bin={{nginx_bin}}
conf={{nginx_conf}}
if [ -n "$conf" ]; then set -- -c "$conf"; else set --; fi
dir=\${f%/*}
[ -n "$dir" ] || dir=/
base=\${f##*/}
tmp="$dir/.$base.switchyard-new.$$"
dump="$dir/.$base.switchyard-dump.$$"
bak="$dir/.$base.switchyard-prev"
lock="$dir/.$base.switchyard-lock"
trap 'rm -f "$tmp" "$dump"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
say() { printf 'switchyard: %s\\n' "$*" >&2; }
if [ ! -d "$dir" ]; then say "directory $dir does not exist"; exit 2; fi
case $new in
  "# switchyard-epoch: $epoch" | "# switchyard-epoch: $epoch
"*) ;;
  *) say "the new content for $f does not start with '# switchyard-epoch: $epoch'"; exit 2 ;;
esac
if command -v flock >/dev/null 2>&1; then
  exec 9>>"$lock"
  if ! flock -w 10 9; then say "another switch of $f holds $lock (waited 10 s)"; exit 6; fi
fi
had_prev=0
cur=
if [ -e "$f" ]; then
  had_prev=1
  first=$(head -n 1 "$f")
  case $first in
    "# switchyard-epoch:"*)
      cur=\${first#"# switchyard-epoch: "}
      case $cur in
        "" | *[!0-9]*) say "refusing to rewrite $f: its epoch header is unreadable: $first"; exit 3 ;;
      esac
      if [ \${#cur} -gt 16 ]; then say "refusing to rewrite $f: its epoch header is unreadable: $first"; exit 3; fi
      if [ "$cur" -gt "$epoch" ]; then
        say "refusing to rewrite $f: it carries epoch $cur, newer than this switchover's epoch $epoch"
        exit 3
      fi
      ;;
  esac
fi
restore() {
  if [ "$had_prev" = 1 ]; then mv -f "$bak" "$f"; else rm -f "$f"; fi
}
printf '%s' "$new" >"$tmp"
if [ "$had_prev" = 1 ]; then cp -p "$f" "$bak"; fi
mv -f "$tmp" "$f"
(umask 077 && : >"$dump")
if ! out=$("$bin" -T "$@" 2>&1 >"$dump"); then
  restore
  say "nginx rejected the new config for $f (epoch $epoch); the previous file is back in place:"
  printf '%s\\n' "$out" >&2
  exit 4
fi
pidfile=$(sed -n 's/^[[:space:]]*pid[[:space:]][[:space:]]*\\([^;[:space:]]*\\)[[:space:]]*;.*$/\\1/p' "$dump" | head -n 1)
if [ -z "$pidfile" ]; then
  pidfile=$("$bin" -V 2>&1 | sed -n 's/.*--pid-path=\\([^[:space:]]*\\).*/\\1/p' | head -n 1)
fi
pidfile=$(printf '%s' "$pidfile" | tr -d "\\"'")
master=
case $pidfile in
  /*) if [ -r "$pidfile" ]; then master=$(head -n 1 "$pidfile" || true); fi ;;
esac
case $master in "" | *[!0-9]*) master= ;; esac
workers=
if [ -n "$master" ]; then
  kids=
  if [ -r "/proc/$master/task/$master/children" ]; then
    kids=$(cat "/proc/$master/task/$master/children" || true)
  elif command -v pgrep >/dev/null 2>&1; then
    kids=$(pgrep -P "$master" || true)
  fi
  for k in $kids; do
    if grep -q 'worker process' "/proc/$k/cmdline" 2>/dev/null && ! grep -q 'shutting down' "/proc/$k/cmdline" 2>/dev/null; then
      workers="$workers $k"
    fi
  done
fi
if ! out=$("$bin" -s reload "$@" 2>&1); then
  restore
  say "nginx -s reload failed for $f (epoch $epoch); the previous file is back in place:"
  printf '%s\\n' "$out" >&2
  exit 5
fi
note=
if [ -n "$workers" ]; then
  if sleep 0.01 2>/dev/null; then tick=0.05; tries=40; else tick=1; tries=2; fi
  n=0
  while :; do
    pending=
    for w in $workers; do
      if [ -r "/proc/$w/cmdline" ] && ! grep -q 'shutting down' "/proc/$w/cmdline" 2>/dev/null; then
        pending="$pending $w"
      fi
    done
    if [ -z "$pending" ]; then break; fi
    n=$((n + 1))
    if [ "$n" -ge "$tries" ]; then
      restore
      "$bin" -s reload "$@" >/dev/null 2>&1 || true
      say "nginx did not apply the new config for $f within 2 s (old workers still accepting:$pending); the previous file is back in place and nginx was reloaded with it"
      exit 5
    fi
    sleep "$tick"
  done
else
  note=" (old nginx workers not found, so not waiting for them: pid file '$pidfile')"
  say "could not find nginx's worker processes; the reload was signalled but not waited for"
fi
echo "switched $f to epoch $epoch (was \${cur:-none}); nginx reloaded$note"
`;

export type SwitchCommandValues = {
  /** The include file Switchyard owns on the LB host (absolute). */
  upstreamPath: string;
  /** Its new content, from renderUpstream (starting with `# switchyard-epoch: <epoch>`). */
  upstreamConfig: string;
  epoch: number;
  /** An absolute path or a command name on the LB host's PATH. */
  nginxBin: string;
  /** nginx's main config (`-c`), or "" for nginx's default. */
  nginxConf: string;
};

/** The switch command for one LB, every value validated and single-quoted (TemplateError if not). */
export function renderSwitchCommand(values: SwitchCommandValues): string {
  return renderCommand(NGINX_SWITCH_TEMPLATE, {
    upstream_path: values.upstreamPath,
    upstream_config: values.upstreamConfig,
    epoch: values.epoch,
    nginx_bin: values.nginxBin,
    nginx_conf: values.nginxConf,
  });
}
