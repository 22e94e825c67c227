// A valid inventory file for the tests, and a fingerprint helper. Each test takes a fresh copy and
// mutates it, so the invalid-file table reads as "the valid file, except …".
import { fingerprintSshPublicKey } from "@/server/ssh/fingerprint";

/** A well-formed `SHA256:…` fingerprint, stable per label. */
export const fp = (label: string) => fingerprintSshPublicKey(Buffer.from(`host key of ${label}`));

// biome-ignore lint/suspicious/noExplicitAny: test files are mutated freely, as JSON would be.
export type RawFile = any;

export function sampleInventory(): RawFile {
  return {
    version: 1,
    credentials: [{ name: "fleet-key", privateKeyFile: "keys/fleet.key" }],
    clusters: [
      {
        name: "gte-pro-search",
        description: "GTE semantic search: a primary with a warm standby",
        mode: "active_standby",
        slaTargetPct: 99.99,
        policy: { preset: "default", failuresToFail: 4 },
        nodes: [
          {
            name: "gte-a",
            host: "127.0.0.2",
            credential: "fleet-key",
            hostKeyFingerprint: fp("gte-a"),
            role: "primary",
            priority: 0,
          },
          {
            name: "gte-b",
            host: "127.0.0.3",
            credential: "fleet-key",
            hostKeyFingerprint: fp("gte-b"),
            role: "standby",
            priority: 10,
          },
        ],
      },
      {
        name: "ollama-bridge",
        mode: "active_active",
        slaTargetPct: 99.9,
        policy: { preset: "conservative" },
        nodes: [
          {
            name: "ollama-1",
            host: "gpu-7.example.internal",
            servicePort: 11434,
            healthPath: "/api/health",
            sshPort: 2222,
            sshUser: "ops",
            credential: "fleet-key",
            hostKeyFingerprint: fp("ollama-1"),
            role: "member",
            weight: 5,
          },
          {
            name: "ollama-2",
            host: "fd00::8",
            servicePort: 11434,
            healthPath: "/api/health",
            credential: "fleet-key",
            hostKeyFingerprint: fp("ollama-2"),
            role: "member",
            weight: 3,
            maintenance: true,
          },
        ],
      },
    ],
  };
}

/** A load balancer with only the fields the file requires (the rest take their defaults). */
export function sampleLoadBalancer(cluster: string, host = "10.0.0.5"): RawFile {
  return {
    host,
    credential: "fleet-key",
    hostKeyFingerprint: fp(`lb of ${cluster}`),
    upstreamConfigPath: `/etc/nginx/switchyard/${cluster}.conf`,
    endpointUrl: `http://${host}/`,
  };
}

/** The sample, with a load balancer for each cluster: defaults on the first, every field spelled
 * out on the second. */
export function sampleInventoryWithLoadBalancers(): RawFile {
  const f = sampleInventory();
  f.clusters[0].loadBalancer = sampleLoadBalancer("gte-pro-search");
  f.clusters[1].loadBalancer = {
    name: "bridge-lb",
    host: "lb.example.internal",
    sshPort: 2222,
    sshUser: "ops",
    credential: "fleet-key",
    hostKeyFingerprint: fp("bridge-lb"),
    upstreamConfigPath: "/etc/nginx/switchyard/ollama-bridge.conf",
    endpointUrl: "https://lb.example.internal:8443/v1/",
    nginxBin: "/usr/sbin/nginx",
    nginxConfPath: "/etc/nginx/nginx.conf",
  };
  return f;
}
