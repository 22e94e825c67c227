import Link from "next/link";

export default function SwitchoverNotFound() {
  return (
    <div className="panel empty">
      <h1>No such switchover</h1>
      <p className="muted">
        It may have been removed with its cluster. <Link href="/switchovers">See all switchovers</Link>.
      </p>
    </div>
  );
}
