// graphql-transport-ws: a subscription refused before it starts is one `error` message (the
// iteration rejects with its GraphQL errors), not a `next` carrying errors followed by `complete`.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import * as ops from "./operations.mjs";
import { gateway, restChat } from "./support.mjs";

const client = createClient({
  url: gateway.wsUrl,
  webSocketImpl: WebSocket,
  connectionParams: { token: gateway.tokens.ana },
});
after(() => client.dispose());

for (const [sessionId, code] of [["graphql-ws-private", "FORBIDDEN"], ["no-such-session", "NOT_FOUND"]]) {
  test(`a refused subscription is an error message: ${code}`, async () => {
    await restChat(gateway.tokens.bob, "graphql-ws-private", "de bob");
    const stream = client.iterate({ query: ops.MESSAGE_ADDED, variables: { sessionId } });
    const nexts = [];
    let rejected;
    try {
      for await (const result of stream) nexts.push(result);
    } catch (errors) {
      rejected = errors;
    }
    assert.deepEqual(nexts, [], "refusal sent as `next` + `complete` instead of `error`");
    assert.equal(rejected?.[0]?.extensions?.code, code, JSON.stringify(rejected));
  });
}
