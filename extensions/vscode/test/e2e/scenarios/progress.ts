// Progress, the region and Cancel: a slow model, a whole file. The region is highlighted (and
// labelled in the editor) while the model works, the notification shows the token count and
// the status bar the percentage (sampled, to see it advance); Cancel stops the decoding, no
// diff opens and the file is unchanged.
import * as fs from 'fs';
import * as path from 'path';
import { waitFor, WAIT_MS } from '../code_server';
import { askForEdit, closeSettings, editorFocusedOn, log, readyStatus, regionLabel, setRemoteSetting, shot, waitForLog, World } from '../ui';

export async function progress(world: World): Promise<void> {
    const { page } = world;
    const big = path.join(world.workspace, 'big.py');
    const bigText = Array.from({ length: 60 }, (_, i) => `def f${i}(x):\n    return x * ${i} + ${i}\n`).join('\n');
    fs.writeFileSync(big, bigText);
    await setRemoteSetting(page, 'diffcoder.modelPath', 'Model Path', world.slow);
    await closeSettings(page);
    await readyStatus(page, 'slow').waitFor({ timeout: WAIT_MS });
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'big.py' }).first().click();
    await editorFocusedOn(page, 'big.py');
    await page.keyboard.press('Control+A');
    await askForEdit(page, 'Rewrite all of it');
    // the region is highlighted while the model works
    const label = await waitFor('the region label while the model works', async () => {
        const text = await regionLabel(page);
        return text?.includes('working on') ? text : undefined;
    });
    log(`region while working: ${JSON.stringify(label)}`);
    const running = page.locator('.notifications-toasts .notification-toast', { hasText: /\d+\/\d+ tokens/ });
    await running.waitFor({ timeout: WAIT_MS });
    const busy = page.locator('.statusbar-item[aria-label^="DiffCoder busy"]');
    await busy.waitFor({ timeout: WAIT_MS });
    await shot(world, '7-progress', 'progress');
    // the percentage over a few seconds, as the status bar shows it
    const seen: string[] = [];
    const until = Date.now() + 4000;
    while (Date.now() < until && (await busy.count()) > 0) {
        const text = (await busy.innerText().catch(() => '')).trim();
        if (seen[seen.length - 1] !== text) seen.push(text);
        await page.waitForTimeout(250);
    }
    log(`status bar while decoding: ${seen.join(' | ')}`);
    await running.locator('.monaco-button', { hasText: 'Cancel' }).click();
    await running.waitFor({ state: 'detached', timeout: WAIT_MS });
    await waitForLog(world, 'the server to log the cancelled decoding', 'cancelled the decoding of request');
    await readyStatus(page, 'slow').waitFor({ timeout: WAIT_MS });
    if ((await page.locator('.monaco-diff-editor').count()) !== 0) throw new Error('a diff opened after Cancel');
    if (fs.readFileSync(big, 'utf8') !== bigText) throw new Error('Cancel changed big.py');
    await waitFor('the region highlight to go', async () => ((await regionLabel(page)) === undefined ? true : undefined));
    log('cancel: the decoding stopped, nothing changed, the highlight is gone');
}
