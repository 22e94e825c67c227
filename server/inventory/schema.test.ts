import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEd25519KeyPair } from "@/server/ssh/keygen";
import { renderCommand, type TEMPLATE_VARIABLES } from "@/server/switchover/template";
import type { InventoryPlan } from "./apply";
import { formatPlan, summarizePlan } from "./format";
import { readPrivateKeyFiles } from "./key-files";
import { checkInventoryFile, isValidHost, parseInventoryFile } from "./schema";
import {
  fp,
  type RawFile,
  sampleInventory,
  sampleInventoryWithLoadBalancers,
  sampleLoadBalancer,
} from "./test-fixtures";

function issuesOf(file: RawFile) {
  const r = checkInventoryFile(file);
  if (r.ok) throw new Error("expected the file to be invalid");
  return r.issues;
}

describe("inventory file: hosts", () => {
  it.each([
    ["127.0.0.2", true],
    ["fd00::8", true],
    ["::1", true],
    ["gpu-7.example.internal", true],
    ["GPU-7", true],
    ["1.2.3.4; rm -rf /", false],
    ["$(touch /tmp/x)", false],
    ["host name", false],
    ["-oProxyCommand=sh", false],
    ["a..b", false],
    ["1.2.3.999", false],
    ["fe80::1%eth0", false],
    ["[::1]", false],
    ["", false],
    [`${"a".repeat(64)}.example`, false],
    ["host.example.", false],
  ])("%s → %s", (host, ok) => {
    expect(isValidHost(host)).toBe(ok);
  });
});

