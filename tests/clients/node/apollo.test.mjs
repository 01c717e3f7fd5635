// Apollo Client 4: InMemoryCache with the documented type policies (no cache warnings),
// relay-style paging, persisted queries over POST and GET, and GraphQLWsLink subscriptions.
import assert from "node:assert/strict";
import { after, afterEach, test } from "node:test";
import { gql } from "@apollo/client";

import { apolloClient } from "./clients.mjs";
import * as ops from "./operations.mjs";
import { Events, captureConsole, gateway, restChat, untilSubscribed } from "./support.mjs";

const consoleLines = captureConsole();
const clients = [];

function client(token, options = {}) {
  const made = apolloClient({
    httpUrl: gateway.httpUrl,
    wsUrl: gateway.wsUrl,
    getToken: () => token,
    ...options,
  });
  clients.push(made);
  return made;
}

afterEach(() => {
  const lines = consoleLines.splice(0);
  assert.deepEqual(lines, [], "Apollo printed warnings or errors");
});

after(() => {
  for (const c of clients) c.stop();
});

test("query, mutation and re-read through the cache without a warning", async () => {
  const ana = client(gateway.tokens.ana);
  const first = await ana.query({ query: gql(ops.ME) });
  assert.equal(first.data.me.username, "ana");
  const theme = first.data.me.preferences.theme === "dark" ? "light" : "dark";
  await ana.mutate({
    mutation: gql(ops.UPDATE_ME),
    variables: { input: { fullName: "Ana Apollo", preferences: { theme } } },
  });
  const cached = await ana.query({ query: gql(ops.ME), fetchPolicy: "cache-only" });
  assert.equal(cached.data.me.preferences.theme, theme);
});

test("embedded analytics and system info are re-fetched without a warning", async () => {
  const prof = client(gateway.tokens.prof);
  const variables = { id: "INF001" };
  const full = await prof.query({ query: gql(ops.SUBJECT_WITH_ANALYTICS), variables });
  assert.equal(full.data.subject.analytics.totalStudents, 2);
  await restChat(gateway.tokens.ana, "apollo-activity", "hola");
  // Another screen asks for fewer fields of the same embedded objects.
  const summary = await prof.query({
    query: gql(ops.SUBJECT_SUMMARY),
    variables,
    fetchPolicy: "network-only",
  });
  assert.equal(summary.data.subject.analytics.activeStudents, 1);
  assert.equal(summary.data.systemInfo.status, full.data.systemInfo.status);
});

test("relayStylePagination merges every page of users into one list", async () => {
  const admin = client(gateway.tokens.admin);
  const everyone = await admin.query({ query: gql(ops.USERS_PAGE), variables: { first: 100 } });
  const expected = everyone.data.users.edges.map((e) => e.node.username);

  const paged = client(gateway.tokens.admin);
  const watched = paged.watchQuery({ query: gql(ops.USERS_PAGE), variables: { first: 2 } });
  const subscription = watched.subscribe(() => {});
  try {
    let { data } = await watched.refetch();
    while (data.users.pageInfo.hasNextPage) {
      await watched.fetchMore({ variables: { after: data.users.pageInfo.endCursor } });
      data = paged.readQuery({ query: gql(ops.USERS_PAGE), variables: { first: 2 } });
    }
    assert.deepEqual(data.users.edges.map((e) => e.node.username), expected);
  } finally {
    subscription.unsubscribe();
  }
});

function recordingFetch(log) {
  return async (url, init) => {
    const body = init?.body ? JSON.parse(init.body) : null;
    const parsed = new URL(url);
    log.push({ method: init?.method ?? "GET", query: body?.query ?? parsed.searchParams.get("query"), hasHash: JSON.stringify(body?.extensions ?? parsed.searchParams.get("extensions") ?? "").includes("sha256Hash") });
    return fetch(url, init);
  };
}

for (const useGET of [false, true]) {
  const method = useGET ? "GET" : "POST";
  test(`persisted queries by hash over ${method}`, async () => {
    const variables = { first: 1 };
    const firstLog = [];
    const first = client(gateway.tokens.ana, { persisted: true, useGET, fetch: recordingFetch(firstLog) });
    const document = gql(ops.ME_PERSISTED.replace("MePersisted", `MePersisted${method}`));
    const result = await first.query({ query: document, variables });
    assert.equal(result.data.me.username, "ana");
    // Unknown hash: PersistedQueryNotFound, then the same hash with the full text.
    assert.equal(firstLog.length, 2, JSON.stringify(firstLog));
    assert.ok(firstLog[0].hasHash && firstLog[0].query === null, JSON.stringify(firstLog[0]));
    assert.equal(firstLog[0].method, method);
    assert.ok(firstLog[1].hasHash && firstLog[1].query, JSON.stringify(firstLog[1]));

    const laterLog = [];
    const later = client(gateway.tokens.ana, { persisted: true, useGET, fetch: recordingFetch(laterLog) });
    const again = await later.query({ query: document, variables });
    assert.equal(again.data.me.username, "ana");
    assert.deepEqual(laterLog, [{ method, query: null, hasHash: true }]);
  });
}

test("GraphQLWsLink receives messageAdded from REST /chat and from a GraphQL mutation", async () => {
  const sessionId = "apollo-live";
  const writer = client(gateway.tokens.ana);
  const send = (content) =>
    writer.mutate({
      mutation: gql(ops.SEND_MESSAGE),
      variables: { input: { sessionId, subjectId: "INF001", content } },
    });
  await send("abre la sesión");

  const events = new Events();
  const subscriber = client(gateway.tokens.ana);
  const failures = [];
  const subscription = subscriber
    .subscribe({ query: gql(ops.MESSAGE_ADDED), variables: { sessionId } })
    .subscribe({
      next: (result) => (result.error ? failures.push(result.error) : events.push(result.data.messageAdded)),
      error: (error) => failures.push(error),
    });
  try {
    await untilSubscribed(events, (content) => send(content), "apollo");
    await restChat(gateway.tokens.ana, sessionId, "desde REST");
    await send("desde GraphQL");
    for (const content of ["desde REST", "desde GraphQL"]) {
      assert.ok(await events.waitFor((e) => e.role === "USER" && e.content === content, 5000), content);
      assert.ok(
        await events.waitFor((e) => e.role === "ASSISTANT" && e.content.includes(content), 5000),
        `reply to ${content}`,
      );
    }
    assert.deepEqual(failures, []);
    assert.ok(events.items.every((e) => e.sessionId === sessionId));
  } finally {
    subscription.unsubscribe();
  }
});
