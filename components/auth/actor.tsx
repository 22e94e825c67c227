"use client";
// Who is signed in, for client components that hide what the role cannot do. Hiding is only
// courtesy: the server checks every action again.
import { createContext, type ReactNode, useContext } from "react";
import { can, type Permission, type Role } from "@/server/auth/roles";

type ActorView = { label: string; role: Role };
const ActorContext = createContext<ActorView | null>(null);

export function ActorProvider({ actor, children }: { actor: ActorView; children: ReactNode }) {
  return <ActorContext.Provider value={actor}>{children}</ActorContext.Provider>;
}

export function useActor(): ActorView | null {
  return useContext(ActorContext);
}

export function useCan(permission: Permission): boolean {
  const actor = useActor();
  return actor ? can(actor.role, permission) : false;
}
