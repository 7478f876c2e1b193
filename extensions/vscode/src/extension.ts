// Entry point: build the context, register the commands, start the server.
import * as vscode from 'vscode';
import * as commands from './commands';
import { Ctx } from './ctx';

let ctx: Ctx | undefined;

export function activate(extension: vscode.ExtensionContext): void {
    ctx = new Ctx(extension);
    extension.subscriptions.push(ctx);
    const table: Record<string, commands.Cmd> = {
        'diffcoder.editSelection': commands.editSelection(ctx),
        'diffcoder.acceptEdit': commands.acceptEdit(ctx),
        'diffcoder.rejectEdit': commands.rejectEdit(ctx),
        'diffcoder.restartServer': commands.restartServer(ctx),
        'diffcoder.showLog': commands.showLog(ctx),
        'diffcoder.cancel': commands.cancel(ctx),
        'diffcoder.openSettings': commands.openSettings(),
        'diffcoder.reviewCodeAction': commands.reviewCodeAction(ctx),
    };
    for (const [name, handler] of Object.entries(table)) {
        extension.subscriptions.push(vscode.commands.registerCommand(name, handler));
    }
    // not awaited: activation stays quick while Python imports torch; commands wait for the start
    void ctx.start();
}

export async function deactivate(): Promise<void> {
    await ctx?.stop();
    ctx = undefined;
}
