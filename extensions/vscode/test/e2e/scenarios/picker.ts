// The instruction picker runs what was typed: fast typing and Enter never run a recent
// instruction that merely matches the text (the list lags behind the keystrokes); a recent one
// runs when the user moves to it.
import * as fs from 'fs';
import * as path from 'path';
import { SAMPLE_SOURCE as SOURCE } from '../../support/server_session';
import { WAIT_MS } from '../code_server';
import { askForEdit, closeDiffWith, log, openFile, openPicker, selectLines, World } from '../ui';

const RECENT = 'Handle the empty list and the None case';
const TYPED = 'Handle the empty';
const TRIES = 4;

/** The instruction that ran, from the diff's title ("picker.py ↔ DiffCoder: <instruction> — …"). */
async function ranInstruction(world: World): Promise<string> {
    const { page } = world;
    await page.locator('.monaco-diff-editor').first().waitFor({ timeout: WAIT_MS });
    const tab = page.locator('.tabs-container .tab.active', { hasText: '↔ DiffCoder' });
    await tab.waitFor({ timeout: WAIT_MS });
    const title = (await tab.innerText()).trim();
    const ran = title.split('↔ DiffCoder: ')[1].split(' — ')[0].trim();
    await closeDiffWith(page, 'Reject');
    return ran;
}

export async function picker(world: World): Promise<void> {
    const { page } = world;
    fs.writeFileSync(path.join(world.workspace, 'picker.py'), SOURCE);
    await openFile(page, 'picker.py');
    await selectLines(page, 0, 5);
    // a recent instruction that the typed text is a prefix of
    await askForEdit(page, RECENT);
    await page.locator('.monaco-diff-editor').first().waitFor({ timeout: WAIT_MS });
    await closeDiffWith(page, 'Reject');

    for (let i = 0; i < TRIES; i++) {
        await selectLines(page, 0, 5);
        await openPicker(page);
        await page.keyboard.type(TYPED); // as fast as keys go, then Enter at once
        await page.keyboard.press('Enter');
        const ran = await ranInstruction(world);
        if (ran !== TYPED) throw new Error(`try ${i + 1}: typed ${JSON.stringify(TYPED)} + Enter ran ${JSON.stringify(ran)}`);
    }
    log(`picker: ${TRIES} fast "type + Enter" ran the text as typed`);

    // moving to a recent item runs it
    await selectLines(page, 0, 5);
    await openPicker(page);
    await page.locator('.quick-input-widget input').fill('Handle');
    await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: /^Handle/ }).waitFor({ timeout: WAIT_MS });
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'run as typed' }).waitFor({ timeout: WAIT_MS });
    const rows = page.locator('.quick-input-list .monaco-list-row');
    await page.keyboard.press('ArrowDown');
    const chosen = (await rows.locator('.label-name').nth(1).innerText()).trim();
    await page.keyboard.press('Enter');
    const ran = await ranInstruction(world);
    if (ran !== chosen) throw new Error(`ArrowDown to ${JSON.stringify(chosen)} + Enter ran ${JSON.stringify(ran)}`);
    log(`picker: ArrowDown + Enter ran the chosen recent instruction ${JSON.stringify(chosen)}`);
}
