// The demo fleet: three clusters that show the shapes Switchyard manages. Shared by the demo
// seeder (what goes into Postgres) and the simulator (which nodes to run), so the two agree.
export type DemoNode = {
  name: string;
  host: string;
  role: "primary" | "standby" | "member";
  priority: number;
  weight: number;
};
export type DemoCluster = {
  name: string;
  description: string;
  mode: "active_standby" | "active_active";
  slaTargetPct: number;
  nodes: DemoNode[];
};

export const DEMO_CLUSTERS: DemoCluster[] = [
  {
    name: "gte-pro-search",
    description: "GTE semantic search (model + FAISS index on :8000): a primary with a warm standby",
    mode: "active_standby",
    slaTargetPct: 99.99,
    nodes: [
      { name: "gte-a", host: "127.0.0.2", role: "primary", priority: 0, weight: 1 },
      { name: "gte-b", host: "127.0.0.3", role: "standby", priority: 10, weight: 1 },
    ],
  },
  {
    name: "llm-chat",
    description: "LLM chat server: a primary and two standbys, taken in priority order",
    mode: "active_standby",
    slaTargetPct: 99.95,
    nodes: [
      { name: "llm-1", host: "127.0.0.4", role: "primary", priority: 0, weight: 1 },
      { name: "llm-2", host: "127.0.0.5", role: "standby", priority: 10, weight: 1 },
      { name: "llm-3", host: "127.0.0.6", role: "standby", priority: 20, weight: 1 },
    ],
  },
  {
    name: "ollama-bridge",
    description: "Ollama/LLM bridge: an active-active pool of weighted members",
    mode: "active_active",
    slaTargetPct: 99.9,
    nodes: [
      { name: "ollama-1", host: "127.0.0.7", role: "member", priority: 0, weight: 5 },
      { name: "ollama-2", host: "127.0.0.8", role: "member", priority: 0, weight: 3 },
      { name: "ollama-3", host: "127.0.0.9", role: "member", priority: 0, weight: 2 },
    ],
  },
];
