import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PLAYBOOKS } from "./default-playbooks";
import {
  checkTemplate,
  renderCommand,
  type StepTarget,
  TEMPLATE_VARIABLES,
  TemplateError,
  type TemplateValues,
  type VariableName,
  variablesForTarget,
} from "./template";

const run = promisify(execFile);
const ALL_VARIABLES = Object.keys(TEMPLATE_VARIABLES) as VariableName[];
const TARGETS: StepTarget[] = ["old_primary", "new_primary", "lb", "member"];

let dir: string;
let marker: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-template-"));
  marker = path.join(dir, "pwned");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  // Every test in this file must leave the marker absent; one that created it failed, wherever.
  expect(existsSync(marker)).toBe(false);
});

function templateError(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error("expected a TemplateError, nothing was thrown");
}

describe("checkTemplate", () => {
  it("returns the variables a template uses, once each, in order", () => {
    expect(
      checkTemplate(
        "curl http://{{node_host}}:{{ node_port }}{{health_path}} -H {{epoch}} {{node_host}}",
        "member",
      ),
    ).toEqual(["node_host", "node_port", "health_path", "epoch"]);
    expect(checkTemplate("true", "lb")).toEqual([]);
  });

  it("names an unknown variable, its offset, and the known ones", () => {
    const err = templateError(() => checkTemplate("curl http://{{hots}}:1", "new_primary"));
    expect(err.variable).toBe("hots");
    expect(err.offset).toBe("curl http://".length);
    expect(err.message).toContain("unknown variable {{hots}}");
    expect(err.message).toContain("node_host");
    // Case matters, and there is no expression language.
    expect(templateError(() => checkTemplate("{{Epoch}}", "lb")).variable).toBe("Epoch");
    expect(templateError(() => checkTemplate("{{epoch | raw}}", "lb")).variable).toBe("epoch | raw");
    expect(templateError(() => checkTemplate("{{}}", "lb")).variable).toBe("");
  });

  it("offers each target only its own variables", () => {
    const nodeVars: VariableName[] = ["node_name", "node_host", "node_port", "health_path"];
    const lbVars: VariableName[] = ["upstream_path", "upstream_config", "nginx_bin", "nginx_conf"];
    for (const target of TARGETS) {
      const allowed = variablesForTarget(target);
      for (const v of ALL_VARIABLES) {
        const scope = TEMPLATE_VARIABLES[v].scope;
        const expected = scope === "switchover" || (scope === "node" ? target !== "lb" : target === "lb");
        expect(allowed.includes(v), `${v} on ${target}`).toBe(expected);
        if (expected) {
          expect(checkTemplate(`x {{${v}}}`, target)).toEqual([v]);
        } else {
          const err = templateError(() => checkTemplate(`x {{${v}}}`, target));
          expect(err.variable).toBe(v);
          expect(err.offset).toBe(2);
          expect(err.message).toContain(`not available to a step aimed at ${target}`);
        }
      }
    }
    expect(variablesForTarget("lb")).toEqual(expect.arrayContaining(lbVars));
    expect(variablesForTarget("lb")).not.toEqual(expect.arrayContaining(nodeVars.slice(0, 1)));
    expect(variablesForTarget("member")).toEqual(expect.arrayContaining(nodeVars));
  });

  it.each([
    ["{{epoch", 0, "unclosed"],
    ["echo {{epoch}} {{", 15, "unclosed"],
    ["echo }} {{epoch}}", 5, "without a matching"],
    ["echo {{epoch}}}}", 14, "without a matching"],
    ["echo {{ep{och}}", 5, "unclosed"],
    ["a\0b", 0, "NUL"],
  ])("rejects stray braces and NUL: %j", (template, offset, words) => {
    const err = templateError(() => checkTemplate(template, "lb"));
    expect(err.variable).toBeNull();
    expect(err.offset).toBe(offset);
    expect(err.message).toContain(words);
    // renderCommand parses the same way, so a template checkTemplate refuses can never render.
    expect(() => renderCommand(template, { epoch: 1 })).toThrow(TemplateError);
  });

  it("leaves single braces alone (JSON bodies, shell parameter expansion)", () => {
    const t = `x=\${u%/}; curl --data '{"epoch":'{{epoch}}'}' {{lb_endpoint_url}}`;
    expect(checkTemplate(t, "lb")).toEqual(["epoch", "lb_endpoint_url"]);
    expect(renderCommand(t, { epoch: 7, lb_endpoint_url: "http://lb.example/" })).toBe(
      `x=\${u%/}; curl --data '{"epoch":'7'}' http://lb.example/`,
    );
  });
});

