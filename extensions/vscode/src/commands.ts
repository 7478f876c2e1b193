// Command factories: each takes the context and returns the handler registered in extension.ts.
import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { currentConfig, openSettingsCommand } from './config';
import type { Range } from 'vscode-languageserver-protocol';
import { InstructionChoice, InstructionItem, instructionItems } from './instructions';
import { isCodeActionData } from './lsp_ext';
import { notify } from './messages';
import { REVIEW_CODE_ACTION } from './middleware';
import { review } from './review';

export type Cmd = (...args: unknown[]) => unknown;

/** A quick pick that takes what is typed, with recent and suggested instructions below it.
 *  Enter runs the text in the input box as typed; a recent or suggested item runs only when the
 *  user moved to it (see `InstructionChoice`). */
export async function pickInstruction(ctx: Ctx): Promise<string | undefined> {
    const recent = ctx.recentInstructions;
    const suggested = currentConfig().edit.instructions;
    const pick = vscode.window.createQuickPick<InstructionItem>();
    pick.title = 'DiffCoder: Edit Selection';
    pick.placeholder = 'What should change? (type an instruction, or pick a recent one)';
    pick.matchOnDescription = false;
    pick.items = instructionItems('', recent, suggested);
    const choice = new InstructionChoice();
    return new Promise<string | undefined>((resolve) => {
        let done = false;
        const finish = (value: string | undefined) => {
            if (done) return;
            done = true;
            resolve(value);
            pick.dispose();
        };
        pick.onDidChangeValue((value) => {
            choice.valueChanged(value);
            pick.items = instructionItems(value, recent, suggested);
        });
        pick.onDidChangeActive((items) => choice.activeChanged(items[0]));
        pick.onDidAccept(() => {
            const instruction = choice.accepted(pick.value);
            if (instruction) finish(instruction);
        });
        pick.onDidHide(() => finish(undefined));
        pick.show();
    });
}

/** Restart / Open Settings / Show Log for a server that is down; true when it was. */
async function serverDown(ctx: Ctx): Promise<boolean> {
    const why = ctx.downReason();
    if (why === undefined) return false;
    const choice = await notify('error', `DiffCoder cannot edit now: ${why}`, 'Restart', 'Open Settings', 'Show Log');
    if (choice === 'Restart') void ctx.restart();
    else if (choice === 'Open Settings') void vscode.commands.executeCommand('diffcoder.openSettings');
    else if (choice === 'Show Log') ctx.log.show();
    return true;
}

function lspRange(range: vscode.Range): Range {
    return {
        start: { line: range.start.line, character: range.start.character },
        end: { line: range.end.line, character: range.end.character },
    };
}

export function editSelection(ctx: Ctx): Cmd {
    return async () => {
        const editor = vscode.window.activeTextEditor;
        if (!editor) {
            void vscode.window.showInformationMessage('DiffCoder: open a file and select the code to edit first.');
            return;
        }
        if (await serverDown(ctx)) return;
        const instruction = await pickInstruction(ctx);
        if (!instruction) return;
        await ctx.rememberInstruction(instruction);
        const selection = editor.selection;
        await review(ctx, {
            document: editor.document,
            range: lspRange(selection),
            instruction,
            requested: selection.isEmpty ? 'cursor' : 'selection',
        });
    };
}

/** A DiffCoder code action chosen in VS Code: the same review as Edit Selection. */
export function reviewCodeAction(ctx: Ctx): Cmd {
    return async (...args: unknown[]) => {
        const data = args[0];
        if (!isCodeActionData(data)) {
            void notify('error', `DiffCoder: ${REVIEW_CODE_ACTION} needs a DiffCoder code action's data, not ${JSON.stringify(data)}.`);
            return;
        }
        if (await serverDown(ctx)) return;
        const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(data.textDocument.uri));
        await vscode.window.showTextDocument(document, { preview: false });
        await review(ctx, { document, range: data.range, instruction: data.instruction, requested: 'code action' });
    };
}

export function acceptEdit(ctx: Ctx): Cmd {
    return () => ctx.proposals.accept();
}

export function rejectEdit(ctx: Ctx): Cmd {
    return () => ctx.proposals.reject();
}

export function restartServer(ctx: Ctx): Cmd {
    return () => ctx.restart();
}

export function showLog(ctx: Ctx): Cmd {
    return () => ctx.log.show();
}

export function cancel(ctx: Ctx): Cmd {
    return async () => {
        const count = await ctx.cancelAll();
        ctx.log.info(`cancel: ${count} server-side job(s) cancelled`);
    };
}

export function openSettings(): Cmd {
    return () => vscode.commands.executeCommand(openSettingsCommand(vscode.env.remoteName), { query: 'diffcoder' });
}