describe("inventory file: validation", () => {
  it("accepts the sample and merges each policy over its preset", () => {
    const parsed = parseInventoryFile(sampleInventory());
    expect(parsed.file.clusters.map((c) => c.name)).toEqual(["gte-pro-search", "ollama-bridge"]);
    expect(parsed.policies[0]).toMatchObject({ preset: "default", failuresToFail: 4, probeIntervalMs: 1000 });
    expect(parsed.policies[1]).toMatchObject({
      preset: "conservative",
      failuresToFail: 5,
      signalsRequired: "tcp_and_http",
    });
    expect(parsed.externalCredentials.size).toBe(0);
  });

  it("normalises a fingerprint pasted with padding", () => {
    const f = sampleInventory();
    f.clusters[0].nodes[0].hostKeyFingerprint = ` ${fp("gte-a")}= `;
    expect(parseInventoryFile(f).file.clusters[0]?.nodes[0]?.hostKeyFingerprint).toBe(fp("gte-a"));
  });

  it("remembers credentials referenced but not defined, for the database check", () => {
    const f = sampleInventory();
    delete f.credentials;
    const parsed = parseInventoryFile(f);
    expect(parsed.externalCredentials.get("fleet-key")).toHaveLength(4);
  });

  const cases: Array<[string, (f: RawFile) => void, string, RegExp]> = [
    [
      "a shell payload as host",
      (f) => {
        f.clusters[0].nodes[1].host = "1.2.3.4; rm -rf /";
      },
      "clusters[0].nodes[1].host",
      /must be an IPv4\/IPv6 address or a DNS name/,
    ],
    [
      "a bad node name",
      (f) => {
        f.clusters[0].nodes[0].name = "GTE_A";
      },
      "clusters[0].nodes[0].name",
      /lowercase letters/,
    ],
    [
      "a bad cluster name",
      (f) => {
        f.clusters[1].name = "-bridge";
      },
      "clusters[1].name",
      /lowercase letters/,
    ],
    [
      "two primaries",
      (f) => {
        f.clusters[0].nodes[1].role = "primary";
      },
      "clusters[0].nodes",
      /exactly one node with role "primary" \(found 2: gte-a, gte-b\)/,
    ],
    [
      "no primary",
      (f) => {
        f.clusters[0].nodes[0].role = "standby";
      },
      "clusters[0].nodes",
      /found none/,
    ],
    [
      "a member in an active_standby cluster",
      (f) => {
        f.clusters[0].nodes[1].role = "member";
      },
      "clusters[0].nodes[1].role",
      /not "member"/,
    ],
    [
      "a standby in an active_active cluster",
      (f) => {
        f.clusters[1].nodes[0].role = "standby";
      },
      "clusters[1].nodes[0].role",
      /only "member" nodes/,
    ],
    [
      "a duplicate endpoint across clusters",
      (f) => {
        f.clusters[1].nodes[1].host = "127.0.0.2";
        f.clusters[1].nodes[1].servicePort = 8000;
      },
      "clusters[1].nodes[1].host",
      /duplicate endpoint 127\.0\.0\.2:8000 \(also clusters\[0\]\.nodes\[0\]\)/,
    ],
    [
      "a duplicate endpoint spelled in another case",
      (f) => {
        f.clusters[1].nodes[1].host = "GPU-7.example.internal";
      },
      "clusters[1].nodes[1].host",
      /duplicate endpoint/,
    ],
    [
      "a duplicate node name across clusters",
      (f) => {
        f.clusters[1].nodes[0].name = "gte-a";
      },
      "clusters[1].nodes[0].name",
      /duplicate node name "gte-a"/,
    ],
    [
      "a duplicate cluster name",
      (f) => {
        f.clusters[1].name = "gte-pro-search";
      },
      "clusters[1].name",
      /duplicate cluster name/,
    ],
    [
      "a bad fingerprint",
      (f) => {
        f.clusters[0].nodes[0].hostKeyFingerprint = "MD5:aa:bb";
      },
      "clusters[0].nodes[0].hostKeyFingerprint",
      /SHA256:<43 base64 characters>/,
    ],
    [
      "a missing fingerprint",
      (f) => {
        delete f.clusters[0].nodes[0].hostKeyFingerprint;
      },
      "clusters[0].nodes[0].hostKeyFingerprint",
      /is required/,
    ],
    [
      "an unknown key in a node",
      (f) => {
        f.clusters[0].nodes[0].colour = "red";
      },
      "clusters[0].nodes[0].colour",
      /unknown key \(allowed: name, host, /,
    ],
    [
      "an unknown key at the top",
      (f) => {
        f.loadBalancers = [];
      },
      "loadBalancers",
      /unknown key/,
    ],
    [
      "an unknown policy field",
      (f) => {
        f.clusters[0].policy.failureThreshold = 3;
      },
      "clusters[0].policy.failureThreshold",
      /unknown key/,
    ],
    [
      "port 70000",
      (f) => {
        f.clusters[0].nodes[0].servicePort = 70000;
      },
      "clusters[0].nodes[0].servicePort",
      /must be between 1 and 65535/,
    ],
    [
      "an ssh port given as a string",
      (f) => {
        f.clusters[0].nodes[0].sshPort = "22";
      },
      "clusters[0].nodes[0].sshPort",
      /must be a number/,
    ],
    [
      "a bad healthPath",
      (f) => {
        f.clusters[0].nodes[0].healthPath = "/health;reboot";
      },
      "clusters[0].nodes[0].healthPath",
      /must be a URL path/,
    ],
    [
      "an ssh user that looks like an option",
      (f) => {
        f.clusters[0].nodes[0].sshUser = "-oProxyCommand=x";
      },
      "clusters[0].nodes[0].sshUser",
      /login name/,
    ],
    [
      "a policy value out of range",
      (f) => {
        f.clusters[0].policy.failuresToFail = 0;
      },
      "clusters[0].policy.failuresToFail",
      /Failures to fail must be at least 1/,
    ],
    [
      "a policy timeout too long for the interval",
      (f) => {
        f.clusters[0].policy.probeIntervalMs = 100;
        f.clusters[0].policy.tcpTimeoutMs = 5000;
      },
      "clusters[0].policy.tcpTimeoutMs",
      /less than 10 × the probe interval/,
    ],
    [
      "an unknown preset",
      (f) => {
        f.clusters[0].policy.preset = "paranoid";
      },
      "clusters[0].policy.preset",
      /must be one of: default, conservative, triple_check/,
    ],
    [
      "an SLA of 100 %",
      (f) => {
        f.clusters[0].slaTargetPct = 100;
      },
      "clusters[0].slaTargetPct",
      /above 0 and below 100/,
    ],
    [
      "a mode that does not exist",
      (f) => {
        f.clusters[0].mode = "primary_replica";
      },
      "clusters[0].mode",
      /must be one of: active_standby, active_active/,
    ],
    [
      "a weight out of range",
      (f) => {
        f.clusters[1].nodes[0].weight = 5000;
      },
      "clusters[1].nodes[0].weight",
      /between 0 and 1000/,
    ],
    [
      "a cluster without nodes",
      (f) => {
        f.clusters[1].nodes = [];
      },
      "clusters[1].nodes",
      /at least one node/,
    ],
    [
      "a duplicate credential name",
      (f) => {
        f.credentials.push({ name: "fleet-key", privateKeyFile: "other.key" });
      },
      "credentials[1].name",
      /duplicate credential name/,
    ],
    [
      "a missing clusters list",
      (f) => {
        delete f.clusters;
      },
      "clusters",
      /is required/,
    ],
    [
      "another format version",
      (f) => {
        f.version = 2;
      },
      "version",
      /must be 1/,
    ],
  ];

  it.each(cases)("rejects %s, naming the path", (_name, mutate, pathText, message) => {
    const f = sampleInventory();
    mutate(f);
    const issues = issuesOf(f);
    expect(issues).toContainEqual({ path: pathText, message: expect.stringMatching(message) });
  });

  it("reports every problem at once, in file order, including cross-checks beside bad values", () => {
    const f = sampleInventory();
    f.clusters[1].nodes[1].servicePort = 70000;
    f.clusters[0].nodes[1].host = "bad host";
    f.clusters[0].nodes[1].role = "primary";
    expect(issuesOf(f).map((i) => i.path)).toEqual([
      "clusters[0].nodes",
      "clusters[0].nodes[1].host",
      "clusters[1].nodes[1].servicePort",
    ]);
  });

  it("rejects input that is not an object", () => {
    expect(issuesOf([])).toEqual([{ path: "(file)", message: "must be an object" }]);
  });
});

describe("inventory file: load balancers", () => {
  it("accepts a load balancer per cluster, omitted fields left for their defaults", () => {
    const parsed = parseInventoryFile(sampleInventoryWithLoadBalancers());
    expect(parsed.file.clusters[0]?.loadBalancer).toEqual({
      host: "10.0.0.5",
      credential: "fleet-key",
      hostKeyFingerprint: fp("lb of gte-pro-search"),
      upstreamConfigPath: "/etc/nginx/switchyard/gte-pro-search.conf",
      endpointUrl: "http://10.0.0.5/",
    });
    expect(parsed.file.clusters[1]?.loadBalancer).toMatchObject({
      name: "bridge-lb",
      nginxBin: "/usr/sbin/nginx",
      nginxConfPath: "/etc/nginx/nginx.conf",
    });
    const f = sampleInventoryWithLoadBalancers();
    f.clusters[1].loadBalancer.nginxConfPath = null;
    f.clusters[1].loadBalancer.nginxBin = "openresty";
    f.clusters[1].loadBalancer.hostKeyFingerprint = ` ${fp("bridge-lb")}= `;
    expect(parseInventoryFile(f).file.clusters[1]?.loadBalancer).toMatchObject({
      nginxConfPath: null,
      nginxBin: "openresty",
      hostKeyFingerprint: fp("bridge-lb"),
    });
  });

  it("remembers a load balancer's credential that the file does not define", () => {
    const f = sampleInventoryWithLoadBalancers();
    delete f.credentials;
    f.clusters[1].loadBalancer.credential = "lb-key";
    const parsed = parseInventoryFile(f);
    expect(parsed.externalCredentials.get("fleet-key")).toHaveLength(5);
    expect(parsed.externalCredentials.get("lb-key")).toEqual([["clusters", 1, "loadBalancer", "credential"]]);
  });

  const lb = (f: RawFile, i = 0) => f.clusters[i].loadBalancer;
  const cases: Array<[string, (f: RawFile) => void, string, RegExp]> = [
    [
      "not an object",
      (f) => {
        f.clusters[0].loadBalancer = "10.0.0.5";
      },
      "clusters[0].loadBalancer",
      /^must be an object$/,
    ],
    [
      "a shell payload as host",
      (f) => {
        lb(f).host = "10.0.0.5; reboot";
      },
      "clusters[0].loadBalancer.host",
      /IPv4\/IPv6 address or a DNS name/,
    ],
    [
      "a missing host",
      (f) => {
        delete lb(f).host;
      },
      "clusters[0].loadBalancer.host",
      /^is required$/,
    ],
    [
      "ssh port 0",
      (f) => {
        lb(f).sshPort = 0;
      },
      "clusters[0].loadBalancer.sshPort",
      /between 1 and 65535/,
    ],
    [
      "an ssh user that looks like an option",
      (f) => {
        lb(f).sshUser = "-oProxyCommand=x";
      },
      "clusters[0].loadBalancer.sshUser",
      /login name/,
    ],
    [
      "a missing fingerprint (never trust on first use)",
      (f) => {
        delete lb(f).hostKeyFingerprint;
      },
      "clusters[0].loadBalancer.hostKeyFingerprint",
      /^is required$/,
    ],
    [
      "a bad fingerprint",
      (f) => {
        lb(f).hostKeyFingerprint = "MD5:aa:bb";
      },
      "clusters[0].loadBalancer.hostKeyFingerprint",
      /SHA256:<43 base64 characters>/,
    ],
    [
      "a missing credential",
      (f) => {
        delete lb(f).credential;
      },
      "clusters[0].loadBalancer.credential",
      /^is required$/,
    ],
    [
      "a bad name",
      (f) => {
        lb(f).name = "LB_1";
      },
      "clusters[0].loadBalancer.name",
      /lowercase letters/,
    ],
    [
      "a relative upstream path",
      (f) => {
        lb(f).upstreamConfigPath = "etc/nginx/gte.conf";
      },
      "clusters[0].loadBalancer.upstreamConfigPath",
      /absolute path of \[A-Za-z0-9\._\/\+-\] without '\.\.'/,
    ],
    [
      "an upstream path climbing out with ..",
      (f) => {
        lb(f).upstreamConfigPath = "/etc/nginx/../../root/.ssh/authorized_keys";
      },
      "clusters[0].loadBalancer.upstreamConfigPath",
      /without '\.\.'/,
    ],
    [
      "an upstream path with a shell payload",
      (f) => {
        lb(f).upstreamConfigPath = "/etc/nginx/$(reboot).conf";
      },
      "clusters[0].loadBalancer.upstreamConfigPath",
      /absolute path/,
    ],
    [
      "a missing upstream path",
      (f) => {
        delete lb(f).upstreamConfigPath;
      },
      "clusters[0].loadBalancer.upstreamConfigPath",
      /^is required$/,
    ],
    [
      "an endpoint URL that is not http(s)",
      (f) => {
        lb(f).endpointUrl = "ftp://10.0.0.5/";
      },
      "clusters[0].loadBalancer.endpointUrl",
      /must be an http\(s\) URL/,
    ],
    [
      "an endpoint URL with credentials",
      (f) => {
        lb(f).endpointUrl = "http://admin:secret@10.0.0.5/";
      },
      "clusters[0].loadBalancer.endpointUrl",
      /must not carry credentials/,
    ],
    [
      "an nginx binary that looks like an option",
      (f) => {
        lb(f).nginxBin = "-g";
      },
      "clusters[0].loadBalancer.nginxBin",
      /command name .* not starting with '-'.* or an absolute path/,
    ],
    [
      "an nginx binary with a shell payload",
      (f) => {
        lb(f).nginxBin = "nginx;reboot";
      },
      "clusters[0].loadBalancer.nginxBin",
      /command name/,
    ],
    [
      "an nginx binary given as a relative path",
      (f) => {
        lb(f).nginxBin = "sbin/nginx";
      },
      "clusters[0].loadBalancer.nginxBin",
      /command name/,
    ],
    [
      "an empty nginx conf path (null means nginx's default)",
      (f) => {
        lb(f).nginxConfPath = "";
      },
      "clusters[0].loadBalancer.nginxConfPath",
      /or null for nginx's default/,
    ],
    [
      "a relative nginx conf path",
      (f) => {
        lb(f).nginxConfPath = "nginx.conf";
      },
      "clusters[0].loadBalancer.nginxConfPath",
      /absolute path/,
    ],
    [
      "an nginx conf path that is not a string",
      (f) => {
        lb(f).nginxConfPath = 5;
      },
      "clusters[0].loadBalancer.nginxConfPath",
      /must be a string or null/,
    ],
    [
      "an unknown key",
      (f) => {
        lb(f).upstreamPath = "/etc/nginx/x.conf";
      },
      "clusters[0].loadBalancer.upstreamPath",
      /unknown key \(allowed: name, host, sshPort, sshUser, credential, hostKeyFingerprint, upstreamConfigPath/,
    ],
    [
      "two clusters sharing one upstream file, however it is spelled",
      (f) => {
        lb(f, 1).upstreamConfigPath = "/etc/nginx//switchyard/./gte-pro-search.conf";
      },
      "clusters[1].loadBalancer.upstreamConfigPath",
      /also used by clusters\[0\]\.loadBalancer; two clusters cannot share one upstream file/,
    ],
    [
      "a name that is another cluster's default name",
      (f) => {
        lb(f, 1).name = "lb-gte-pro-search";
      },
      "clusters[1].loadBalancer.name",
      /duplicate load balancer name "lb-gte-pro-search" \(also clusters\[0\]\.loadBalancer\)/,
    ],
    [
      "a default name too long for a name",
      (f) => {
        f.clusters[0].name = `g${"x".repeat(61)}`;
      },
      "clusters[0].loadBalancer.name",
      /is required for this cluster: the default "lb-<cluster name>" would be longer than 63/,
    ],
  ];

  it.each(cases)("rejects %s, naming the path", (_name, mutate, pathText, message) => {
    const f = sampleInventoryWithLoadBalancers();
    mutate(f);
    expect(issuesOf(f)).toContainEqual({ path: pathText, message: expect.stringMatching(message) });
  });

  it("reports load balancer problems beside the others, in file order", () => {
    const f = sampleInventoryWithLoadBalancers();
    f.clusters[0].loadBalancer.endpointUrl = "nope";
    f.clusters[0].nodes[0].sshPort = 0;
    f.clusters[1].loadBalancer.upstreamConfigPath = f.clusters[0].loadBalancer.upstreamConfigPath;
    expect(issuesOf(f).map((i) => i.path)).toEqual([
      "clusters[0].loadBalancer.endpointUrl",
      "clusters[0].nodes[0].sshPort",
      "clusters[1].loadBalancer.upstreamConfigPath",
    ]);
  });

  // The engine renders these values into the LB's commands; a file value the template would refuse
  // fails at the first switchover, a value it would accept must not be refused here.
  const templateCases: Array<[keyof typeof TEMPLATE_VARIABLES, string, string[]]> = [
    [
      "upstream_path",
      "upstreamConfigPath",
      [
        "/etc/nginx/switchyard/gte.conf",
        "/etc/nginx/conf.d/a+b_c-1.conf",
        "/",
        "/a/../b",
        "/a/..",
        "/a/..b/c",
        "relative/x.conf",
        "/a b",
        "/a'b",
        "/a\nb",
        `/${"a".repeat(1024)}`,
        "",
      ],
    ],
    [
      "lb_endpoint_url",
      "endpointUrl",
      [
        "http://10.0.0.5/",
        "https://[fd00::5]:8443/v1",
        "HTTP://LB.example/",
        "ftp://10.0.0.5/",
        "http://u:p@10.0.0.5/",
        "http://u@10.0.0.5/",
        "http://10.0.0.5/a b",
        "not a url",
        "",
      ],
    ],
    [
      "nginx_bin",
      "nginxBin",
      [
        "nginx",
        "openresty",
        "nginx-1.27",
        "/usr/sbin/nginx",
        "-g",
        "sbin/nginx",
        "/a/../nginx",
        "ng inx",
        "",
      ],
    ],
    [
      "nginx_conf",
      "nginxConfPath",
      ["/etc/nginx/nginx.conf", "/opt/nginx/conf/nginx.conf", "nginx.conf", "/a/../b", "/a;b"],
    ],
  ];
  for (const [variable, field, values] of templateCases) {
    it.each(values)(`${field} agrees with the template's {{${variable}}}: %j`, (value) => {
      const f = sampleInventoryWithLoadBalancers();
      f.clusters[0].loadBalancer[field] = value;
      const accepted = checkInventoryFile(f).ok;
      const rendered = (() => {
        try {
          renderCommand(`echo {{${variable}}}`, { [variable]: value });
          return true;
        } catch {
          return false;
        }
      })();
      // "" is nginx's default for {{nginx_conf}}; the file spells that null.
      expect(accepted).toBe(variable === "nginx_conf" && value === "" ? false : rendered);
    });
  }

  it("leaves loadBalancer out when a cluster has none, and takes a bare one", () => {
    const f = sampleInventory();
    f.clusters[1].loadBalancer = sampleLoadBalancer("ollama-bridge", "10.0.0.6");
    const parsed = parseInventoryFile(f);
    expect(parsed.file.clusters[0]?.loadBalancer).toBeUndefined();
    expect(parsed.file.clusters[1]?.loadBalancer?.host).toBe("10.0.0.6");
  });
});

describe("inventory key files", () => {
  let dir: string;
  const key = generateEd25519KeyPair("inventory-test");
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "inventory-keys-"));
    await mkdir(path.join(dir, "keys"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const file = (privateKeyFile: string) => ({ credentials: [{ name: "fleet-key", privateKeyFile }] });

  it("reads a 0600 key relative to the inventory file", async () => {
    await writeFile(path.join(dir, "keys/ok.key"), key.privateKey, { mode: 0o600 });
    const r = await readPrivateKeyFiles(file("keys/ok.key"), dir);
    expect(r.issues).toEqual([]);
    expect(r.keys.get("fleet-key")).toBe(key.privateKey);
  });

  it("refuses a group- or world-readable key, like ssh", async () => {
    await writeFile(path.join(dir, "keys/open.key"), key.privateKey);
    await chmod(path.join(dir, "keys/open.key"), 0o644);
    const r = await readPrivateKeyFiles(file("keys/open.key"), dir);
    expect(r.keys.size).toBe(0);
    expect(r.issues).toEqual([
      {
        path: "credentials[0].privateKeyFile",
        message: expect.stringMatching(/permissions 0644 for .*open\.key are too open.*chmod 600/),
      },
    ]);
    expect(JSON.stringify(r.issues)).not.toContain("PRIVATE KEY");
  });

  it("refuses a missing file and a file that is not a private key", async () => {
    await writeFile(path.join(dir, "keys/pub.key"), key.publicKey, { mode: 0o600 });
    const missing = await readPrivateKeyFiles(file("keys/nope.key"), dir);
    expect(missing.issues[0]?.message).toMatch(/does not exist/);
    const pub = await readPrivateKeyFiles(file("keys/pub.key"), dir);
    expect(pub.issues[0]?.message).toMatch(/not an unencrypted OpenSSH or PEM private key/);
  });
});

describe("inventory plan output", () => {
  it("prints one line per change and counts the unchanged", () => {
    const p: InventoryPlan = {
      changes: [
        { action: "create", kind: "node", name: "gte-a", cluster: "gte", detail: "127.0.0.2:8000" },
        {
          action: "update",
          kind: "node",
          name: "gte-b",
          cluster: "gte",
          detail: "127.0.0.3:8000",
          fields: ["priority", "weight"],
        },
        { action: "delete", kind: "cluster", name: "old", detail: "active_active" },
        {
          action: "create",
          kind: "load_balancer",
          name: "lb-gte",
          cluster: "gte",
          detail: "http://10.0.0.5/",
        },
        { action: "unchanged", kind: "cluster", name: "gte" },
        { action: "unchanged", kind: "node", name: "gte-c" },
        { action: "unchanged", kind: "node", name: "gte-d" },
        { action: "unchanged", kind: "load_balancer", name: "lb-llm" },
        { action: "unchanged", kind: "load_balancer", name: "lb-x" },
      ],
      warnings: [],
      notInFile: [
        { kind: "node", name: "llm-3", cluster: "llm" },
        { kind: "load_balancer", name: "lb-old" },
      ],
    };
    expect(formatPlan(p)).toEqual([
      "+ create node gte-a (127.0.0.2:8000)",
      "~ update node gte-b (127.0.0.3:8000): priority, weight",
      "- delete cluster old (active_active)",
      "+ create load balancer lb-gte (http://10.0.0.5/)",
      "= 5 unchanged (1 cluster, 2 nodes, 2 load balancers)",
      "? not in the file, kept (apply with --prune to delete): node llm-3 (in llm), load balancer lb-old",
    ]);
    expect(summarizePlan(p, { dryRun: true })).toBe(
      "Plan: 2 to create, 1 to update, 1 to delete, 5 unchanged. Dry run: nothing was written.",
    );
    expect(summarizePlan({ ...p, changes: p.changes.slice(4) }, { dryRun: false })).toBe(
      "No changes (5 unchanged).",
    );
  });
});
