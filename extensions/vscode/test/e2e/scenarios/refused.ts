// A refused answer is not a dead end: a dialog says why in full, with "Show anyway" (the refused
// answer as a diff whose title says REFUSED) and "Show log". A random-weight checkpoint never
// ends its answer, and the server refuses an answer that did not end.
import * as fs from 'fs';
import * as path from 'path';
import { SAMPLE_SOURCE as SOURCE } from '../../support/server_session';
import { WAIT_MS } from '../code_server';
import { askForEdit, clickNotificationButton, closeSettings, countInLog, dialog, editorFocusedOn, log, openFile, readyStatus, selectLines, setSetting, shot, toast, waitForLog, World } from '../ui';

async function useModel(world: World, model: string, name: string): Promise<void> {
    const starts = countInLog(world, '[info] starting ');
    await setSetting(world.page, 'User', 'diffcoder.modelPath', 'Model Path', model);
    await closeSettings(world.page);
    await waitForLog(world, `a restart for the ${name} model`, '[info] starting ', starts + 1);
    await readyStatus(world.page, name).waitFor({ timeout: WAIT_MS });
}

export async function refused(world: World): Promise<void> {
    const { page } = world;
    const file = path.join(world.workspace, 'refused.py');
    fs.writeFileSync(file, SOURCE);
    await useModel(world, world.tiny, 'tiny');
    try {
        await openFile(page, 'refused.py');
        await selectLines(page, 8, 1); // `return max(xs)`
        await askForEdit(page, 'Tidy this line');
        const box = dialog(page);
        await box.waitFor({ timeout: WAIT_MS });
        const text = await box.innerText();
        if (!/refused/i.test(text) || !/did not end/i.test(text)) throw new Error(`the dialog does not say why: ${JSON.stringify(text)}`);
        for (const label of ['Show anyway', 'Show log']) {
            await box.locator('.monaco-button', { hasText: label }).first().waitFor({ timeout: WAIT_MS });
        }
        log(`refused: the dialog says ${JSON.stringify(text.replace(/\s+/g, ' ').slice(0, 300))}`);
        await shot(world, '10-refused', 'refused');
        await box.locator('.monaco-button', { hasText: 'Show anyway' }).first().click();
        await page.locator('.monaco-diff-editor').first().waitFor({ timeout: WAIT_MS });
        await page.locator('.tabs-container .tab.active', { hasText: 'REFUSED' }).waitFor({ timeout: WAIT_MS });
        await shot(world, '11-refused-diff', 'refused-diff');
        await clickNotificationButton(page, 'Reject', toast(page, 'refused answer'));
        await page.locator('.monaco-diff-editor').first().waitFor({ state: 'detached', timeout: WAIT_MS });
        await editorFocusedOn(page, 'refused.py');
        if (fs.readFileSync(file, 'utf8') !== SOURCE) throw new Error('the refused answer changed the file');
        log('refused: "Show anyway" opened the refused answer as a diff marked REFUSED; Reject changed nothing');
    } finally {
        await useModel(world, world.finishing, 'finishing');
    }
}