// ---------------------------------------------------------------------------------------------

const UUID = "0b6f3c1e-8a4d-4c1b-9f2e-3d5a6b7c8d9e";
const name = {
  good: ["gte-a", "a", "0", "a".repeat(63)],
  bad: ["", "-a", "A", "a_b", "a.b", "a".repeat(64), "a b"],
};
const host = {
  good: ["10.0.0.1", "127.0.0.2", "::1", "fe80::1", "gpu-a.example.com", "gpu-a"],
  bad: ["", "a b", "-oProxyCommand=x", "10.0.0.1;id", "host$(id)", "[::1]", "a..b"],
};
const port = { good: ["1", "8000", "65535", 443], bad: ["0", "65536", "80a", "-1", "08", 0, 1.5, "", " 80"] };

const VALIDATION: Record<VariableName, { good: (string | number)[]; bad: (string | number)[] }> = {
  cluster_name: name,
  epoch: {
    good: [0, 1, "42", Number.MAX_SAFE_INTEGER],
    bad: [-1, "-1", "01", "1e3", 1.5, Number.NaN, Number.POSITIVE_INFINITY, "9007199254740992", "", "1 "],
  },
  switchover_id: { good: [UUID], bad: ["", UUID.toUpperCase(), "not-a-uuid", `${UUID};id`, `${UUID}\n`] },
  node_name: name,
  node_host: host,
  node_port: port,
  health_path: {
    good: ["/health", "/", "/api/v1/health", "/a-b_c.d~e"],
    bad: ["", "health", "/../etc/passwd", "/a/../b", "/a?b=1", "/a b", "/a;id", "//x$(id)"],
  },
  old_primary_name: name,
  old_primary_host: host,
  old_primary_port: port,
  new_primary_name: name,
  new_primary_host: host,
  new_primary_port: port,
  lb_endpoint_url: {
    good: [
      "http://lb.example.com",
      "https://10.0.0.1:8443/search?q=1",
      "http://[::1]:8080/",
      "http://h/?a='$;`",
    ],
    bad: [
      "",
      "lb.example.com",
      "ftp://lb",
      "http://u:p@lb",
      "http://lb /x",
      "http://lb/\n",
      "javascript:alert(1)",
    ],
  },
  upstream_path: {
    good: ["/etc/nginx/conf.d/switchyard-gte.conf", "/a", "/a+b/c_d-e.f"],
    bad: ["", "conf.d/x.conf", "/etc/../x", "/a b", "/a;b", "/a$b", "/a'b", `/${"a".repeat(1024)}`],
  },
  upstream_config: {
    good: ["", "upstream gte {\n\tserver 10.0.0.1:8000;\n}\n", '# it\'s $HOME; `x` "y" \\z'],
    bad: ["a\0b", "\u001b[31m", "a\rb", "\u007f", "x".repeat(64 * 1024 + 1)],
  },
  nginx_bin: {
    good: ["nginx", "/usr/sbin/nginx", "nginx-debug"],
    bad: ["", "-t", "nginx -t", "nginx;id", "$(id)"],
  },
  nginx_conf: { good: ["", "/etc/nginx/nginx.conf"], bad: ["nginx.conf", "/etc/nginx/../x", "-c", " "] },
  verify_deadline_ms: { good: [100, 10_000, "600000"], bad: [99, 600_001, 0, "1e4", ""] },
};

