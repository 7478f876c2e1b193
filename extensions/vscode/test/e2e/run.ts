// End to end in a real VS Code: code-server 4.100.3 in headless Chromium (playwright-core).
// Installs the built .vsix, opens a Python file, selects a function, runs "DiffCoder: Edit
// Selection…", accepts the diff and checks the file on disk against the server's proposal
// (computed separately from the same server and checkpoint) and that it is one undo step; checks
// the status bar, that Reject changes nothing, Restart Server, Cancel, the Quick Fix menu, and the
// error for a missing model directory. Screenshots and logs go to build/e2e/. Waits on
// conditions only.
//   node out/test/e2e/run.js --code-server PATH --vsix PATH
import { ChildProcess, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { chromium, Page } from 'playwright-core';
import { readConfig, serverSettings } from '../../src/config';
import { applyTextEdits, editsFor } from '../../src/text_edits';
import { EXTENSION_DIR, finishingCheckpoint, pythonPath, SAMPLE_SOURCE as SOURCE, ServerSession, slowCheckpoint } from '../support/server_session';
import { codeServerEnv, copyLogs, dumpLogs, findFiles, freePort, healthy, startCodeServer, stopGroup, waitFor, WAIT_MS } from './code_server';

const INSTRUCTION = 'Handle the empty list';
const SELECTED_LINES = 5; // `mean`, lines 0-4: the selection ends at the start of line 5

function option(name: string, fallback?: string): string {
    const at = process.argv.indexOf(name);
    const value = at >= 0 ? process.argv[at + 1] : fallback;
    if (!value) throw new Error(`missing ${name}`);
    return value;
}

const artifacts = path.resolve(option('--artifacts', path.join(EXTENSION_DIR, 'build', 'e2e')));
const codeServer = option('--code-server');
const vsix = path.resolve(option('--vsix'));
const chromiumPath = option('--chromium', '/usr/bin/chromium');

function log(message: string): void {
    console.log(`[e2e ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** The settings the test gives VS Code, and the same as the extension sends to the server. */
function userSettings(model: string): Record<string, unknown> {
    return {
        'diffcoder.server.python': pythonPath(),
        'diffcoder.server.env': { OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
        'diffcoder.server.args': ['-v'],
        'diffcoder.modelPath': model,
        'diffcoder.device': 'cpu',
        'diffcoder.edit.rejectSyntaxErrors': false,
        'diffcoder.inline.enabled': false,
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'editor.minimap.enabled': false,
        'chat.commandCenter.enabled': false,
        'files.autoSave': 'off',
        'window.zoomLevel': 0,
    };
}

function extensionServerSettings(settings: Record<string, unknown>): Record<string, unknown> {
    const config = readConfig(<T>(key: string, fallback: T) => {
        const full = `diffcoder.${key}`;
        return full in settings ? (settings[full] as T) : fallback;
    });
    return serverSettings(config);
}

/** What the server proposes for the selection, asked directly (same checkpoint and settings). */
async function expectedProposal(uri: string, text: string, settings: Record<string, unknown>, lines: number): Promise<string> {
    const server = await ServerSession.start(extensionServerSettings(settings));
    try {
        const status = await server.loaded();
        if (status.model.state !== 'ready') throw new Error(`model not ready: ${JSON.stringify(status.model)}`);
        await server.open(uri, text);
        const range = { start: { line: 0, character: 0 }, end: { line: lines, character: 0 } };
        const result = await server.edit({ textDocument: { uri, version: 1 }, range, instruction: INSTRUCTION });
        if (!result.edit) throw new Error(`the server proposed nothing: ${JSON.stringify(result)}`);
        return applyTextEdits(text, editsFor(result.edit, uri).edits);
    } finally {
        await server.stop();
    }
}

async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
    log(`screenshot ${name}.png`);
}

async function runCommand(page: Page, title: string): Promise<void> {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: WAIT_MS });
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: WAIT_MS });
    await page.keyboard.press('Enter');
}

async function askForEdit(page: Page, instruction: string): Promise<void> {
    await runCommand(page, 'DiffCoder: Edit Selection');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'DiffCoder: Edit Selection' }).waitFor({ timeout: WAIT_MS });
    await page.locator('.quick-input-widget input').fill(instruction);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: instruction }).first().waitFor({ timeout: WAIT_MS });
    await page.keyboard.press('Enter');
}

/** Sets diffcoder.modelPath in the Settings UI (code-server is a remote window: machine-scoped
 *  settings live in the Remote tab) and closes the settings again. */
async function setModelPath(page: Page, value: string): Promise<void> {
    await runCommand(page, 'Preferences: Open User Settings');
    await page.locator('.settings-editor').waitFor({ timeout: WAIT_MS });
    await page.locator('.settings-editor .settings-tabs-widget .action-label', { hasText: 'Remote' }).click();
    await page.locator('.settings-editor .suggest-input-container').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('diffcoder.modelPath');
    const input = page.locator('.settings-editor .setting-item-contents', { hasText: 'Model Path' }).locator('input').first();
    await input.waitFor({ timeout: WAIT_MS });
    await input.fill(value);
    await input.press('Tab');
}

async function closeSettings(page: Page): Promise<void> {
    await page.locator('.tabs-container .tab', { hasText: 'Settings' }).locator('.codicon-close').click();
    await page.locator('.settings-editor').waitFor({ state: 'detached', timeout: WAIT_MS });
}

async function clickNotificationButton(page: Page, label: string): Promise<void> {
    const button = page.locator('.notifications-toasts .monaco-button', { hasText: new RegExp(`^${label}$`) }).first();
    await button.waitFor({ state: 'visible', timeout: WAIT_MS });
    await button.click();
}

async function editorFocusedOn(page: Page, name: string): Promise<void> {
    await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: WAIT_MS });
    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
}

async function main(): Promise<void> {
    fs.rmSync(artifacts, { recursive: true, force: true });
    fs.mkdirSync(artifacts, { recursive: true });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'diffcoder-e2e-'));
    const workspace = path.join(root, 'workspace');
    fs.mkdirSync(workspace);
    const file = path.join(workspace, 'stats.py');
    fs.writeFileSync(file, SOURCE);
    const uri = pathToFileURL(file).toString();
    const big = path.join(workspace, 'big.py');
    const bigText = Array.from({ length: 60 }, (_, i) => `def f${i}(x):\n    return x * ${i} + ${i}\n`).join('\n');
    fs.writeFileSync(big, bigText);
    const settings = userSettings(finishingCheckpoint());
    fs.mkdirSync(path.join(root, 'user-data', 'User'), { recursive: true });
    fs.writeFileSync(path.join(root, 'user-data', 'User', 'settings.json'), JSON.stringify(settings, null, 2));
    fs.writeFileSync(path.join(root, 'config.yaml'), 'auth: none\n');

    log('asking the server for its proposal directly');
    const expected = await expectedProposal(uri, SOURCE, settings, SELECTED_LINES);
    if (expected === SOURCE) throw new Error('the direct proposal changes nothing');
    fs.writeFileSync(path.join(artifacts, 'expected-stats.py'), expected);

    log(`installing ${path.basename(vsix)}`);
    execFileSync(codeServer, ['--extensions-dir', path.join(root, 'extensions'), '--install-extension', vsix], {
        env: codeServerEnv(root),
        stdio: 'inherit',
    });

    const port = await freePort();
    let server: ChildProcess | undefined;
    const context = await chromium.launchPersistentContext(path.join(root, 'chromium'), {
        executablePath: chromiumPath,
        viewport: { width: 1280, height: 760 },
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    try {
        server = startCodeServer(codeServer, root, workspace, port, artifacts);
        await waitFor('code-server /healthz', () => healthy(port));
        log(`code-server on port ${port}`);
        await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
        await page.locator('.monaco-workbench').waitFor({ timeout: WAIT_MS });

        // the extension starts the server; the status bar says when the model is ready
        const ready = page.locator('.statusbar-item[aria-label^="DiffCoder ready"]');
        await ready.waitFor({ timeout: WAIT_MS });
        const readyText = await ready.innerText();
        if (!readyText.includes('DiffCoder: finishing')) throw new Error(`status bar reads ${JSON.stringify(readyText)}`);
        log(`status bar: ${readyText.trim()}`);

        await page.keyboard.press('Control+P');
        await page.locator('.quick-input-widget input').fill('stats.py');
        await page.locator('.quick-input-list .monaco-list-row', { hasText: 'stats.py' }).first().waitFor({ timeout: WAIT_MS });
        await page.keyboard.press('Enter');
        await editorFocusedOn(page, 'stats.py');
        await page.keyboard.press('Control+Home');
        for (let i = 0; i < SELECTED_LINES; i++) await page.keyboard.press('Shift+ArrowDown');
        await page.locator('.monaco-editor .selected-text').first().waitFor({ timeout: WAIT_MS });
        await shot(page, '1-selection');

        // Accept: the file on disk becomes the server's proposal
        await askForEdit(page, INSTRUCTION);
        await page.locator('.monaco-diff-editor').first().waitFor({ timeout: WAIT_MS });
        await page.locator('.notifications-toasts', { hasText: 'DiffCoder proposes a change' }).waitFor({ timeout: WAIT_MS });
        await page.locator('.notifications-toasts', { hasText: 'waiting for the model' }).waitFor({ state: 'detached', timeout: WAIT_MS });
        await shot(page, '2-diff');
        await clickNotificationButton(page, 'Accept');
        await page.locator('.monaco-diff-editor').first().waitFor({ state: 'detached', timeout: WAIT_MS });
        await editorFocusedOn(page, 'stats.py');
        await page.keyboard.press('Control+S');
        await waitFor('stats.py on disk to equal the proposal', () => fs.readFileSync(file, 'utf8') === expected || undefined);
        log('accepted: the file on disk is the server\'s proposal');
        await shot(page, '3-accepted');
        // one undoable edit: a single undo restores the original, redo brings the proposal back
        await page.keyboard.press('Control+Z');
        await page.keyboard.press('Control+S');
        await waitFor('one undo to restore the original on disk', () => fs.readFileSync(file, 'utf8') === SOURCE || undefined);
        await page.keyboard.press('Control+Shift+Z');
        await page.keyboard.press('Control+S');
        await waitFor('redo to bring the proposal back', () => fs.readFileSync(file, 'utf8') === expected || undefined);
        log('the accepted edit is one undo step');
        const afterAccept = await page.locator('.statusbar-item[aria-label^="DiffCoder ready"]').innerText();
        log(`status bar after the edit: ${afterAccept.trim()}`);

        // Reject: nothing changes (the recent instruction is offered first)
        await page.keyboard.press('Control+A');
        await runCommand(page, 'DiffCoder: Edit Selection');
        await page.locator('.quick-input-list .monaco-list-row', { hasText: INSTRUCTION }).first().waitFor({ timeout: WAIT_MS });
        await shot(page, '4-recent-instructions');
        await page.keyboard.press('Enter');
        await page.locator('.monaco-diff-editor').first().waitFor({ timeout: WAIT_MS });
        await clickNotificationButton(page, 'Reject');
        await page.locator('.monaco-diff-editor').first().waitFor({ state: 'detached', timeout: WAIT_MS });
        await editorFocusedOn(page, 'stats.py');
        await page.keyboard.press('Control+S');
        const dirty = page.locator('.tabs-container .tab.dirty');
        await dirty.waitFor({ state: 'detached', timeout: WAIT_MS });
        if (fs.readFileSync(file, 'utf8') !== expected) throw new Error('Reject changed the file');
        log('rejected: the file is unchanged');
        await shot(page, '5-rejected');

        // Restart Server: a second server process starts and the model is ready again
        const starts = () => findFiles(path.join(root, 'user-data', 'logs'), /DiffCoder.*\.log$/)
            .map((f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.includes('[info] starting ')).length)
            .reduce((a, b) => a + b, 0);
        const before = starts();
        await runCommand(page, 'DiffCoder: Restart Server');
        await waitFor('a second server start in the log', () => starts() > before || undefined);
        await page.locator('.statusbar-item[aria-label^="DiffCoder ready"]').waitFor({ timeout: WAIT_MS });
        log('restarted: the status bar is ready again');

        // DiffCoder: Cancel reaches the server (its own command, not the client's automatic one)
        const logged = (text: string) => findFiles(path.join(root, 'user-data', 'logs'), /DiffCoder.*\.log$/)
            .some((f) => fs.readFileSync(f, 'utf8').includes(text)) || undefined;
        await runCommand(page, 'DiffCoder: Cancel');
        await waitFor('the cancel answer in the log', () => logged('cancel: 0 server-side job(s) cancelled'));
        log('cancel: the server answered');

        // the server's code actions in VS Code's Quick Fix menu
        await editorFocusedOn(page, 'stats.py');
        await page.keyboard.press('Control+End');
        await page.keyboard.press('ArrowUp');
        await page.keyboard.press('Control+.');
        await page.locator('.action-widget', { hasText: 'DiffCoder: Add a docstring' }).waitFor({ timeout: WAIT_MS });
        await shot(page, '6-code-actions');
        await page.keyboard.press('Escape');
        log('code actions: the DiffCoder actions are in the Quick Fix menu');

        // progress and Cancel in the notification: a slow model, a whole file, cancelled at the
        // first progress report; no diff opens and the decoder stops
        await setModelPath(page, slowCheckpoint());
        await closeSettings(page);
        await page.locator('.statusbar-item[aria-label^="DiffCoder ready: slow"]').waitFor({ timeout: WAIT_MS });
        await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'big.py' }).first().click();
        await editorFocusedOn(page, 'big.py');
        await page.keyboard.press('Control+A');
        await askForEdit(page, 'Rewrite all of it');
        const running = page.locator('.notifications-toasts .notification-toast', { hasText: /\d+\/\d+ tokens/ });
        await running.waitFor({ timeout: WAIT_MS });
        await page.locator('.statusbar-item[aria-label^="DiffCoder busy"]').waitFor({ timeout: WAIT_MS });
        await shot(page, '7-progress');
        await running.locator('.monaco-button', { hasText: 'Cancel' }).click();
        await running.waitFor({ state: 'detached', timeout: WAIT_MS });
        await waitFor('the server to log the cancelled decoding', () => logged('cancelled the decoding of request'));
        await page.locator('.statusbar-item[aria-label^="DiffCoder ready: slow"]').waitFor({ timeout: WAIT_MS });
        if ((await page.locator('.monaco-diff-editor').count()) !== 0) throw new Error('a diff opened after Cancel');
        if (fs.readFileSync(big, 'utf8') !== bigText) throw new Error('Cancel changed big.py');
        log('cancel: the decoding stopped, nothing changed');

        // a missing model directory: the settings change restarts the server, the error names
        // the setting and its button opens the settings
        const missing = path.join(root, 'no-such-model');
        await setModelPath(page, missing);
        const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'does not exist' });
        await toast.waitFor({ timeout: WAIT_MS });
        await page.locator('.statusbar-item[aria-label^="DiffCoder error"]').waitFor({ timeout: WAIT_MS });
        await shot(page, '8-missing-model');
        await closeSettings(page);
        await toast.locator('.monaco-button', { hasText: 'Open Settings' }).click();
        await page.locator('.settings-editor .setting-item-contents', { hasText: 'Diffcoder' }).first().waitFor({ timeout: WAIT_MS });
        await shot(page, '9-settings');
        log('missing model: error in the status bar and a button that opens the settings');
        console.log('e2e: 1 passed, 0 failed');
    } catch (error) {
        await page.screenshot({ path: path.join(artifacts, 'failure.png') }).catch(() => undefined);
        dumpLogs(root, artifacts);
        throw error;
    } finally {
        await context.close().catch(() => undefined);
        stopGroup(server);
        copyLogs(root, artifacts);
        if (server) await new Promise<void>((resolve) => (server!.exitCode !== null ? resolve() : server!.once('exit', () => resolve())));
        fs.rmSync(root, { recursive: true, force: true });
    }
}

main().then(
    () => process.exit(0),
    (error: unknown) => {
        console.error(`e2e: 0 passed, 1 failed\n${error instanceof Error ? error.stack : String(error)}`);
        process.exit(1);
    },
);
