// The control for apollo.test.mjs: without the documented type policies the same operations
// make Apollo print "Cache data may be lost" for the embedded values (Preferences, SystemInfo),
// so the console capture there can see it; entities with ids (SubjectAnalytics) do not warn.
// (Apollo prints each such warning once per process: this file runs in a process of its own.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { InMemoryCache, gql } from "@apollo/client";

import { apolloClient } from "./clients.mjs";
import * as ops from "./operations.mjs";
import { captureConsole, gateway } from "./support.mjs";

const consoleLines = captureConsole({ echo: false });

function bareClient(token) {
  return apolloClient({
    httpUrl: gateway.httpUrl,
    wsUrl: gateway.wsUrl,
    getToken: () => token,
    cache: new InMemoryCache(),
  });
}

test("without type policies Apollo warns on the embedded values, not on entities with ids", async () => {
  const bob = bareClient(gateway.tokens.bob);
  const { data } = await bob.query({ query: gql(ops.ME) });
  const theme = data.me.preferences.theme === "dark" ? "light" : "dark";
  await bob.mutate({ mutation: gql(ops.UPDATE_ME), variables: { input: { preferences: { theme } } } });

  const prof = bareClient(gateway.tokens.prof);
  const variables = { id: "INF001" };
  await prof.query({ query: gql(ops.SUBJECT_WITH_ANALYTICS), variables });
  await prof.query({ query: gql(ops.SUBJECT_SUMMARY), variables, fetchPolicy: "network-only" });
  bob.stop();
  prof.stop();

  const warned = consoleLines.splice(0).join("\n");
  for (const field of ["preferences field of a User", "systemInfo field of a Query"]) {
    assert.match(warned, new RegExp(`Cache data may be lost when replacing the ${field}`), warned);
  }
  // SubjectAnalytics has a global id: Apollo normalizes it, nothing to lose.
  assert.doesNotMatch(warned, /analytics field of a Subject/, warned);
});
