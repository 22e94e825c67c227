"use client";
import { useActionState } from "react";
import { type LoginState, loginAction } from "@/server/actions/auth";

export function LoginForm({ next }: { next: string }) {
  const [state, formAction, pending] = useActionState<LoginState, FormData>(loginAction, {
    error: null,
    username: "",
  });
  return (
    <form action={formAction} className="login-form" aria-label="Sign in">
      <input type="hidden" name="next" value={next} />
      <label htmlFor="username">User name</label>
      <input
        id="username"
        name="username"
        autoComplete="username"
        defaultValue={state.username}
        required
        aria-invalid={state.error ? true : undefined}
      />
      <label htmlFor="password">Password</label>
      <input id="password" name="password" type="password" autoComplete="current-password" required />
      {state.error && (
        <p className="error-text" role="alert">
          {state.error}
        </p>
      )}
      <button type="submit" className="button" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
