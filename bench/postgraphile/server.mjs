// PostGraphile v5 over the benchmark database. run.py copies this file next to the npm install
// (so that `postgraphile` resolves) and starts it with Node 22.
//   PGL_DATABASE_URL, GATEWAY_JWT_SECRET, PGL_PORT (default 8400), PGL_POOL_SIZE (default 20)
import { createServer } from "node:http";
import jwt from "jsonwebtoken";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const secret = process.env.GATEWAY_JWT_SECRET;
if (!secret) throw new Error("GATEWAY_JWT_SECRET is required");

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.PGL_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/gw_bench_compare",
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PGL_POOL_SIZE ?? 20) },
    }),
  ],
  grafserv: { graphiql: false, watch: false },
  grafast: {
    explain: false,
    // Verify the gateway's HS256 token (same secret) and hand uid/sub to SQL as settings;
    // the SQL functions in functions.sql re-read the caller from the users table.
    context(requestContext) {
      const header = requestContext.node?.req?.headers?.authorization ?? "";
      const [scheme, token] = header.split(" ");
      if (scheme?.toLowerCase() !== "bearer" || !token) return {};
      const claims = jwt.verify(token, secret, { algorithms: ["HS256"], clockTolerance: 5 });
      return {
        pgSettings: { "jwt.claims.uid": String(claims.uid), "jwt.claims.sub": String(claims.sub) },
      };
    },
  },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 65_000;
serv.addTo(server).then(() => {
  const port = Number(process.env.PGL_PORT ?? 8400);
  server.listen(port, "127.0.0.1", () => console.log(`postgraphile listening on ${port}`));
});
