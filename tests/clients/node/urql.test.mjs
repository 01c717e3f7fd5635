// urql 6 (@urql/core): a query and a mutation over fetchExchange, and messageAdded through
// subscriptionExchange forwarding to a graphql-ws 6 client.
import assert from "node:assert/strict";
import { after, afterEach, test } from "node:test";

import { urqlClient } from "./clients.mjs";
import * as ops from "./operations.mjs";
import { Events, captureConsole, gateway, restChat, untilSubscribed } from "./support.mjs";

const consoleLines = captureConsole();
const sockets = [];

function client(token) {
  const made = urqlClient({ httpUrl: gateway.httpUrl, wsUrl: gateway.wsUrl, getToken: () => token });
  sockets.push(made.ws);
  return made.client;
}

afterEach(() => assert.deepEqual(consoleLines.splice(0), []));
after(async () => {
  for (const ws of sockets) await ws.dispose();
});

test("query over HTTP", async () => {
  const result = await client(gateway.tokens.ana).query(ops.ME, {}).toPromise();
  assert.equal(result.error, undefined);
  assert.equal(result.data.me.username, "ana");
  assert.deepEqual(result.data.me.subjectCodes, ["INF001"]);
});

test("a refused query is a CombinedError with the gateway's code", async () => {
  const result = await client(gateway.tokens.ana).query(ops.USERS_PAGE, { first: 2 }).toPromise();
  assert.equal(result.error.graphQLErrors[0].extensions.code, "FORBIDDEN");
});

test("subscriptionExchange with graphql-ws receives messageAdded from REST and GraphQL", async () => {
  const sessionId = "urql-live";
  const writer = client(gateway.tokens.ana);
  const send = async (content) => {
    const input = { sessionId, subjectId: "INF001", content };
    const result = await writer.mutation(ops.SEND_MESSAGE, { input }).toPromise();
    assert.equal(result.error, undefined);
    return result;
  };
  await send("abre la sesión");

  const events = new Events();
  const errors = [];
  const { unsubscribe } = client(gateway.tokens.ana)
    .subscription(ops.MESSAGE_ADDED, { sessionId })
    .subscribe((result) => (result.error ? errors.push(result.error) : events.push(result.data.messageAdded)));
  try {
    await untilSubscribed(events, send, "urql");
    await restChat(gateway.tokens.ana, sessionId, "desde REST");
    await send("desde GraphQL");
    for (const content of ["desde REST", "desde GraphQL"]) {
      assert.ok(await events.waitFor((e) => e.role === "USER" && e.content === content, 5000), content);
      assert.ok(
        await events.waitFor((e) => e.role === "ASSISTANT" && e.content.includes(content), 5000),
        `reply to ${content}`,
      );
    }
    assert.deepEqual(errors, []);
  } finally {
    unsubscribe();
  }
});

test("someone else's session is an error on the subscription, not a silent stream", async () => {
  await restChat(gateway.tokens.ana, "urql-private", "solo mío");
  let subscription;
  const first = new Promise((resolve) => {
    subscription = client(gateway.tokens.bob)
      .subscription(ops.MESSAGE_ADDED, { sessionId: "urql-private" })
      .subscribe(resolve);
  });
  try {
    const result = await first;
    assert.ok(!result.data, JSON.stringify(result.data));
    assert.equal(result.error?.graphQLErrors[0]?.extensions?.code, "FORBIDDEN", String(result.error));
  } finally {
    subscription.unsubscribe();
  }
});
