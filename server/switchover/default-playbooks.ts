/**
 * The built-in playbooks: version 1 of `default-<kind>` for every kind (`_` written `-`), installed by
 * `ensureBuiltInPlaybooks`. Admins change behaviour by saving a new version of the same name.
 *
 * Every command runs ON its target over SSH and is POSIX `sh` (dash): node steps drive the node's
 * own HTTP API (`/health`, `/api/v1/degrade`, `/api/v1/activate`) with curl at the node's address,
 * LB steps rewrite the nginx upstream with `NGINX_SWITCH_TEMPLATE`. Values arrive single-quoted
 * (template.ts), so a command may concatenate them with literal text (`'{"epoch":'{{epoch}}'}'`)
 * or assign them to shell variables, but never needs to quote them itself. Loops are bounded by an
 * attempt count and a wall clock, never by the step timeout alone.
 */
import { NGINX_SWITCH_TEMPLATE } from "@/server/lb/nginx-apply";
import type { PlaybookDocument, PlaybookStep } from "./playbook";

/**
 * Sets `$u` to the target node's base URL. An IPv6 literal gets brackets, and curl runs with `-g`
 * so it does not read them as a glob.
 */
const NODE_URL = `h={{node_host}}; case "$h" in *:*) h="[$h]" ;; esac; u="http://$h:"{{node_port}}`;
const CURL = "curl -fsS -g --max-time 2";

/** POST `{"epoch": N}` to the target node's `path`; curl -f turns 409 (stale epoch) into exit 22. */
const postEpoch = (path: string) =>
  `${NODE_URL}; ${CURL} -X POST -H 'Content-Type: application/json' --data '{"epoch":'{{epoch}}'}' "$u"${path}`;

const HEALTH = `${NODE_URL}; ${CURL} "$u"{{health_path}}`;

/**
 * Runs `attempt` (which must `exit 0` on success) every 100 ms until it succeeds, at most
 * verify_deadline_ms / 100 times and for at most the deadline (rounded up to seconds) plus a second
 * of wall clock, so slow attempts cannot stretch it.
 */
const boundedPoll = (setup: string, attempt: string, failure: string) =>
  `${setup}; d={{verify_deadline_ms}}; n=$((d / 100)); end=$(($(date +%s) + (d + 999) / 1000 + 1)); i=0; last=; ` +
  `while [ "$i" -lt "$n" ]; do ${attempt}; i=$((i + 1)); [ "$(date +%s)" -ge "$end" ] && break; sleep 0.1; done; ` +
  `printf '%s after %s ms; last answer: %s\\n' ${failure} "$d" "$last" >&2; exit 1`;

const VERIFY_MASTER = boundedPoll(
  NODE_URL,
  `last=$(${CURL} "$u"{{health_path}} 2>&1) && case "$last" in *'"role":"master"'* | *'"role": "master"'*) printf '%s\\n' "$last"; exit 0 ;; esac`,
  `'not master'`,
);

/** The client endpoint's /health through nginx (query and fragment dropped, no double slash). */
const VERIFY_LB = boundedPoll(
  `u={{lb_endpoint_url}}; u=\${u%%[?#]*}; u=\${u%/}`,
  `last=$(${CURL} "$u/health" 2>&1) && { printf '%s\\n' "$last"; exit 0; }`,
  `'load balancer endpoint not answering'`,
);

/**
 * The upstream file's directory exists and is writable (the file is replaced by a rename inside it),
 * the file itself is writable if present, and nginx accepts its current configuration.
 */
const LB_PREFLIGHT =
  `p={{upstream_path}}; dir=$(dirname -- "$p"); ` +
  `if [ ! -d "$dir" ]; then echo "upstream directory $dir does not exist" >&2; exit 1; fi; ` +
  `if [ ! -w "$dir" ]; then echo "upstream directory $dir is not writable" >&2; exit 1; fi; ` +
  `if [ -e "$p" ] && [ ! -w "$p" ]; then echo "upstream file $p is not writable" >&2; exit 1; fi; ` +
  `c={{nginx_conf}}; if [ -n "$c" ]; then {{nginx_bin}} -t -c "$c"; else {{nginx_bin}} -t; fi`;

