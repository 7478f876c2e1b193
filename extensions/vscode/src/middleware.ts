// Client middleware: inline-completion requests built with LSP's own shapes, and DiffCoder code
// actions turned into the diff review. vscode-languageclient 9.0.1 sends VS Code's
// `selectedCompletionInfo` as is (its range serialises as an array) and VS Code's trigger kind
// (0/1 instead of LSP's 1/2); `inlineCompletionParams` builds the request correctly instead.
import * as vscode from 'vscode';
import { InlineCompletionParams, InlineCompletionRequest, Range as LspRange } from 'vscode-languageserver-protocol';
import type { BaseLanguageClient, Middleware } from 'vscode-languageclient';
import { currentConfig } from './config';
import { CodeActionData, EDIT_COMMAND, isCodeActionData } from './lsp_ext';

/** The extension's command that reviews a DiffCoder code action (arguments: [CodeActionData]). */
export const REVIEW_CODE_ACTION = 'diffcoder.reviewCodeAction';

const LSP_INVOKED = 1;
const LSP_AUTOMATIC = 2;

interface PositionLike {
    line: number;
    character: number;
}

function position(value: unknown): PositionLike | undefined {
    const p = value as Partial<PositionLike> | null | undefined;
    if (typeof p?.line !== 'number' || typeof p.character !== 'number') return undefined;
    if (!Number.isInteger(p.line) || !Number.isInteger(p.character) || p.line < 0 || p.character < 0) return undefined;
    return { line: p.line, character: p.character };
}

/** An LSP range from a vscode.Range, an LSP range or the `[start, end]` array of Range.toJSON. */
export function asLspRange(value: unknown): LspRange | undefined {
    const pair = Array.isArray(value) ? value : [(value as { start?: unknown })?.start, (value as { end?: unknown })?.end];
    const start = position(pair[0]);
    const end = position(pair[1]);
    return start && end ? { start, end } : undefined;
}

export interface InlineContextLike {
    triggerKind: number;
    selectedCompletionInfo?: { range?: unknown; text?: unknown } | null;
}

/** LSP inline-completion params; a selected completion item without a usable range or text is
 *  left out (the server then infills at the cursor). */
export function inlineCompletionParams(
    textDocument: { uri: string },
    at: PositionLike,
    context: InlineContextLike,
): InlineCompletionParams {
    // VS Code (and the 3.17 "proposed" types of client 9): Invoke = 0, Automatic = 1; LSP 3.18,
    // which the server speaks: Invoked = 1, Automatic = 2
    const triggerKind = (context.triggerKind === 0 ? LSP_INVOKED : LSP_AUTOMATIC) as unknown as InlineCompletionParams['context']['triggerKind'];
    const info = context.selectedCompletionInfo;
    const range = info ? asLspRange(info.range) : undefined;
    const selected = range && typeof info?.text === 'string' ? { range, text: info.text } : undefined;
    return {
        textDocument: { uri: textDocument.uri },
        position: { line: at.line, character: at.character },
        context: selected ? { triggerKind, selectedCompletionInfo: selected } : { triggerKind },
    };
}

/** The DiffCoder edit behind a code action: its `data`, or the arguments of a `diffcoder.edit`
 *  command (servers that send commands instead of data). */
export function codeActionEdit(action: { data?: unknown; command?: { command: string; arguments?: unknown[] } }): CodeActionData | undefined {
    if (isCodeActionData(action.data)) return action.data;
    const args = action.command?.command === EDIT_COMMAND ? action.command.arguments?.[0] : undefined;
    if (!isCodeActionData(args)) return undefined;
    return { textDocument: args.textDocument, range: args.range, instruction: args.instruction };
}

/** A DiffCoder action replaced by one that runs the review; other actions as they are. */
export function reviewInstead(item: vscode.Command | vscode.CodeAction): vscode.Command | vscode.CodeAction {
    if (!(item instanceof vscode.CodeAction)) return item;
    const edit = codeActionEdit(item as vscode.CodeAction & { data?: unknown });
    if (!edit) return item;
    const action = new vscode.CodeAction(item.title, item.kind);
    action.diagnostics = item.diagnostics;
    action.isPreferred = item.isPreferred;
    action.command = { title: item.title, command: REVIEW_CODE_ACTION, arguments: [edit] };
    return action;
}

export function middleware(getClient: () => BaseLanguageClient | undefined, warn: (message: string) => void): Middleware {
    return {
        provideInlineCompletionItems: async (document, at, context, token) => {
            const client = getClient();
            if (!currentConfig().inline.enabled || !client) return undefined;
            const c2p = client.code2ProtocolConverter;
            const params = inlineCompletionParams(c2p.asTextDocumentIdentifier(document), c2p.asPosition(at), context);
            try {
                const result = await client.sendRequest(InlineCompletionRequest.type, params, token);
                if (token.isCancellationRequested) return undefined;
                return client.protocol2CodeConverter.asInlineCompletionResult(result, token);
            } catch (error) {
                // ghost text is best effort: a failure goes to the log, never into a popup
                if (!token.isCancellationRequested) warn(`inline completion failed: ${error instanceof Error ? error.message : String(error)}`);
                return undefined;
            }
        },
        provideCodeActions: async (document, range, context, token, next) => {
            const items = await next(document, range, context, token);
            if (!items || currentConfig().codeActions.applyDirectly) return items;
            return items.map(reviewInstead);
        },
        resolveCodeAction: (item, token, next) =>
            item.command?.command === REVIEW_CODE_ACTION ? item : next(item, token),
    };
}
