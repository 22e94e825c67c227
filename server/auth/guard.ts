// Authorisation in one place. Every server action is built with `authorizedAction` and every route
// handler with `withAuth`: both resolve who is calling (session cookie, or a bearer API token for
// route handlers) and check the permission table (roles.ts) before any work. A test enumerates every
// action and route against every role (server/auth/authz.test.ts).
import { AsyncLocalStorage } from "node:async_hooks";
import { getDb } from "@/db/client";
import type { AuditEntry } from "@/server/audit/append";
import { can, type Permission, type Role } from "./roles";
import { resolveSession, SESSION_COOKIE } from "./sessions";
import { resolveApiToken } from "./tokens";

export type Actor = {
  kind: "session" | "token";
  userId: string | null;
  /** The user name, or `token:<name>` for an API token. */
  label: string;
  role: Role;
  address: string | null;
  tokenId?: string;
  /** The session cookie value (only to log out). */
  sessionToken?: string;
};

export class AuthError extends Error {
  override name = "AuthError";
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

export type ActionResult<T> =
  | { ok: true; data: T }
  | { ok: false; error: string; field?: string; status?: number };

// Tests (and scripts) run code as a given actor without an HTTP request.
const override = new AsyncLocalStorage<{ actor: Actor | null }>();

export function runAsActor<T>(actor: Actor | null, fn: () => Promise<T>): Promise<T> {
  return override.run({ actor }, fn);
}

/**
 * The caller's address. Behind N trusted reverse proxies (SWITCHYARD_TRUSTED_PROXY_HOPS=N, each
 * appending to X-Forwarded-For) it is the entry the outermost trusted proxy added, which a client
 * cannot forge. With no proxy (0, the default) Next.js fills X-Forwarded-For from the socket only
 * when the client sent none, so the value is the socket address unless the client lied: it is
 * recorded, but only the per-account login limit can be relied on then (see README).
 */
export function addressFrom(headers: Headers): string | null {
  const hops = (headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  if (hops.length === 0) return null;
  const trusted = Math.max(0, Math.min(10, Number(process.env.SWITCHYARD_TRUSTED_PROXY_HOPS ?? 0) || 0));
  const pick = trusted === 0 ? hops[hops.length - 1] : hops[Math.max(0, hops.length - trusted)];
  return pick ? pick.slice(0, 64) : null;
}

function cookieFrom(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return null;
}

/** Who is calling, from a request: a bearer API token, or the session cookie. */
export async function actorFromRequest(req: Request): Promise<Actor | null> {
  const scoped = override.getStore();
  if (scoped) return scoped.actor;
  const address = addressFrom(req.headers);
  const auth = req.headers.get("authorization");
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    const token = m ? await resolveApiToken(getDb(), m[1]) : null;
    return token
      ? {
          kind: "token",
          userId: null,
          label: `token:${token.name}`,
          role: token.role,
          address,
          tokenId: token.tokenId,
        }
      : null;
  }
  const value = cookieFrom(req.headers.get("cookie"), SESSION_COOKIE);
  const session = await resolveSession(getDb(), value);
  return session
    ? {
        kind: "session",
        userId: session.userId,
        label: session.username,
        role: session.role,
        address,
        sessionToken: value ?? undefined,
      }
    : null;
}

/** Who is calling, in a server component or server action (Next's request scope). */
export async function currentActor(): Promise<Actor | null> {
  const scoped = override.getStore();
  if (scoped) return scoped.actor;
  const { cookies, headers } = await import("next/headers");
  const [jar, h] = await Promise.all([cookies(), headers()]);
  const value = jar.get(SESSION_COOKIE)?.value;
  const session = await resolveSession(getDb(), value);
  if (!session) return null;
  return {
    kind: "session",
    userId: session.userId,
    label: session.username,
    role: session.role,
    address: addressFrom(h),
    sessionToken: value,
  };
}

export function check(actor: Actor | null, permission: Permission): Actor {
  if (!actor) throw new AuthError(401, "Sign in first.");
  if (!can(actor.role, permission)) {
    throw new AuthError(403, `Your role (${actor.role}) may not do this (${permission}).`);
  }
  return actor;
}

export async function requirePermission(permission: Permission): Promise<Actor> {
  return check(await currentActor(), permission);
}

/** The audit fields for an actor. */
export function auditActor(
  actor: Actor,
): Pick<AuditEntry, "actorUserId" | "actorLabel" | "actorRole" | "address"> {
  return {
    actorUserId: actor.userId,
    actorLabel: actor.label,
    actorRole: actor.role,
    address: actor.address,
  };
}

/** The only way to define a server action: the permission is checked before `fn` runs. */
export function authorizedAction<I, O>(
  permission: Permission,
  fn: (actor: Actor, input: I) => Promise<ActionResult<O>>,
): ((input: I) => Promise<ActionResult<O>>) & { permission: Permission } {
  const action = async (input: I): Promise<ActionResult<O>> => {
    let actor: Actor;
    try {
      actor = await requirePermission(permission);
    } catch (err) {
      if (err instanceof AuthError) return { ok: false, error: err.message, status: err.status };
      throw err;
    }
    return await fn(actor, input);
  };
  return Object.assign(action, { permission });
}

type RouteContext<P> = { params: Promise<P> };

/** The only way to define an authenticated route handler: 401 / 403 as JSON before `handler` runs. */
export function withAuth<P = Record<string, never>>(
  permission: Permission,
  handler: (req: Request, actor: Actor, ctx: RouteContext<P>) => Promise<Response>,
): ((req: Request, ctx: RouteContext<P>) => Promise<Response>) & { permission: Permission } {
  const route = async (req: Request, ctx: RouteContext<P>): Promise<Response> => {
    let actor: Actor;
    try {
      actor = check(await actorFromRequest(req), permission);
    } catch (err) {
      if (err instanceof AuthError) {
        return Response.json(
          { error: err.status === 401 ? "unauthenticated" : "forbidden", message: err.message },
          { status: err.status, headers: err.status === 401 ? { "www-authenticate": "Bearer" } : {} },
        );
      }
      throw err;
    }
    return await handler(req, actor, ctx);
  };
  return Object.assign(route, { permission });
}

/** An action anyone may call (only logging in): marked, so the authorisation test can tell it from a forgotten check. */
export function publicAction<A extends unknown[], O>(
  fn: (...args: A) => Promise<O>,
): ((...args: A) => Promise<O>) & {
  permission: null;
} {
  return Object.assign(fn, { permission: null });
}

/**
 * For server components: the actor with `permission`, or a redirect to the sign-in page (no
 * session) / a 403 error (role). Pages call it themselves: a layout's check does not stop a page
 * rendering in parallel with it.
 */
export async function requirePageActor(permission: Permission): Promise<Actor> {
  const actor = await currentActor();
  if (!actor) {
    const { redirect } = await import("next/navigation");
    redirect("/login");
  }
  return check(actor, permission);
}
