// The server's own protocol, one typed entry per custom method or command. Mirrors
// diffcoder/lsp_server/protocol.py name for name (tests/lsp/test_protocol_mirror.py compares them).
import {
    ExecuteCommandParams,
    Range,
    Position,
    RequestType,
    WorkspaceEdit,
} from 'vscode-languageserver-protocol';

export const STATUS_REQUEST = 'diffcoder/status';
export const EDIT_COMMAND = 'diffcoder.edit';
export const CANCEL_COMMAND = 'diffcoder.cancel';
/** The work-done progress title of a model load (edits have their own). */
export const LOAD_PROGRESS_TITLE = 'Loading Stable-DiffCoder…';
/** An edit's progress title: this, then its instruction. */
export const EDIT_PROGRESS_PREFIX = 'DiffCoder: ';

/** How a `diffcoder.edit` ends; `detail` says why in words. */
export const OUTCOMES = ['proposed', 'applied', 'refused', 'cancelled', 'stale', 'failed'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const MODEL_STATES = ['unconfigured', 'loading', 'ready', 'failed'] as const;
export type ModelState = (typeof MODEL_STATES)[number];

export interface ModelStatus {
    state: ModelState;
    path: string | null;
    detail: string;
}

export interface InfillStats {
    generatedTokens: number;
    promptTokens: number;
    forwards: number;
    modelSeconds: number;
    serverSeconds: number;
}

export interface StatusReply {
    model: ModelStatus;
    inFlight: number;
    lastInfill: InfillStats | null;
    settings: Record<string, unknown>;
}

/** `diffcoder/status`: the model's state and the settings in force. The server takes `{}`, null
 *  or no params at all; the extension sends `{}`. */
export type StatusParams = Record<string, never>;
export const status = new RequestType<StatusParams, StatusReply, void>(STATUS_REQUEST);

export interface DocumentRef {
    uri: string;
    version?: number | null;
}

export interface EditArgs {
    textDocument: DocumentRef;
    range?: Range;
    position?: Position;
    instruction: string;
    /** false unless given: the edit comes back for a preview; true: the server applies it. */
    apply?: boolean;
}

export interface EditRegion {
    range: Range;
    kind: string;
    reason: string;
    name: string | null;
}

export interface EditStats {
    generatedTokens: number;
    promptTokens: number;
    forwards: number;
    forwardsPerToken: number;
    draftAcceptedTokens: number;
    draftAcceptedShare: number;
    modelSeconds: number;
    serverSeconds: number;
}

export interface EditReply {
    applied: boolean;
    edit: WorkspaceEdit | null;
    region: EditRegion;
    finishReason: string;
    rejected: string | null;
    cancelled: boolean;
    reason: string | null;
    proposal: string | null;
    /** the document range `proposal` replaces (set exactly when `proposal` is) */
    proposalRange: Range | null;
    version: number | null;
    stats: EditStats;
    outcome: Outcome;
    detail: string | null;
}

/** `data` of every DiffCoder code action: an EditArgs without `apply`. */
export interface CodeActionData {
    textDocument: DocumentRef;
    range: Range;
    instruction: string;
}

/** The extra keys of the `$/progress` report that announces an edit's region before decoding. */
export interface RegionReport {
    textDocument: DocumentRef;
    region: EditRegion;
}

export function isCodeActionData(data: unknown): data is CodeActionData {
    const d = data as Partial<CodeActionData> | null | undefined;
    return (
        typeof d === 'object' && d !== null && typeof d.instruction === 'string' &&
        typeof d.textDocument?.uri === 'string' && typeof d.range?.start?.line === 'number' &&
        typeof d.range?.end?.line === 'number'
    );
}

export function isRegionReport(value: unknown): value is RegionReport {
    const v = value as Partial<RegionReport> | null | undefined;
    return typeof v === 'object' && v !== null && typeof v.region?.range?.start?.line === 'number' && typeof v.region.kind === 'string';
}

export interface CancelArgs {
    textDocument?: DocumentRef | null;
}

export interface CancelReply {
    cancelled: number;
}

/** `workspace/executeCommand diffcoder.edit`, always as a preview (apply=false). */
export function editCommand(args: Omit<EditArgs, 'apply'>): ExecuteCommandParams {
    return { command: EDIT_COMMAND, arguments: [{ ...args, apply: false }] };
}

/** `diffcoder.cancel` for one document, or every job when `uri` is undefined. */
export function cancelCommand(uri?: string): ExecuteCommandParams {
    const args: CancelArgs[] = uri === undefined ? [] : [{ textDocument: { uri } }];
    return { command: CANCEL_COMMAND, arguments: args };
}
