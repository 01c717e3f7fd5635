// Starts GraphiQL on the gateway's own page (no inline script: the page's CSP allows only
// files from this origin). Queries and mutations go over HTTP to the same /graphql URL;
// subscriptions over graphql-transport-ws to the same URL on ws:// or wss:// (by the page's
// scheme). The headers pane is sent with every HTTP request and, for a subscription, as the
// connection_init payload: {"Authorization": "Bearer <token>"} authenticates both.
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# GraphiQL for the study gateway.",
    "#",
    "# 1. Log in (or POST /token) and copy the accessToken:",
    "#      mutation { login(input: {username: \"...\", password: \"...\"}) { accessToken } }",
    "# 2. Put it in the Headers pane below:",
    "#      { \"Authorization\": \"Bearer <accessToken>\" }",
    "# 3. Run queries, mutations and subscriptions (messageAdded) with Ctrl-Enter.",
    "",
    "{",
    "  systemInfo {",
    "    version",
    "  }",
    "}",
    "",
  ].join("\n");

  var container = document.getElementById("graphiql");
  var endpoint = new URL(container.dataset.endpoint, window.location.href);
  var socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  socket.hash = "";

  var graphiqlFetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: socket.href,
  });
  // GraphiQL picks the WebSocket when the editor's parsed document is a subscription, but it
  // parses after a short delay: run right after pasting and a subscription went over HTTP.
  // Parse the text being sent instead.
  function fetcher(params, options) {
    var parsed;
    try {
      parsed = GraphiQL.GraphQL.parse(params.query);
    } catch (error) {
      parsed = undefined; // the server reports the syntax error
    }
    return graphiqlFetcher(params, Object.assign({}, options, parsed ? { documentAST: parsed } : {}));
  }
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
})();
