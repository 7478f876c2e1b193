// The client protocol against the real Python server (tiny random checkpoint): what the
// extension sends (initializationOptions from config.ts, diffcoder.edit as a preview,
// cancellation, live settings) and what it relies on in the answers.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { pathToFileURL } from 'url';
import {
    CancellationTokenSource,
    CodeActionRequest,
    DidChangeConfigurationNotification,
    DidChangeTextDocumentNotification,
    ExecuteCommandRequest,
    InlineCompletionRequest,
    ResponseError,
} from 'vscode-languageserver-protocol/node';
import { readConfig, serverSettings } from '../../src/config';
import * as lsp_ext from '../../src/lsp_ext';
import { applyTextEdits, editsFor } from '../../src/text_edits';
import { finishingCheckpoint, SAMPLE_SOURCE as SOURCE, ServerSession, tinyCheckpoint } from '../support/server_session';


/** The settings object the extension builds from VS Code settings (here: a plain map). */
function extensionSettings(values: Record<string, unknown>): Record<string, unknown> {
    const config = readConfig(<T>(key: string, fallback: T) => (key in values ? (values[key] as T) : fallback));
    return serverSettings(config);
}

let counter = 0;
const freshUri = () => pathToFileURL(path.join('/tmp', `diffcoder-protocol-${process.pid}-${counter++}.py`)).toString();

