import { z } from "zod";
import { getDb } from "@/db/client";
import { withAuth } from "@/server/auth/guard";
import { listSwitchovers } from "@/server/switchover/queries";
import { requestSwitchover, SwitchoverRequestError } from "@/server/switchover/request";

export const dynamic = "force-dynamic";

export const GET = withAuth("fleet.read", async (request) => {
  const url = new URL(request.url);
  const limit = Number(url.searchParams.get("limit") ?? 50);
  const items = await listSwitchovers(getDb(), {
    clusterId: url.searchParams.get("cluster") ?? undefined,
    limit: Number.isFinite(limit) ? limit : 50,
  });
  return Response.json({ items }, { headers: { "cache-control": "no-store" } });
});

const body = z.object({
  cluster: z.string().min(1).max(200),
  target: z.string().min(1).max(200).optional(),
  reason: z.string().trim().min(1, "a reason is required").max(500),
  drill: z.boolean().optional(),
});

const STATUS = { not_found: 404, invalid: 422, in_flight: 409, not_allowed: 409 } as const;

/** Requests a switchover (or a drill); 202 with its id at once, like the UI. */
export const POST = withAuth("switchover.request", async (request, actor) => {
  const json = await request.json().catch(() => undefined);
  const parsed = body.safeParse(json);
  if (!parsed.success) {
    return Response.json(
      {
        error: "invalid",
        message: "Invalid request body",
        issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
      },
      { status: 422 },
    );
  }
  try {
    const { id } = await requestSwitchover(getDb(), {
      cluster: parsed.data.cluster,
      target: parsed.data.target ?? null,
      reason: parsed.data.reason,
      kind: parsed.data.drill ? "drill" : "manual",
      actor: { userId: actor.userId, label: actor.label, role: actor.role, address: actor.address },
    });
    return Response.json({ id, status: `/api/v1/switchovers/${id}` }, { status: 202 });
  } catch (err) {
    if (err instanceof SwitchoverRequestError) {
      return Response.json(
        { error: err.code, message: err.message, inFlight: err.inFlightId },
        { status: STATUS[err.code] },
      );
    }
    throw err;
  }
});
