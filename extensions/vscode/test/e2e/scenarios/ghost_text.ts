// Ghost text while the suggest widget is open (as it is on most keystrokes with a language
// extension): no error notification, and the ghost text shows. Runs on the demo model (the
// server's default), which writes real code.
import * as fs from 'fs';
import * as path from 'path';
import { waitFor, WAIT_MS } from '../code_server';
import { closeSettings, countInLog, log, openFile, readyStatus, setSetting, shot, waitForLog, World } from '../ui';

const SOURCE = ['def area(width, height):', '    return width * height', '', '', 'def perimeter(width, height):', '    return 2 * (wid'].join('\n');

export async function ghostText(world: World): Promise<void> {
    const { page } = world;
    const starts = countInLog(world, '[info] starting ');
    await setSetting(page, 'User', 'diffcoder.inline.enabled', 'Inline: Enabled', true);
    // the completion list holds words only: the ghost text cannot be the preview of a DiffCoder item
    await setSetting(page, 'User', 'diffcoder.completion.enabled', 'Completion: Enabled', false);
    await setSetting(page, 'User', 'diffcoder.modelPath', 'Model Path', '');
    await closeSettings(page);
    await waitForLog(world, 'a restart for the demo model', '[info] starting ', starts + 1);
    await readyStatus(page, 'demo_checkpoint').waitFor({ timeout: WAIT_MS });
    fs.writeFileSync(path.join(world.workspace, 'ghost.py'), SOURCE);
    await openFile(page, 'ghost.py');
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Control+Space'); // editor.action.triggerSuggest
    await page.locator('.suggest-widget.visible .monaco-list-row', { hasText: 'width' }).first().waitFor({ timeout: WAIT_MS });
    log(`suggest widget: ${JSON.stringify((await page.locator('.suggest-widget.visible .monaco-list-row').allInnerTexts()).join(' | '))}`);
    const failures = countInLog(world, 'inline completion failed');
    await page.keyboard.press('Alt+Backslash'); // editor.action.inlineSuggest.trigger
    const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview');
    const error = page.locator('.notifications-toasts .notification-toast', { hasText: /error|invalid/i });
    await waitFor('ghost text (or an error)', async () => ((await ghost.count()) > 0 || (await error.count()) > 0 ? true : undefined), WAIT_MS);
    await shot(world, '13-ghost-text', 'ghost-text');
    if ((await error.count()) > 0) throw new Error(`an error notification: ${await error.first().innerText()}`);
    if (countInLog(world, 'inline completion failed') > failures) throw new Error('the inline completion request failed (see the log)');
    log(`ghost text with the suggest widget open: ${JSON.stringify((await ghost.allInnerTexts()).join(''))}`);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await setSetting(page, 'User', 'diffcoder.inline.enabled', 'Inline: Enabled', false);
    await setSetting(page, 'User', 'diffcoder.completion.enabled', 'Completion: Enabled', true);
    await closeSettings(page);
}