describe('diffcoder-lsp from the extension client', { timeout: 300_000 }, () => {
    let server: ServerSession;
    let ready: lsp_ext.StatusReply;

    before(async () => {
        const settings = extensionSettings({
            modelPath: finishingCheckpoint(),
            device: 'cpu',
            'edit.rejectSyntaxErrors': false,
            'edit.instructions': ['Add a docstring', 'Simplify'],
        });
        server = await ServerSession.start(settings);
        ready = await server.loaded();
    });

    after(async () => {
        await server?.stop();
    });

    test('advertises what the extension uses', () => {
        const caps = server.initializeResult!.capabilities;
        assert.deepEqual([...(caps.executeCommandProvider?.commands ?? [])].sort(), [lsp_ext.CANCEL_COMMAND, lsp_ext.EDIT_COMMAND]);
        assert.ok(caps.codeActionProvider, 'code actions');
        assert.ok((caps as { inlineCompletionProvider?: unknown }).inlineCompletionProvider, 'inline completions');
    });

    test('loads the model from initializationOptions and reports the settings', () => {
        assert.equal(ready.model.state, 'ready', JSON.stringify(ready));
        assert.equal(ready.model.path, finishingCheckpoint());
        assert.match(ready.model.detail, /cpu/);
        const settings = ready.settings as { edit: { rejectSyntaxErrors: boolean; instructions: string[] }; device: string };
        assert.equal(settings.edit.rejectSyntaxErrors, false);
        assert.deepEqual(settings.edit.instructions, ['Add a docstring', 'Simplify']);
        assert.equal(settings.device, 'cpu');
        assert.equal(server.messages.all().filter((m) => m.type <= 2).length, 0, JSON.stringify(server.messages.all()));
    });

    test('diffcoder.edit with apply=false returns a versioned preview that applies to the text', async () => {
        const uri = freshUri();
        await server.open(uri, SOURCE, 'python', 3);
        const range = { start: { line: 0, character: 0 }, end: { line: 5, character: 0 } };
        const result = await server.edit({ textDocument: { uri, version: 3 }, range, instruction: 'Add a docstring' });
        assert.equal(result.applied, false);
        assert.equal(result.version, 3);
        assert.equal(result.region.kind.length > 0, true);
        assert.equal(result.rejected, null, JSON.stringify(result));
        assert.equal(result.outcome, 'proposed');
        assert.equal(result.detail, null);
        assert.ok(result.edit, JSON.stringify(result));
        const { edits, version } = editsFor(result.edit, uri);
        assert.equal(version, 3);
        assert.ok(edits.length > 0);
        const proposed = applyTextEdits(SOURCE, edits);
        assert.notEqual(proposed, SOURCE);
        // the same request again gives the same proposal: the e2e test relies on it
        const again = await server.edit({ textDocument: { uri, version: 3 }, range, instruction: 'Add a docstring' });
        assert.equal(applyTextEdits(SOURCE, editsFor(again.edit!, uri).edits), proposed);
        const progress = server.progress.all().filter((e) => e.kind === 'begin' && e.title?.startsWith(lsp_ext.EDIT_PROGRESS_PREFIX));
        assert.ok(progress.length > 0, 'edit progress (the notification shows it)');
    });

    test('an edit for a version the document left is refused with a reason', async () => {
        const uri = freshUri();
        await server.open(uri, SOURCE, 'python', 1);
        await server.connection.sendNotification(DidChangeTextDocumentNotification.type, {
            textDocument: { uri, version: 2 },
            contentChanges: [{ text: SOURCE + '\n# changed\n' }],
        });
        const range = { start: { line: 0, character: 0 }, end: { line: 4, character: 0 } };
        await assert.rejects(server.edit({ textDocument: { uri, version: 1 }, range, instruction: 'Simplify' }), (error: ResponseError<unknown>) => {
            assert.match(error.message, /version/);
            return true;
        });
    });

    test('live settings reach the server (didChangeConfiguration) without a reload', async () => {
        const loadsBefore = server.progress.all().filter((e) => e.kind === 'begin' && e.title === lsp_ext.LOAD_PROGRESS_TITLE).length;
        await server.connection.sendNotification(DidChangeConfigurationNotification.type, {
            settings: extensionSettings({ modelPath: finishingCheckpoint(), device: 'cpu', 'inline.enabled': false, 'edit.maxNewTokens': 77 }),
        });
        const status = await server.status();
        const settings = status.settings as { inline: { enabled: boolean }; edit: { maxNewTokens: number } };
        assert.equal(settings.inline.enabled, false);
        assert.equal(settings.edit.maxNewTokens, 77);
        assert.equal(status.model.state, 'ready');
        const loadsAfter = server.progress.all().filter((e) => e.kind === 'begin' && e.title === lsp_ext.LOAD_PROGRESS_TITLE).length;
        assert.equal(loadsAfter, loadsBefore);
        const uri = freshUri();
        await server.open(uri, SOURCE);
        const inline = await server.connection.sendRequest(InlineCompletionRequest.type, {
            textDocument: { uri },
            position: { line: 1, character: 4 },
            context: { triggerKind: 1 },
        });
        const items = inline === null ? [] : Array.isArray(inline) ? inline : inline.items;
        assert.equal(items.length, 0, 'inline.enabled=false gives no ghost text');
    });

    test('code actions list the configured instructions', async () => {
        const uri = freshUri();
        await server.open(uri, SOURCE);
        const actions = await server.connection.sendRequest(CodeActionRequest.type, {
            textDocument: { uri },
            range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } },
            context: { diagnostics: [] },
        });
        const titles = (actions ?? []).map((a) => a.title);
        assert.ok(titles.includes('DiffCoder: Add a docstring'), JSON.stringify(titles));
    });

    test('diffcoder.cancel with no edit running answers with a count', async () => {
        const answer = (await server.connection.sendRequest(ExecuteCommandRequest.type, lsp_ext.cancelCommand())) as lsp_ext.CancelReply;
        assert.equal(answer.cancelled, 0);
    });
    test('a new modelPath reloads the model; cancelling the request ($/cancelRequest) stops the decoding', async () => {
        const uri = freshUri();
        const long = Array.from({ length: 40 }, (_, i) => `def f${i}(x):\n    return x + ${i}\n`).join('\n');
        await server.open(uri, long, 'python', 1);
        // a random model never ends its answer: one token per step keeps it decoding for a while
        const loads = server.progress.all().length;
        await server.connection.sendNotification(DidChangeConfigurationNotification.type, {
            settings: extensionSettings({ modelPath: tinyCheckpoint(), device: 'cpu', 'edit.threshold': null, 'edit.rejectSyntaxErrors': false }),
        });
        const begin = await server.progress.wait((e) => server.progress.all().indexOf(e) >= loads && e.kind === 'begin', 60_000, 'the reload');
        await server.progress.wait((e) => e.token === begin.token && e.kind === 'end', 60_000, 'the reload to end');
        assert.equal((await server.status()).model.path, tinyCheckpoint());
        const source = new CancellationTokenSource();
        const before = server.progress.all().length;
        const range = { start: { line: 0, character: 0 }, end: { line: 119, character: 0 } };
        const pending = server.edit({ textDocument: { uri, version: 1 }, range, instruction: 'Rewrite all of it' }, source.token);
        const settled = pending.then(
            (value) => ({ value, error: undefined as unknown }),
            (error: unknown) => ({ value: undefined, error }),
        );
        // cancel once the decoder reports its first step
        await server.progress.wait((e) => server.progress.all().indexOf(e) >= before && e.kind === 'report', 60_000, 'a progress report');
        source.cancel();
        const outcome = await settled;
        if (outcome.error === undefined) {
            assert.equal(outcome.value!.cancelled, true, JSON.stringify(outcome.value));
            assert.equal(outcome.value!.outcome, 'cancelled');
        }
        else assert.equal((outcome.error as ResponseError<unknown>).code, -32800); // RequestCancelled
        // the decoder stops within a step; the job is gone soon after the answer
        const deadline = Date.now() + 10_000;
        while ((await server.status()).inFlight > 0) {
            assert.ok(Date.now() < deadline, 'the cancelled edit is still in flight');
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
    });
});

describe('diffcoder-lsp with a missing model directory', { timeout: 120_000 }, () => {
    test('stays up and says why in diffcoder/status and a message', async () => {
        const missing = path.join('/nonexistent', `diffcoder-${process.pid}`);
        const server = await ServerSession.start(extensionSettings({ modelPath: missing, device: 'cpu' }));
        try {
            const status = await server.loaded();
            assert.equal(status.model.state, 'failed');
            assert.match(status.model.detail, /nonexistent/);
            const message = await server.messages.wait((m) => m.type === 1, 30_000, 'an error message');
            assert.match(message.message, /nonexistent/);
        } finally {
            await server.stop();
        }
    });
});
