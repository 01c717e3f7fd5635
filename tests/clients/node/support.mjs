// Test plumbing: where the gateway is, console capture, and a place to collect events.
import { format } from "node:util";
import { loadDevMessages, loadErrorMessages } from "@apollo/client/dev";

loadDevMessages(); // Apollo's warnings in full text (node runs with --conditions=development)
loadErrorMessages();

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this from tests/clients/test_node_clients.py`);
  return value;
}

export const gateway = {
  url: required("GATEWAY_URL"),
  httpUrl: required("GATEWAY_URL") + "/graphql",
  wsUrl: required("GATEWAY_URL").replace(/^http/, "ws") + "/graphql",
  tokens: {
    admin: required("GATEWAY_TOKEN_ADMIN"),
    prof: required("GATEWAY_TOKEN_PROF"),
    ana: required("GATEWAY_TOKEN_ANA"),
    bob: required("GATEWAY_TOKEN_BOB"),
  },
};

/** Everything written to console.warn / console.error from now on. */
export function captureConsole({ echo = true } = {}) {
  const lines = [];
  for (const level of ["warn", "error"]) {
    const original = console[level];
    console[level] = (...args) => {
      lines.push(`${level}: ${format(...args)}`);
      if (echo) original.apply(console, args);
    };
  }
  return lines;
}

/** Events pushed by a subscription, with a way to wait for one that matches. */
export class Events {
  items = [];
  #waiters = [];

  push(item) {
    this.items.push(item);
    this.#waiters = this.#waiters.filter((check) => !check());
  }

  waitFor(predicate, ms) {
    return new Promise((resolve) => {
      const check = () => {
        if (!this.items.some(predicate)) return false;
        clearTimeout(timer);
        resolve(true);
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((c) => c !== check);
        resolve(false);
      }, ms);
      if (!check()) this.#waiters.push(check);
    });
  }
}

/** A subscription has no acknowledgement: write probes until one comes back through it. */
export async function untilSubscribed(events, write, label) {
  for (let attempt = 1; attempt <= 40; attempt++) {
    const content = `${label} probe ${attempt}`;
    await write(content);
    if (await events.waitFor((e) => e.content === content, 250)) return;
  }
  throw new Error(`${label}: the subscription never delivered a probe`);
}

export async function restChat(token, sessionId, content) {
  const response = await fetch(gateway.url + "/chat", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ id: sessionId, asignatura: "INF001", content }),
  });
  if (response.status !== 200) throw new Error(`/chat: ${response.status} ${await response.text()}`);
}
