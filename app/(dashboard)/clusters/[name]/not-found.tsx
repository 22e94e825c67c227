import Link from "next/link";

export default function ClusterNotFound() {
  return (
    <div className="panel empty" role="alert">
      <h1>No such cluster</h1>
      <p className="muted">
        No cluster has that name or id. It may have been renamed or removed from the inventory.
      </p>
      <Link href="/" className="button">
        Back to the fleet
      </Link>
    </div>
  );
}
