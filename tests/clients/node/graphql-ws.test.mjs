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
