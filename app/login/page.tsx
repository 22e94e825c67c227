import { redirect } from "next/navigation";
import { LoginForm } from "@/components/auth/login-form";
import { currentActor } from "@/server/auth/guard";

export const dynamic = "force-dynamic";
export const metadata = { title: "Sign in" };

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  if (await currentActor()) redirect("/");
  const { next } = await searchParams;
  return (
    <main className="login-page">
      <section className="panel login-panel">
        <h1>
          <span className="brand-mark" aria-hidden="true">
            ⇄
          </span>{" "}
          Switchyard
        </h1>
        <p className="muted">Sign in to see and move your GPU fleet.</p>
        <LoginForm next={typeof next === "string" ? next : "/"} />
      </section>
    </main>
  );
}
