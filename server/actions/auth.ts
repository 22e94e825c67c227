"use server";
// Logging in and out. The session cookie is HttpOnly, SameSite=Lax, and Secure when the request came
// over TLS (X-Forwarded-Proto: https from your proxy) or SWITCHYARD_COOKIE_SECURE=1.
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { getDb } from "@/db/client";
import { addressFrom, currentActor, publicAction } from "@/server/auth/guard";
import { login, logout } from "@/server/auth/login";
import { SESSION_COOKIE } from "@/server/auth/sessions";

export type LoginState = { error: string | null; username: string };

function safeNext(value: FormDataEntryValue | null): string {
  const next = typeof value === "string" ? value : "/";
  // Only local paths: never an open redirect.
  return /^\/(?!\/)[A-Za-z0-9/_\-?=&.%]*$/.test(next) ? next : "/";
}

export const loginAction = publicAction(async (_prev: LoginState, form: FormData): Promise<LoginState> => {
  const username = String(form.get("username") ?? "").slice(0, 64);
  const password = String(form.get("password") ?? "").slice(0, 300);
  if (!username || !password) return { error: "Enter your user name and password.", username };
  const h = await headers();
  const result = await login(getDb(), {
    username,
    password,
    address: addressFrom(h),
    userAgent: h.get("user-agent"),
  });
  if (!result.ok) return { error: result.error, username };
  const secure = h.get("x-forwarded-proto") === "https" || process.env.SWITCHYARD_COOKIE_SECURE === "1";
  (await cookies()).set(SESSION_COOKIE, result.token, {
    httpOnly: true,
    sameSite: "lax",
    secure,
    path: "/",
    expires: result.expiresAt,
  });
  redirect(safeNext(form.get("next")));
});

export const logoutAction = publicAction(async (): Promise<void> => {
  const actor = await currentActor();
  const jar = await cookies();
  if (actor?.sessionToken && actor.userId) {
    await logout(getDb(), actor.sessionToken, {
      userId: actor.userId,
      username: actor.label,
      role: actor.role,
      address: actor.address,
    });
  }
  jar.delete(SESSION_COOKIE);
  redirect("/login");
});
