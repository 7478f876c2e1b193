// What the e2e scenarios share: the page and the temporary world around code-server, and the
// ways to drive VS Code's UI (command palette, quick pick, notifications, dialogs, settings).
// Every wait is on a condition with a deadline.
import * as fs from 'fs';
import * as path from 'path';
import { Locator, Page } from 'playwright-core';
import { findFiles, waitFor, WAIT_MS } from './code_server';

export interface World {
    page: Page;
    root: string;
    workspace: string;
    artifacts: string;
    /** where README screenshots go (DIFFCODER_E2E_IMAGES=1: extensions/vscode/images), or undefined */
    images: string | undefined;
    /** the settings written into the User settings file at the start */
    userSettings: Record<string, unknown>;
    /** checkpoints */
    finishing: string;
    slow: string;
    tiny: string;
    /** the interpreter with diffcoder installed (diffcoder.server.python) */
    python: string;
}

export function log(message: string): void {
    console.log(`[e2e ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** A screenshot in the artifacts; with `readme`, also the README image of that name. */
export async function shot(world: World, name: string, readme?: string): Promise<void> {
    const file = path.join(world.artifacts, `${name}.png`);
    await world.page.screenshot({ path: file });
    if (readme && world.images) fs.copyFileSync(file, path.join(world.images, `${readme}.png`));
    log(`screenshot ${name}.png${readme && world.images ? ` (README: images/${readme}.png)` : ''}`);
}

export async function runCommand(page: Page, title: string): Promise<void> {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: WAIT_MS });
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: WAIT_MS });
    await page.keyboard.press('Enter');
}

export async function openPicker(page: Page): Promise<void> {
    await runCommand(page, 'DiffCoder: Edit Selection');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'DiffCoder: Edit Selection' }).waitFor({ timeout: WAIT_MS });
}

/** Edit Selection with `instruction` typed in one go, accepted once the list shows it. */
export async function askForEdit(page: Page, instruction: string): Promise<void> {
    await openPicker(page);
    await page.locator('.quick-input-widget input').fill(instruction);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: instruction }).first().waitFor({ timeout: WAIT_MS });
    await page.keyboard.press('Enter');
}

export async function openFile(page: Page, name: string): Promise<void> {
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill(name);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: WAIT_MS });
    await page.keyboard.press('Enter');
    await editorFocusedOn(page, name);
}

export async function editorFocusedOn(page: Page, name: string): Promise<void> {
    await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: WAIT_MS });
    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
}

/** Select lines [first, first + count) (0-based) of the focused editor. */
export async function selectLines(page: Page, first: number, count: number): Promise<void> {
    await page.keyboard.press('Control+Home');
    for (let i = 0; i < first; i++) await page.keyboard.press('ArrowDown');
    for (let i = 0; i < count; i++) await page.keyboard.press('Shift+ArrowDown');
    await page.locator('.monaco-editor .selected-text').first().waitFor({ timeout: WAIT_MS });
}

export function toast(page: Page, text: string | RegExp): Locator {
    return page.locator('.notifications-toasts .notification-toast', { hasText: text });
}

export async function clickNotificationButton(page: Page, label: string, within?: Locator): Promise<void> {
    const scope = within ?? page.locator('.notifications-toasts');
    const button = scope.locator('.monaco-button', { hasText: new RegExp(`^${label}$`) }).first();
    await button.waitFor({ state: 'visible', timeout: WAIT_MS });
    await button.click();
}

export function dialog(page: Page): Locator {
    return page.locator('.monaco-dialog-box');
}

export async function closeDiffWith(page: Page, label: 'Accept' | 'Reject'): Promise<void> {
    await clickNotificationButton(page, label);
    await page.locator('.monaco-diff-editor').first().waitFor({ state: 'detached', timeout: WAIT_MS });
}

/** The text of the extension's logs (every DiffCoder.log of this code-server). */
export function extensionLog(world: World): string {
    return findFiles(path.join(world.root, 'user-data', 'logs'), /DiffCoder.*\.log$/)
        .map((f) => fs.readFileSync(f, 'utf8'))
        .join('\n');
}

export function countInLog(world: World, text: string | RegExp): number {
    return extensionLog(world).split('\n').filter((l) => (typeof text === 'string' ? l.includes(text) : text.test(l))).length;
}

export async function waitForLog(world: World, what: string, text: string | RegExp, atLeast = 1): Promise<void> {
    await waitFor(what, () => countInLog(world, text) >= atLeast || undefined);
}

/** Sets a setting in the Settings UI, on its User or Remote tab (code-server is a remote window),
 *  as a user would, and leaves the settings open. */
export async function setSetting(page: Page, tab: 'User' | 'Remote', key: string, title: string, value: string | boolean): Promise<void> {
    await runCommand(page, 'Preferences: Open User Settings');
    await page.locator('.settings-editor').waitFor({ timeout: WAIT_MS });
    await page.locator('.settings-editor .settings-tabs-widget .action-label', { hasText: new RegExp(`^${tab}`) }).first().click();
    await page.locator('.settings-editor .suggest-input-container').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(key);
    const item = page.locator('.settings-editor .setting-item-contents', { hasText: title }).first();
    await item.waitFor({ timeout: WAIT_MS });
    if (typeof value === 'boolean') {
        const box = item.locator('.setting-value-checkbox').first();
        if (((await box.getAttribute('aria-checked')) === 'true') !== value) await box.click();
        await waitFor(`${key} = ${value}`, async () => ((await box.getAttribute('aria-checked')) === String(value)) || undefined);
    } else {
        const input = item.locator('input').first();
        await input.fill(value);
        await input.press('Tab');
    }
}

export async function setRemoteSetting(page: Page, key: string, title: string, value: string): Promise<void> {
    await setSetting(page, 'Remote', key, title, value);
}

export async function closeSettings(page: Page): Promise<void> {
    await page.locator('.tabs-container .tab', { hasText: 'Settings' }).locator('.codicon-close').click();
    await page.locator('.settings-editor').waitFor({ state: 'detached', timeout: WAIT_MS });
}

export const readyStatus = (page: Page, model = '') => page.locator(`.statusbar-item[aria-label^="DiffCoder ready${model ? `: ${model}` : ''}"]`);

/** The region label the extension draws after the region's first line ("◀ DiffCoder: …"); VS
 *  Code renders decoration text as CSS `content`, so it is read from the computed styles. */
export async function regionLabel(page: Page): Promise<string | undefined> {
    // a string: this project compiles without the DOM's types
    const found = await page.evaluate<string>(`(() => {
        for (const element of document.querySelectorAll('.editor-instance .view-lines span')) {
            const content = getComputedStyle(element, '::after').content;
            if (content && content.includes('DiffCoder')) return content;
        }
        return '';
    })()`);
    return found ? found.replace(/^"|"$/g, '') : undefined;
}