describe("renderCommand validates and quotes every value", () => {
  it("has a validation table for every variable", () => {
    expect(Object.keys(VALIDATION).sort()).toEqual([...ALL_VARIABLES].sort());
  });

  for (const variable of ALL_VARIABLES) {
    it(`${variable}: accepts good values, refuses bad ones naming the variable`, () => {
      const table = VALIDATION[variable];
      for (const good of table.good) {
        const out = renderCommand(`x {{${variable}}} y`, { [variable]: good });
        expect(out.startsWith("x ") && out.endsWith(" y"), JSON.stringify(good)).toBe(true);
      }
      for (const bad of table.bad) {
        const err = templateError(() => renderCommand(`x {{${variable}}}`, { [variable]: bad }));
        expect(err.variable, JSON.stringify(bad)).toBe(variable);
        expect(err.offset).toBe(2);
        expect(err.message).toContain(`invalid value for {{${variable}}}`);
      }
    });
  }

  it("renders numbers as plain integers", () => {
    expect(
      renderCommand("{{epoch}} {{node_port}} {{verify_deadline_ms}}", {
        epoch: 42,
        node_port: 8000,
        verify_deadline_ms: 10_000,
      }),
    ).toBe("42 8000 10000");
    expect(renderCommand("{{epoch}}", { epoch: Number.MAX_SAFE_INTEGER })).toBe("9007199254740991");
  });

  it("renders an empty nginx_conf (or upstream_config) as '' so it stays one argument", async () => {
    expect(renderCommand("nginx -t {{nginx_conf}} x", { nginx_conf: "" })).toBe("nginx -t '' x");
    const cmd = renderCommand('set -- {{nginx_conf}} {{upstream_config}}; printf \'%s|\' "$#" "$1" "$2"', {
      nginx_conf: "",
      upstream_config: "",
    });
    expect((await run("/bin/sh", ["-c", cmd])).stdout).toBe("2|||");
  });

  it("names the missing variable and renders nothing partially", () => {
    const err = templateError(() =>
      renderCommand("a {{node_host}} b {{node_port}}", { node_host: "10.0.0.1" }),
    );
    expect(err.variable).toBe("node_port");
    expect(err.message).toContain("no value for {{node_port}}");
    expect(templateError(() => renderCommand("{{nope}}", {})).variable).toBe("nope");
  });

  it("quotes what needs quoting and leaves plain words readable", () => {
    expect(
      renderCommand("curl http://{{node_host}}:{{node_port}}{{health_path}}", {
        node_host: "10.0.0.1",
        node_port: 8000,
        health_path: "/health",
      }),
    ).toBe("curl http://10.0.0.1:8000/health");
    expect(renderCommand("{{upstream_config}}", { upstream_config: "it's" })).toBe("'it'\\''s'");
  });
});

// ---------------------------------------------------------------------------------------------
// Command injection, through a real /bin/sh

