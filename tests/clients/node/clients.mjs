// The client set-ups that docs/frontend.md shows, exactly as the tests use them.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { relayStylePagination } from "@apollo/client/utilities";
import { Client as UrqlClient, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { OperationTypeNode } from "graphql";
import { createClient as createWsClient } from "graphql-ws";
import { createHash } from "node:crypto";
import WebSocket from "ws"; // browsers: omit webSocketImpl, they have a WebSocket

export const sha256 = (text) => createHash("sha256").update(text).digest("hex");
// In a browser: crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)), hex-encoded.

// Connections merge page by page (keyArgs: the arguments that select a different list);
// types without an id are embedded values, merged into their parent instead of replaced.
export const typePolicies = {
  Query: {
    fields: {
      users: relayStylePagination(["role"]),
      subjects: relayStylePagination(["professorId", "search"]),
      sessions: relayStylePagination(["subjectId"]),
      myStudents: relayStylePagination(["subjectId"]),
    },
  },
  User: { fields: { quizAttempts: relayStylePagination() } },
  Subject: { fields: { students: relayStylePagination() } },
  ChatSession: { fields: { messages: relayStylePagination() } },
  SubjectAnalytics: { fields: { studentProgress: relayStylePagination() } },
  Preferences: { merge: true },
  PendingQuestion: { merge: true },
  SystemInfo: { merge: true },
};

export function graphqlWsClient({ wsUrl, getToken }) {
  return createWsClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    // Sent in connection_init; {token: "..."} works too.
    connectionParams: () => ({ Authorization: `Bearer ${getToken()}` }),
  });
}

export function apolloClient({ httpUrl, wsUrl, getToken, cache, fetch = globalThis.fetch, persisted = false, useGET = false }) {
  const auth = new SetContextLink((prev) => ({
    headers: { ...prev.headers, authorization: `Bearer ${getToken()}` },
  }));
  let http = new HttpLink({ uri: httpUrl, fetch });
  if (persisted) {
    http = new PersistedQueryLink({ sha256, useGETForHashedQueries: useGET }).concat(http);
  }
  const ws = new GraphQLWsLink(graphqlWsClient({ wsUrl, getToken }));
  const link = ApolloLink.split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    ws,
    auth.concat(http),
  );
  return new ApolloClient({ link, cache: cache ?? new InMemoryCache({ typePolicies }) });
}

export function urqlClient({ httpUrl, wsUrl, getToken }) {
  const ws = graphqlWsClient({ wsUrl, getToken });
  const client = new UrqlClient({
    url: httpUrl,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${getToken()}` } }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || "" };
          return {
            subscribe(sink) {
              return { unsubscribe: ws.subscribe(input, sink) };
            },
          };
        },
      }),
    ],
  });
  return { client, ws };
}
