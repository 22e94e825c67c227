"use client";

export default function ClusterError({ reset }: { error: Error; reset: () => void }) {
  return (
    <div className="panel error-panel" role="alert">
      <h1>The cluster could not be loaded</h1>
      <p>
        The control plane could not read this cluster from its database. Check that Postgres is running (GET
        /api/health says more).
      </p>
      <button type="button" className="button" onClick={reset}>
        Try again
      </button>
    </div>
  );
}
