// A fake of the parts of the `vscode` API the extension's pure-ish modules touch; tests set
// `state` (configuration, documents) and read what was called back.
/* eslint-disable @typescript-eslint/no-explicit-any */

export const state = {
    config: new Map<string, unknown>(),
    documents: [] as any[],
    applied: [] as WorkspaceEdit[],
    applyResult: true,
    executed: [] as { command: string; args: unknown[] }[],
    editors: [] as { document: unknown; selection: unknown }[],
    messages: [] as { kind: string; text: string; items: string[]; modal?: boolean; detail?: string }[],
    /** what the next messages answer (a button label), in order */
    answers: [] as (string | undefined)[],
    closedTabs: [] as unknown[],
    tabs: [] as { input: unknown }[],
    reset(): void {
        this.config.clear();
        this.documents = [];
        this.applied = [];
        this.applyResult = true;
        this.executed = [];
        this.editors = [];
        this.messages = [];
        this.answers = [];
        this.closedTabs = [];
        this.tabs = [];
    },
};

export class Position {
    constructor(
        readonly line: number,
        readonly character: number,
    ) {}
}

export class Range {
    readonly start: Position;
    readonly end: Position;
    constructor(a: number, b: number, c: number, d: number) {
        this.start = new Position(a, b);
        this.end = new Position(c, d);
    }
}

export class TextEdit {
    constructor(
        readonly range: Range,
        readonly newText: string,
    ) {}
}

export class Selection extends Range {
    constructor(
        readonly anchor: Position,
        readonly active: Position,
    ) {
        super(anchor.line, anchor.character, active.line, active.character);
    }
}

export class CodeAction {
    diagnostics?: unknown[];
    isPreferred?: boolean;
    command?: { title: string; command: string; arguments?: unknown[] };
    constructor(
        readonly title: string,
        readonly kind?: unknown,
    ) {}
}

export class Uri {
    private constructor(
        readonly scheme: string,
        readonly path: string,
        readonly query: string,
    ) {}
    static file(path: string): Uri {
        return new Uri('file', path, '');
    }
    static from(parts: { scheme: string; path?: string; query?: string }): Uri {
        return new Uri(parts.scheme, parts.path ?? '', parts.query ?? '');
    }
    get fsPath(): string {
        return this.path;
    }
    toString(): string {
        return `${this.scheme}://${this.path}${this.query ? `?${this.query}` : ''}`;
    }
}

export class WorkspaceEdit {
    readonly entries: [Uri, TextEdit[]][] = [];
    set(uri: Uri, edits: TextEdit[]): void {
        this.entries.push([uri, edits]);
    }
}

export class EventEmitter<T> {
    private listeners: ((t: T) => void)[] = [];
    event = (listener: (t: T) => void) => {
        this.listeners.push(listener);
        return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
    };
    fire(value: T): void {
        for (const l of this.listeners) l(value);
    }
    dispose(): void {
        this.listeners = [];
    }
}

export class ThemeColor {
    constructor(readonly id: string) {}
}

export class TabInputTextDiff {
    constructor(
        readonly original: Uri,
        readonly modified: Uri,
    ) {}
}

export enum StatusBarAlignment {
    Left = 1,
    Right = 2,
}

export enum ProgressLocation {
    SourceControl = 1,
    Window = 10,
    Notification = 15,
}

export const workspace = {
    getConfiguration(section: string) {
        return {
            get<T>(key: string, fallback: T): T {
                const full = `${section}.${key}`;
                return state.config.has(full) ? (state.config.get(full) as T) : fallback;
            },
        };
    },
    get textDocuments() {
        return state.documents;
    },
    workspaceFolders: undefined,
    async applyEdit(edit: WorkspaceEdit): Promise<boolean> {
        state.applied.push(edit);
        return state.applyResult;
    },
};

function message(kind: string) {
    return async (text: string, ...rest: unknown[]) => {
        const options = typeof rest[0] === 'object' && rest[0] !== null ? (rest.shift() as { modal?: boolean; detail?: string }) : {};
        state.messages.push({ kind, text, items: rest as string[], modal: options.modal, detail: options.detail });
        return state.answers.shift();
    };
}

export const window = {
    showInformationMessage: message('info'),
    showWarningMessage: message('warning'),
    showErrorMessage: message('error'),
    async showTextDocument(document: unknown) {
        const editor = { document, selection: undefined as unknown, revealRange() {} };
        state.editors.push(editor);
        return editor;
    },
    tabGroups: {
        get all() {
            return [{ tabs: state.tabs }];
        },
        async close(tabs: unknown[]) {
            state.closedTabs.push(...tabs);
            state.tabs = state.tabs.filter((t) => !tabs.includes(t));
            return true;
        },
    },
    createStatusBarItem() {
        return { text: '', tooltip: '', show() {}, dispose() {} } as Record<string, unknown>;
    },
};

export const commands = {
    async executeCommand(command: string, ...args: unknown[]) {
        state.executed.push({ command, args });
        if (command === 'vscode.diff') state.tabs.push({ input: new TabInputTextDiff(args[0] as Uri, args[1] as Uri) });
        return undefined;
    },
};

export const extensions = {
    getExtension() {
        return undefined;
    },
};

/** A text document as the fake workspace holds it. */
export function document(path: string, text: string, version = 1) {
    return { uri: Uri.file(path), version, getText: () => text, languageId: 'python' };
}
