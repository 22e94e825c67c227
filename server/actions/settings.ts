"use server";
import { getDb } from "@/db/client";
// Settings: clusters, nodes, load balancers, maintenance, test connection and host keys,
// credentials, failover policy. Thin: authorise (guard.ts), call the domain (server/settings/*,
// which validates with the inventory/policy schemas and writes the audit row and the NOTIFY in the
// change's own transaction), map what it throws to an ActionResult (errors.ts `settle`).
import { dataDir } from "@/env";
import { auditActor, authorizedAction } from "@/server/auth/guard";
import { loadSecretKey } from "@/server/credentials/crypto";
import { createCredential, listCredentials, rotateCredential } from "@/server/settings/credentials";
import { settle } from "@/server/settings/errors";
import {
  createCluster,
  createNode,
  deleteCluster,
  deleteLoadBalancer,
  deleteNode,
  listInventorySettings,
  pinHostKey,
  saveLoadBalancer,
  setClusterMaintenance,
  setNodeMaintenance,
  updateCluster,
  updateNode,
} from "@/server/settings/inventory";
import { listPolicySettings, savePolicy } from "@/server/settings/policy";
import { testConnection } from "@/server/settings/test-connection";

/** The key that seals SSH credentials, read when needed (a missing key is a clear error then). */
const secretKey = () => loadSecretKey(dataDir);

// -- reads (for the pages' React Query caches) --------------------------------------------------

/** Clusters, nodes, load balancers and credential names (operators see it for maintenance). */
export const loadInventorySettingsAction = authorizedAction("maintenance.set", async () =>
  settle(() => listInventorySettings(getDb())),
);

export const loadCredentialsAction = authorizedAction("credential.write", async () =>
  settle(() => listCredentials(getDb())),
);

export const loadPolicySettingsAction = authorizedAction("policy.write", async () =>
  settle(() => listPolicySettings(getDb())),
);

// -- clusters -----------------------------------------------------------------------------------

export const createClusterAction = authorizedAction("inventory.write", async (actor, input: unknown) =>
  settle(() => createCluster(getDb(), auditActor(actor), input)),
);

export const updateClusterAction = authorizedAction("inventory.write", async (actor, input: unknown) =>
  settle(() => updateCluster(getDb(), auditActor(actor), input)),
);

export const deleteClusterAction = authorizedAction("inventory.write", async (actor, input: unknown) =>
  settle(() => deleteCluster(getDb(), auditActor(actor), input)),
);

export const setClusterMaintenanceAction = authorizedAction(
  "maintenance.set",
  async (actor, input: unknown) => settle(() => setClusterMaintenance(getDb(), auditActor(actor), input)),
);

// -- nodes --------------------------------------------------------------------------------------

export const createNodeAction = authorizedAction("inventory.write", async (actor, input: unknown) =>
  settle(() => createNode(getDb(), auditActor(actor), input)),
);

export const updateNodeAction = authorizedAction("inventory.write", async (actor, input: unknown) =>
  settle(() => updateNode(getDb(), auditActor(actor), input)),
);

export const deleteNodeAction = authorizedAction("inventory.write", async (actor, input: unknown) =>
  settle(() => deleteNode(getDb(), auditActor(actor), input)),
);

export const setNodeMaintenanceAction = authorizedAction("maintenance.set", async (actor, input: unknown) =>
  settle(() => setNodeMaintenance(getDb(), auditActor(actor), input)),
);

// -- load balancers -----------------------------------------------------------------------------

export const saveLoadBalancerAction = authorizedAction("inventory.write", async (actor, input: unknown) =>
  settle(() => saveLoadBalancer(getDb(), auditActor(actor), input)),
);

export const deleteLoadBalancerAction = authorizedAction("inventory.write", async (actor, input: unknown) =>
  settle(() => deleteLoadBalancer(getDb(), auditActor(actor), input)),
);

// -- SSH: test connection (writes nothing) and trusting a host key (audited) -----------------------

export const testConnectionAction = authorizedAction("inventory.write", async (_actor, input: unknown) =>
  settle(() => testConnection(getDb(), secretKey, input)),
);

export const trustHostKeyAction = authorizedAction("inventory.write", async (actor, input: unknown) =>
  settle(() => pinHostKey(getDb(), auditActor(actor), input)),
);

// -- credentials (write-only: no action returns a private key) ------------------------------------

export const createCredentialAction = authorizedAction("credential.write", async (actor, input: unknown) =>
  settle(() => createCredential(getDb(), auditActor(actor), secretKey, input)),
);

export const rotateCredentialAction = authorizedAction("credential.write", async (actor, input: unknown) =>
  settle(() => rotateCredential(getDb(), auditActor(actor), secretKey, input)),
);

// -- policy -------------------------------------------------------------------------------------

export const savePolicyAction = authorizedAction("policy.write", async (actor, input: unknown) =>
  settle(() => savePolicy(getDb(), auditActor(actor), input)),
);