const ok = { exitCode: 0 };

const degradeOld = (onFailure: PlaybookStep["onFailure"]): PlaybookStep => ({
  name: "degrade-old-primary",
  target: "old_primary",
  command: postEpoch("/api/v1/degrade"),
  timeoutMs: 3_000,
  expect: ok,
  onFailure,
});

const switchTraffic = (onFailure: PlaybookStep["onFailure"]): PlaybookStep => ({
  name: "switch-upstream",
  target: "lb",
  command: NGINX_SWITCH_TEMPLATE,
  timeoutMs: 10_000,
  expect: ok,
  onFailure,
});

const activateNew = (onFailure: PlaybookStep["onFailure"]): PlaybookStep => ({
  name: "activate-new-primary",
  target: "new_primary",
  command: postEpoch("/api/v1/activate"),
  timeoutMs: 5_000,
  expect: ok,
  onFailure,
});

// The loop ends by itself within the deadline; this timeout only catches a hung SSH channel, and
// leaves room for an operator to raise the verify deadline (default 10 s) up to about 100 s.
const VERIFY_TIMEOUT_MS = 120_000;

const verifyNew = (onFailure: PlaybookStep["onFailure"]): PlaybookStep => ({
  name: "verify-new-primary-is-master",
  target: "new_primary",
  command: VERIFY_MASTER,
  timeoutMs: VERIFY_TIMEOUT_MS,
  expect: { exitCode: 0, outputMatches: '"role":\\s*"master"' },
  onFailure,
});

export const DEFAULT_PLAYBOOKS: PlaybookDocument[] = [
  {
    name: "default-preflight",
    kind: "preflight",
    description: "The standby answers /health, and the load balancer can take a new upstream file.",
    steps: [
      {
        name: "new-primary-healthy",
        target: "new_primary",
        command: HEALTH,
        timeoutMs: 3_000,
        expect: ok,
        onFailure: "abort",
      },
      {
        name: "lb-ready",
        target: "lb",
        command: LB_PREFLIGHT,
        timeoutMs: 10_000,
        expect: ok,
        onFailure: "abort",
      },
    ],
  },
  {
    name: "default-degrade",
    kind: "degrade",
    description:
      "Ask the old primary to leave the pool. A dead primary cannot answer; the upstream switch fences it anyway.",
    steps: [degradeOld("continue")],
  },
  {
    name: "default-switch-traffic",
    kind: "switch_traffic",
    description: "Rewrite the nginx upstream to the new primary, test the configuration, reload.",
    steps: [switchTraffic("rollback")],
  },
  {
    name: "default-activate",
    kind: "activate",
    description: "Tell the new primary to take over at the new epoch.",
    steps: [activateNew("rollback")],
  },
  {
    name: "default-verify",
    kind: "verify",
    description: "Within the verify deadline, the new primary reports role master and the endpoint answers.",
    steps: [
      verifyNew("rollback"),
      {
        name: "verify-lb-endpoint",
        target: "lb",
        command: VERIFY_LB,
        timeoutMs: VERIFY_TIMEOUT_MS,
        expect: ok,
        onFailure: "rollback",
      },
    ],
  },
  {
    name: "default-rollback",
    kind: "rollback",
    description:
      "Restore the previous primary (new_primary here) and fence the one that failed (old_primary here).",
    steps: [degradeOld("continue"), switchTraffic("abort"), activateNew("abort"), verifyNew("abort")],
  },
  {
    name: "default-drain",
    kind: "drain",
    description: "Rewrite the upstream with the member marked down.",
    steps: [{ ...switchTraffic("abort"), name: "rewrite-upstream" }],
  },
  {
    name: "default-readmit",
    kind: "readmit",
    description: "Rewrite the upstream with the member back in.",
    steps: [{ ...switchTraffic("abort"), name: "rewrite-upstream" }],
  },
];
