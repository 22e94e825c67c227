// Roles and what each may do: the one table every server action and route handler is checked
// against (guard.ts). A permission names the least role that has it; roles are ordered.
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function roleAtLeast(actual: Role, required: Role): boolean {
  return ROLES.indexOf(actual) >= ROLES.indexOf(required);
}

export const PERMISSIONS = {
  /** Fleet, clusters, nodes, switchovers, events, availability: everything except secrets. */
  "fleet.read": "viewer",
  "audit.read": "viewer",
  /** Manual switchovers and drills, pool drain/readmit, maintenance, acknowledging alerts. */
  "switchover.request": "operator",
  "pool.change": "operator",
  "maintenance.set": "operator",
  "alert.ack": "operator",
  /** Aborting a stuck switchover leaves the cluster half-switched: admins only. */
  "switchover.abort": "admin",
  "inventory.write": "admin",
  "credential.write": "admin",
  "policy.write": "admin",
  "playbook.write": "admin",
  "user.manage": "admin",
  "token.manage": "admin",
} as const satisfies Record<string, Role>;

export type Permission = keyof typeof PERMISSIONS;

export function can(role: Role, permission: Permission): boolean {
  return roleAtLeast(role, PERMISSIONS[permission]);
}
