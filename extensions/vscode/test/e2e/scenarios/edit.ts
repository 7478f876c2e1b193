// Edit Selection end to end: Accept (the file on disk becomes the server's proposal, computed
// separately from the same server and checkpoint; one undo step; nothing stays selected), the
// region named in the diff's title, Reject of a recent instruction (changes nothing), Restart
// Server and DiffCoder: Cancel.
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { readConfig, serverSettings } from '../../../src/config';
import { applyTextEdits, editsFor } from '../../../src/text_edits';
import { SAMPLE_SOURCE as SOURCE, ServerSession } from '../../support/server_session';
import { waitFor, WAIT_MS } from '../code_server';
import { askForEdit, closeDiffWith, countInLog, editorFocusedOn, log, openFile, openPicker, readyStatus, runCommand, selectLines, shot, waitForLog, World } from '../ui';

export const INSTRUCTION = 'Handle the empty list';
const SELECTED_LINES = 5; // `mean`, lines 0-4: the selection ends at the start of line 5

/** What the server proposes for the selection, asked directly (same checkpoint and settings). */
async function expectedProposal(uri: string, text: string, settings: Record<string, unknown>): Promise<string> {
    const config = readConfig(<T>(key: string, fallback: T) => {
        const full = `diffcoder.${key}`;
        return full in settings ? (settings[full] as T) : fallback;
    });
    const server = await ServerSession.start(serverSettings(config));
    try {
        const status = await server.loaded();
        if (status.model.state !== 'ready') throw new Error(`model not ready: ${JSON.stringify(status.model)}`);
        await server.open(uri, text);
        const range = { start: { line: 0, character: 0 }, end: { line: SELECTED_LINES, character: 0 } };
        const result = await server.edit({ textDocument: { uri, version: 1 }, range, instruction: INSTRUCTION });
        if (!result.edit) throw new Error(`the server proposed nothing: ${JSON.stringify(result)}`);
        return applyTextEdits(text, editsFor(result.edit, uri).edits);
    } finally {
        await server.stop();
    }
}

export async function edit(world: World): Promise<void> {
    const { page } = world;
    const file = path.join(world.workspace, 'stats.py');
    fs.writeFileSync(file, SOURCE);
    log('asking the server for its proposal directly');
    const expected = await expectedProposal(pathToFileURL(file).toString(), SOURCE, world.userSettings);
    if (expected === SOURCE) throw new Error('the direct proposal changes nothing');
    fs.writeFileSync(path.join(world.artifacts, 'expected-stats.py'), expected);

    await openFile(page, 'stats.py');
    await selectLines(page, 0, SELECTED_LINES);
    await shot(world, '1-selection');

    // Accept: the file on disk becomes the server's proposal
    await askForEdit(page, INSTRUCTION);
    await page.locator('.monaco-diff-editor').first().waitFor({ timeout: WAIT_MS });
    await page.locator('.notifications-toasts', { hasText: 'DiffCoder proposes a change' }).waitFor({ timeout: WAIT_MS });
    await page.locator('.notifications-toasts', { hasText: 'waiting for the model' }).waitFor({ state: 'detached', timeout: WAIT_MS });
    // the diff's title names the region the server chose
    const title = (await page.locator('.tabs-container .tab.active').innerText()).trim();
    if (!/↔ DiffCoder: Handle the empty list — .*lines? \d/.test(title)) throw new Error(`the diff's title names no region: ${JSON.stringify(title)}`);
    log(`diff title: ${title}`);
    await shot(world, '2-diff', 'diff');
    await closeDiffWith(page, 'Accept');
    // nothing of the old selection stays over the new code (checked before a click moves the cursor)
    await page.locator('.tabs-container .tab.active', { hasText: 'stats.py' }).waitFor({ timeout: WAIT_MS });
    const selected = page.locator('.editor-instance .monaco-editor .selected-text');
    await waitFor('no selection left after Accept', async () => (await selected.count()) === 0 || undefined, 10_000);
    await editorFocusedOn(page, 'stats.py');
    await page.keyboard.press('Control+S');
    await waitFor('stats.py on disk to equal the proposal', () => fs.readFileSync(file, 'utf8') === expected || undefined);
    log("accepted: the file on disk is the server's proposal, no stale selection");
    await shot(world, '3-accepted');
    // one undoable edit: a single undo restores the original, redo brings the proposal back
    await page.keyboard.press('Control+Z');
    await page.keyboard.press('Control+S');
    await waitFor('one undo to restore the original on disk', () => fs.readFileSync(file, 'utf8') === SOURCE || undefined);
    await page.keyboard.press('Control+Shift+Z');
    await page.keyboard.press('Control+S');
    await waitFor('redo to bring the proposal back', () => fs.readFileSync(file, 'utf8') === expected || undefined);
    log('the accepted edit is one undo step');

    // Reject: nothing changes; the recent instruction is offered, and chosen with the arrow key
    await page.keyboard.press('Control+A');
    await openPicker(page);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: INSTRUCTION }).first().waitFor({ timeout: WAIT_MS });
    await shot(world, '4-recent-instructions', 'instructions');
    await page.keyboard.press('ArrowDown');
    await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: INSTRUCTION }).waitFor({ timeout: WAIT_MS });
    await page.keyboard.press('Enter');
    await page.locator('.monaco-diff-editor').first().waitFor({ timeout: WAIT_MS });
    await closeDiffWith(page, 'Reject');
    await editorFocusedOn(page, 'stats.py');
    await page.keyboard.press('Control+S');
    await page.locator('.tabs-container .tab.dirty').waitFor({ state: 'detached', timeout: WAIT_MS });
    if (fs.readFileSync(file, 'utf8') !== expected) throw new Error('Reject changed the file');
    log('rejected: the file is unchanged');

    // Restart Server: a second server process starts and the model is ready again
    const starts = countInLog(world, '[info] starting ');
    await runCommand(page, 'DiffCoder: Restart Server');
    await waitForLog(world, 'a second server start in the log', '[info] starting ', starts + 1);
    await readyStatus(page).waitFor({ timeout: WAIT_MS });
    log('restarted: the status bar is ready again');

    // DiffCoder: Cancel reaches the server (its own command, not the client's automatic one)
    await runCommand(page, 'DiffCoder: Cancel');
    await waitForLog(world, 'the cancel answer in the log', 'cancel: 0 server-side job(s) cancelled');
    log('cancel: the server answered');
}
