"use server";
// Server actions for switchovers: thin, validated, authorised (guard.ts) and audited (the audit
// entry is written by requestSwitchover / abortSwitchover in the same transaction as the change).
import { z } from "zod";
import { getDb } from "@/db/client";
import { type ActionResult, authorizedAction } from "@/server/auth/guard";
import { abortSwitchover, requestSwitchover, SwitchoverRequestError } from "@/server/switchover/request";

const requestInput = z.object({
  cluster: z.string().min(1).max(200),
  target: z.string().max(200).optional().nullable(),
  reason: z.string().trim().min(1, "A reason is required: say why you switch over.").max(500),
  drill: z.boolean().optional(),
});

export const requestSwitchoverAction = authorizedAction(
  "switchover.request",
  async (actor, input: unknown): Promise<ActionResult<{ id: string }>> => {
    const parsed = requestInput.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, error: issue?.message ?? "Invalid request", field: issue?.path.join(".") };
    }
    try {
      const { id } = await requestSwitchover(getDb(), {
        cluster: parsed.data.cluster,
        target: parsed.data.target || null,
        reason: parsed.data.reason,
        kind: parsed.data.drill ? "drill" : "manual",
        actor: { userId: actor.userId, label: actor.label, role: actor.role, address: actor.address },
      });
      return { ok: true, data: { id } };
    } catch (err) {
      if (err instanceof SwitchoverRequestError) return { ok: false, error: err.message };
      throw err;
    }
  },
);

const abortInput = z.object({
  id: z.uuid(),
  reason: z.string().trim().min(1, "A reason is required.").max(500),
});

export const abortSwitchoverAction = authorizedAction(
  "switchover.abort",
  async (actor, input: unknown): Promise<ActionResult<{ state: string }>> => {
    const parsed = abortInput.safeParse(input);
    if (!parsed.success) return { ok: false, error: parsed.error.issues[0]?.message ?? "Invalid request" };
    try {
      const data = await abortSwitchover(getDb(), {
        ...parsed.data,
        actor: { userId: actor.userId, label: actor.label, role: actor.role, address: actor.address },
      });
      return { ok: true, data };
    } catch (err) {
      if (err instanceof SwitchoverRequestError) return { ok: false, error: err.message };
      throw err;
    }
  },
);