describe("no value ever becomes code", () => {
  const payloads = () => [
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `; touch ${marker}`,
    `;touch ${marker}`,
    `&& touch ${marker}`,
    `|| touch ${marker}`,
    `| touch ${marker}`,
    `& touch ${marker}`,
    `> ${marker}`,
    `' ; touch ${marker} ; '`,
    `'$(touch ${marker})'`,
    `"$(touch ${marker})"`,
    `" ; touch ${marker} ; "`,
    `\\'; touch ${marker}; \\'`,
    `\ntouch ${marker}`,
    `x\ntouch ${marker}\n`,
    `\r\ntouch ${marker}`,
    `\ttouch ${marker}`,
    "$IFS",
    `\${IFS}touch\${IFS}${marker}`,
    `$((1+1))$(touch ${marker})`,
    `<(touch ${marker})`,
    `{touch,${marker}}`,
    "$HOME $PATH $$ $0 $1 $@ $*",
    "%s%n%x\\n\\0",
    "-n",
    "--help",
    "* ? [a] ~",
    "'",
    "''",
    '"',
    "\\",
    "a\\'b",
    "\u2019 ünïcødé ✓",
  ];

  // A prefix that makes the start of the value valid, so only the payload can be what is refused.
  const VALID_PREFIX: Record<VariableName, string> = {
    cluster_name: "gte",
    epoch: "1",
    switchover_id: UUID,
    node_name: "gte-a",
    node_host: "10.0.0.1",
    node_port: "8000",
    health_path: "/health",
    old_primary_name: "gte-a",
    old_primary_host: "gpu-a.example.com",
    old_primary_port: "8000",
    new_primary_name: "gte-b",
    new_primary_host: "::1",
    new_primary_port: "8000",
    lb_endpoint_url: "http://lb.example/?q=",
    upstream_path: "/etc/nginx/conf.d/",
    upstream_config: "upstream gte { server 10.0.0.1:8000; }\n",
    nginx_bin: "/usr/sbin/nginx",
    nginx_conf: "/etc/nginx/nginx.conf",
    verify_deadline_ms: "1000",
  };

  function candidates(variable: VariableName): string[] {
    const out = new Set<string>();
    for (const p of payloads()) {
      // URLs cannot hold whitespace: the same payload with ${IFS} instead of spaces is the URL attack.
      const noSpaces = p.replaceAll(" ", `\${IFS}`);
      for (const v of [p, noSpaces]) {
        out.add(v);
        out.add(VALID_PREFIX[variable] + v);
      }
    }
    return [...out];
  }

  it("the harness can see an injection: the same payload unquoted creates the marker", async () => {
    const control = path.join(dir, "control");
    await run("/bin/sh", ["-c", `printf '%s\\n' $(touch ${control})`]);
    expect(existsSync(control)).toBe(true);
    await rm(control);
  });

  it("every variable, every payload: refused by its validator or printed back byte for byte", async () => {
    const executedPerVariable = new Map<VariableName, number>();
    for (const variable of ALL_VARIABLES) {
      for (const value of candidates(variable)) {
        let cmd: string;
        try {
          cmd = renderCommand(`printf '%s\\n' {{${variable}}}`, { [variable]: value });
        } catch (err) {
          expect(err).toBeInstanceOf(TemplateError);
          expect((err as TemplateError).variable).toBe(variable);
          continue;
        }
        const { stdout } = await run("/bin/sh", ["-c", cmd], { cwd: dir });
        expect(stdout, `${variable} = ${JSON.stringify(value)}`).toBe(`${value}\n`);
        expect(existsSync(marker), `${variable} = ${JSON.stringify(value)}`).toBe(false);
        executedPerVariable.set(variable, (executedPerVariable.get(variable) ?? 0) + 1);
      }
    }
    // The free-text variables really let hostile text through to the shell, so the test above is
    // not vacuous: their values reached /bin/sh and stayed data.
    expect(executedPerVariable.get("upstream_config") ?? 0).toBeGreaterThan(40);
    expect(executedPerVariable.get("lb_endpoint_url") ?? 0).toBeGreaterThan(10);
  }, 120_000);

  it("a URL with quotes, $, ; and backticks in its query reaches the shell as one literal word", async () => {
    const url = `http://lb.example/?a='x'&b=$(touch\${IFS}${marker})&c=\`id\`;d|e`;
    const cmd = renderCommand('set -- {{lb_endpoint_url}}; printf \'%s|%s\' "$#" "$1"', {
      lb_endpoint_url: url,
    });
    expect((await run("/bin/sh", ["-c", cmd])).stdout).toBe(`1|${url}`);
  });
});

// ---------------------------------------------------------------------------------------------
// The built-in playbooks' commands

