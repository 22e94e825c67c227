// Stopping the processes a launcher started (demo, start). Each child runs in its own process
// group (spawned with `detached: true`), so signalling the group also reaches what the child
// spawned itself (npx → next → workers). SIGTERM first; SIGKILL for a group still alive after
// the grace period, so a wedged child can never keep Ctrl-C from finishing.
import type { ChildProcess } from "node:child_process";

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

export async function stopChildren(children: readonly ChildProcess[], graceMs = 10_000): Promise<void> {
  for (const child of children) if (!exited(child)) signalGroup(child, "SIGTERM");
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (exited(c)) return resolve();
          const t = setTimeout(() => {
            signalGroup(c, "SIGKILL");
            resolve();
          }, graceMs);
          c.once("exit", () => {
            clearTimeout(t);
            resolve();
          });
        }),
    ),
  );
}
