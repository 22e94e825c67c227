// True once React has hydrated in the browser. Charts measure their container and format times in
// the reader's zone, neither of which the server can know, so they render after hydration only
// (the server sends a placeholder of the same size: no layout shift, no hydration mismatch).
import { useSyncExternalStore } from "react";

const subscribe = () => () => {};

export function useHydrated(): boolean {
  return useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
}
