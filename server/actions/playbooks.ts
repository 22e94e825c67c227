"use server";
// Settings → playbooks: read the active version of each kind, validate editor text (line and
// column per problem), dry-run it against a cluster (renders, runs nothing), save it as the next
// version (audited in the same transaction). Admins only. The work is server/settings/playbooks.ts.
import { getDb } from "@/db/client";
import { auditActor, authorizedAction } from "@/server/auth/guard";
import { settle } from "@/server/settings/errors";
import {
  dryRunPlaybook,
  listPlaybookSettings,
  savePlaybookText,
  validatePlaybookInput,
} from "@/server/settings/playbooks";

export const loadPlaybooksAction = authorizedAction("playbook.write", async () =>
  settle(() => listPlaybookSettings(getDb())),
);

export const checkPlaybookAction = authorizedAction("playbook.write", async (_actor, input: unknown) =>
  settle(async () => validatePlaybookInput(input)),
);

export const dryRunPlaybookAction = authorizedAction("playbook.write", async (_actor, input: unknown) =>
  settle(() => dryRunPlaybook(getDb(), input)),
);

export const savePlaybookAction = authorizedAction("playbook.write", async (actor, input: unknown) =>
  settle(() => savePlaybookText(getDb(), auditActor(actor), input)),
);