describe("default playbook commands", () => {
  const steps = DEFAULT_PLAYBOOKS.flatMap((pb) =>
    pb.steps.map((step) => ({ label: `${pb.name}/${step.name}`, step })),
  );

  function hostileValidValues(root: string): TemplateValues {
    return {
      cluster_name: "gte",
      epoch: 42,
      switchover_id: UUID,
      node_name: "gte-b",
      node_host: "::1",
      node_port: 8000,
      health_path: "/health",
      old_primary_name: "gte-a",
      old_primary_host: "127.0.0.2",
      old_primary_port: 8000,
      new_primary_name: "gte-b",
      new_primary_host: "::1",
      new_primary_port: 8000,
      lb_endpoint_url: `http://127.0.0.1:1/?a='x'&b=$(touch\${IFS}${marker})&c=\`touch\${IFS}${marker}\`;d|e`,
      upstream_path: path.join(root, "conf.d", "switchyard-gte.conf"),
      upstream_config:
        `# switchyard-epoch: 42\nupstream gte { server 10.0.0.1:8000; } # $(touch ${marker}) \`touch ${marker}\`\n` +
        `'; touch ${marker}; '\n"; touch ${marker}; "\n| touch ${marker} && touch ${marker}\n`,
      nginx_bin: "nginx",
      nginx_conf: "",
      verify_deadline_ms: 300,
    };
  }

  /** Per variable, a hostile value its validator refuses. */
  const HOSTILE_INVALID: Record<VariableName, string> = Object.fromEntries(
    ALL_VARIABLES.map((v) => [v, `x'; touch /tmp/switchyard-never; '`]),
  ) as Record<VariableName, string>;
  HOSTILE_INVALID.upstream_config = "# switchyard-epoch: 42\n\u001b]0;$(touch /tmp/switchyard-never)\u0007";
  HOSTILE_INVALID.lb_endpoint_url = "http://lb.example/ ;touch /tmp/switchyard-never";
  HOSTILE_INVALID.nginx_conf = "/etc/nginx/nginx.conf;touch /tmp/switchyard-never";

  it("every command refuses a hostile invalid value for each variable it uses, naming it", () => {
    for (const { label, step } of steps) {
      const used = checkTemplate(step.command, step.target);
      for (const variable of used) {
        const values = { ...hostileValidValues(dir), [variable]: HOSTILE_INVALID[variable] };
        const err = templateError(() => renderCommand(step.command, values));
        expect(err.variable, `${label}: ${variable}`).toBe(variable);
      }
    }
  });

  it("with hostile but valid values, every command runs as data: stubs see the exact values, no marker", async () => {
    // Stub curl and nginx on PATH record their argv; everything else (dirname, date, sleep) is real.
    const root = await mkdtemp(path.join(dir, "run-"));
    const bin = path.join(root, "bin");
    await mkdir(bin);
    await mkdir(path.join(root, "conf.d"));
    const log = path.join(root, "argv.log");
    const stub = (answer: string) =>
      `#!/bin/sh\nfor a in "$0" "$@"; do printf '%s\\036' "$a" >>'${log}'; done\nprintf '\\n' >>'${log}'\n${answer}\n`;
    await writeFile(
      path.join(bin, "curl"),
      stub(`printf '%s' '{"status":"healthy","role":"master","epoch":42}'`),
    );
    await writeFile(path.join(bin, "nginx"), stub("exit 0"));
    await chmod(path.join(bin, "curl"), 0o755);
    await chmod(path.join(bin, "nginx"), 0o755);
    const values = hostileValidValues(root);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };

    for (const { label, step } of steps) {
      await writeFile(log, "");
      const cmd = renderCommand(step.command, values);
      const result = await run("/bin/sh", ["-c", cmd], { cwd: root, env, timeout: 20_000 }).catch(
        (err: { code: number; stderr: string }) => err,
      );
      expect(existsSync(marker), label).toBe(false);
      expect("code" in result ? `exit ${result.code}: ${result.stderr}` : "exit 0", label).toBe("exit 0");
      const calls = (await readFile(log, "utf8"))
        .split("\n")
        .filter(Boolean)
        .map((line) => line.split("\u001e").slice(0, -1));
      const curlCalls = calls.filter((argv) => argv[0]?.endsWith("/curl"));
      if (step.command.includes("/api/v1/")) {
        // POST {"epoch":42} to the node's own address; an IPv6 literal is bracketed.
        const endpoint = step.command.includes("/api/v1/degrade") ? "degrade" : "activate";
        expect(curlCalls, label).toEqual([
          expect.arrayContaining(["--data", '{"epoch":42}', `http://[::1]:8000/api/v1/${endpoint}`]),
        ]);
      }
      if (step.name === "new-primary-healthy" || step.name === "verify-new-primary-is-master") {
        expect(curlCalls, label).toEqual([expect.arrayContaining(["-g", "http://[::1]:8000/health"])]);
      }
      if (step.name === "verify-lb-endpoint") {
        // The query (with its hostile text) is dropped before /health is appended.
        expect(curlCalls, label).toEqual([expect.arrayContaining(["http://127.0.0.1:1/health"])]);
      }
      if (step.target === "lb" && step.command.includes("upstream_config")) {
        // The switch wrote the hostile content byte for byte and ran the stub nginx.
        expect(await readFile(values.upstream_path as string, "utf8"), label).toBe(values.upstream_config);
        expect(
          calls.some((argv) => argv[0]?.endsWith("/nginx")),
          label,
        ).toBe(true);
      }
    }
  }, 120_000);
});
