import { buildOpenApiDocument } from "@/server/api/openapi";

/**
 * Deliberately public: the document describes the API and contains no data. The marker tells the
 * authorisation test this route has no `withAuth` on purpose.
 */
export const PUBLIC = true;

// Built once at build time: the document only changes with the code.
export const dynamic = "force-static";

export async function GET() {
  return Response.json(buildOpenApiDocument(), { headers: { "cache-control": "public, max-age=300" } });
}
