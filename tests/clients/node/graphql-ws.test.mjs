// graphql-ws 6 on its own (the client under Apollo's GraphQLWsLink and urql's exchange), with
// the {token} form of the connection_init payload and async iteration.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import * as ops from "./operations.mjs";
import { Events, gateway, restChat, untilSubscribed } from "./support.mjs";

const client = createClient({
  url: gateway.wsUrl,
  webSocketImpl: WebSocket,
  connectionParams: { token: gateway.tokens.ana },
});
after(() => client.dispose());

test("client.iterate yields messageAdded for messages written through REST /chat", async () => {
  const sessionId = "graphql-ws-live";
  await restChat(gateway.tokens.ana, sessionId, "abre la sesión");
  const events = new Events();
  const stream = client.iterate({ query: ops.MESSAGE_ADDED, variables: { sessionId } });
  const reading = (async () => {
    for await (const result of stream) {
      assert.equal(result.errors, undefined);
      events.push(result.data.messageAdded);
    }
  })();
  try {
    await untilSubscribed(events, (content) => restChat(gateway.tokens.ana, sessionId, content), "ws");
    await restChat(gateway.tokens.ana, sessionId, "desde REST");
    assert.ok(await events.waitFor((e) => e.role === "USER" && e.content === "desde REST", 5000));
    assert.ok(await events.waitFor((e) => e.role === "ASSISTANT" && e.content.includes("desde REST"), 5000));
  } finally {
    await stream.return();
    await reading;
  }
});

// graphql-transport-ws: a subscription refused before it starts is one `error` message (the
// iteration rejects with its GraphQL errors), not a `next` carrying errors followed by `complete`.
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
