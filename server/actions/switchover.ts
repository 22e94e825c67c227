"use server";
// Server actions for switchovers: thin, validated, audited (the audit entry is written by
// requestSwitchover in the same transaction as the row). Until logins exist (issue 6) the actor is
// the anonymous local operator; the demo listens on loopback only.
import { z } from "zod";
import { getDb } from "@/db/client";
import { abortSwitchover, requestSwitchover, SwitchoverRequestError } from "@/server/switchover/request";

export type ActionResult<T> = { ok: true; data: T } | { ok: false; error: string; field?: string };

const ANONYMOUS = { label: "local operator", role: "operator" } as const;

const requestInput = z.object({
  cluster: z.string().min(1).max(200),
  target: z.string().max(200).optional().nullable(),
  reason: z.string().trim().min(1, "A reason is required: say why you switch over.").max(500),
  drill: z.boolean().optional(),
});

export async function requestSwitchoverAction(input: unknown): Promise<ActionResult<{ id: string }>> {
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
      actor: ANONYMOUS,
    });
    return { ok: true, data: { id } };
  } catch (err) {
    if (err instanceof SwitchoverRequestError) return { ok: false, error: err.message };
    throw err;
  }
}

const abortInput = z.object({
  id: z.uuid(),
  reason: z.string().trim().min(1, "A reason is required.").max(500),
});

export async function abortSwitchoverAction(input: unknown): Promise<ActionResult<{ state: string }>> {
  const parsed = abortInput.safeParse(input);
  if (!parsed.success) return { ok: false, error: parsed.error.issues[0]?.message ?? "Invalid request" };
  try {
    return { ok: true, data: await abortSwitchover(getDb(), { ...parsed.data, actor: ANONYMOUS }) };
  } catch (err) {
    if (err instanceof SwitchoverRequestError) return { ok: false, error: err.message };
    throw err;
  }
}
