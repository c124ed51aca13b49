// Starts nanokit-lsp for nanokit.yml / nanokit.yaml. Every feature comes from the server.
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions } from "vscode-languageclient/node";

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("nanokit");
  const command = config.get<string>("server.path", "nanokit-lsp");
  const args = config.get<string[]>("server.args", []);
  const serverOptions: ServerOptions = { run: { command, args }, debug: { command, args } };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "yaml", pattern: "**/nanokit.yml" },
      { scheme: "file", language: "yaml", pattern: "**/nanokit.yaml" },
    ],
    initializationOptions: {
      environment: config.get<string>("environment", "local"),
      // Code lenses with what runs for each service; the server runs `nkdev status --watch`.
      liveStatus: {
        enable: config.get<boolean>("liveStatus.enable", false),
        aws: config.get<boolean>("liveStatus.aws", false),
        command: config.get<string>("liveStatus.command", "nkdev"),
      },
    },
  };
  client = new LanguageClient("nanokit", "Nanokit", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration("nanokit") && client) {
        await client.restart();
      }
    }),
  );
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
