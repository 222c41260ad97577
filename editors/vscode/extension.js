// Starts `cnndsl lsp` for .net files and connects VS Code to it over stdio.
// The command and its arguments come from the settings cnndsl.server.command and
// cnndsl.server.args; vscode-languageclient adds `--stdio`, which `cnndsl lsp` accepts.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration("cnndsl");
  const server = {
    command: settings.get("server.command", "cnndsl"),
    args: settings.get("server.args", ["lsp"]),
    transport: TransportKind.stdio,
  };
  client = new LanguageClient("cnndsl", "cnndsl language server", server, {
    documentSelector: [
      { scheme: "file", language: "cnndsl" },
      { scheme: "untitled", language: "cnndsl" },
    ],
  });
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
