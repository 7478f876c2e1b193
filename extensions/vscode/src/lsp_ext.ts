// The server's own protocol, one typed entry per custom method or command; names mirror
// diffcoder/lsp_server (server.py STATUS_REQUEST, EDIT_COMMAND, CANCEL_COMMAND).
import {
    ExecuteCommandParams,
    Range,
    Position,
    RequestType,
    WorkspaceEdit,
} from 'vscode-languageserver-protocol';

export type ModelState = 'unconfigured' | 'loading' | 'ready' | 'failed';

export interface StatusResult {
    model: { state: ModelState; path: string | null; detail: string };
    inFlight: number;
    settings: Record<string, unknown>;
}

/** `diffcoder/status`: the model's state and the settings in force. Always send `{}` as params:
 *  pygls cannot parse a custom request without a `params` member and never answers it. */
export type StatusParams = Record<string, never>;
export const status = new RequestType<StatusParams, StatusResult, void>('diffcoder/status');

export const EDIT_COMMAND = 'diffcoder.edit';
export const CANCEL_COMMAND = 'diffcoder.cancel';

export interface EditArgs {
    textDocument: { uri: string; version: number | null };
    range?: Range;
    position?: Position;
    instruction: string;
    apply?: boolean;
}

export interface EditStats {
    generatedTokens: number;
    promptTokens: number;
    forwards: number;
    draftAcceptedTokens: number;
    modelSeconds: number;
    serverSeconds: number;
}

export interface EditResult {
    applied: boolean;
    edit: WorkspaceEdit | null;
    region: { range: Range; kind: string; reason: string; name: string | null };
    finishReason: string;
    rejected: string | null;
    cancelled: boolean;
    reason: string | null;
    version: number | null;
    stats: EditStats;
}

/** `workspace/executeCommand diffcoder.edit`, always as a preview (apply=false). */
export function editCommand(args: Omit<EditArgs, 'apply'>): ExecuteCommandParams {
    return { command: EDIT_COMMAND, arguments: [{ ...args, apply: false }] };
}

/** `diffcoder.cancel` for one document, or every edit when `uri` is undefined. */
export function cancelCommand(uri?: string): ExecuteCommandParams {
    return { command: CANCEL_COMMAND, arguments: uri === undefined ? [] : [{ textDocument: { uri } }] };
}
