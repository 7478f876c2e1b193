// End to end in a real VS Code: code-server 4.100.3 in headless Chromium (playwright-core).
// Installs the built .vsix, opens a workspace and runs the scenarios in test/e2e/scenarios/ in
// order, in one code-server (each writes its own file; later ones change settings). Screenshots
// and logs go to build/e2e/; DIFFCODER_E2E_IMAGES=1 also writes the README's screenshots into
// images/. Waits on conditions only.
//   node out/test/e2e/run.js --code-server PATH --vsix PATH [--only edit,picker,...]
import { ChildProcess, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium } from 'playwright-core';
import { EXTENSION_DIR, finishingCheckpoint, pythonPath, slowCheckpoint, tinyCheckpoint } from '../support/server_session';
import { codeServerEnv, copyLogs, dumpLogs, freePort, healthy, startCodeServer, stopGroup, waitFor, WAIT_MS } from './code_server';
import { codeActions } from './scenarios/code_actions';
import { edit } from './scenarios/edit';
import { ghostText } from './scenarios/ghost_text';
import { picker } from './scenarios/picker';
import { progress } from './scenarios/progress';
import { refused } from './scenarios/refused';
import { serverDown } from './scenarios/server_down';
import { settings } from './scenarios/settings';
import { log, readyStatus, runCommand, World } from './ui';

/** In this order: settings changes come late (the progress and server-down ones use the Remote
 *  tab, whose values win over the User settings the earlier ones write). */
const SCENARIOS: [string, (world: World) => Promise<void>][] = [
    ['edit', edit],
    ['picker', picker],
    ['code-actions', codeActions],
    ['refused', refused],
    ['settings', settings],
    ['ghost-text', ghostText],
    ['progress', progress],
    ['server-down', serverDown],
];

const FILES = ['stats.py', 'picker.py', 'actions.py', 'refused.py', 'ghost.py', 'big.py'];

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
/** DIFFCODER_E2E_KEEP_GOING=1: run the other scenarios after one fails (and fail at the end). */
const keepGoing = process.env.DIFFCODER_E2E_KEEP_GOING === '1';
const only = option('--only', process.env.DIFFCODER_E2E_ONLY || SCENARIOS.map(([name]) => name).join(',')).split(',');

/** The settings the test gives VS Code (the User settings file). */
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
        'editor.autoClosingBrackets': 'never',
        'editor.autoClosingQuotes': 'never',
        'window.zoomLevel': 0,
    };
}

async function main(): Promise<void> {
    const unknown = only.filter((name) => !SCENARIOS.some(([n]) => n === name));
    if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map(([n]) => n).join(', ')}`);
    fs.rmSync(artifacts, { recursive: true, force: true });
    fs.mkdirSync(artifacts, { recursive: true });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'diffcoder-e2e-'));
    const workspace = path.join(root, 'workspace');
    fs.mkdirSync(workspace);
    // every scenario's file exists from the start, so Quick Open finds it (each writes its text)
    for (const name of FILES) fs.writeFileSync(path.join(workspace, name), '');
    const settings = userSettings(finishingCheckpoint());
    fs.mkdirSync(path.join(root, 'user-data', 'User'), { recursive: true });
    fs.writeFileSync(path.join(root, 'user-data', 'User', 'settings.json'), JSON.stringify(settings, null, 2));
    fs.writeFileSync(path.join(root, 'config.yaml'), 'auth: none\n');
    const images = process.env.DIFFCODER_E2E_IMAGES === '1' ? path.join(EXTENSION_DIR, 'images') : undefined;

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
    const world: World = {
        page, root, workspace, artifacts, images, userSettings: settings,
        finishing: finishingCheckpoint(), slow: slowCheckpoint(), tiny: tinyCheckpoint(), python: pythonPath(),
    };
    let passed = 0;
    let current = 'start';
    try {
        server = startCodeServer(codeServer, root, workspace, port, artifacts);
        await waitFor('code-server /healthz', () => healthy(port));
        log(`code-server on port ${port}`);
        await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
        await page.locator('.monaco-workbench').waitFor({ timeout: WAIT_MS });
        // the extension starts the server; the status bar says when the model is ready
        const ready = readyStatus(page);
        await ready.waitFor({ timeout: WAIT_MS });
        const readyText = await ready.innerText();
        if (!readyText.includes('DiffCoder: finishing')) throw new Error(`status bar reads ${JSON.stringify(readyText)}`);
        log(`status bar: ${readyText.trim()}`);
        const failed: string[] = [];
        for (const [name, scenario] of SCENARIOS) {
            if (!only.includes(name)) continue;
            current = name;
            log(`--- scenario ${name}`);
            try {
                await scenario(world);
            } catch (error) {
                if (!keepGoing) throw error;
                // to see which scenarios fail (e.g. against an older .vsix): note it, tidy up, go on
                failed.push(name);
                log(`--- scenario ${name}: FAILED: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
                await page.screenshot({ path: path.join(artifacts, `failure-${name}.png`) }).catch(() => undefined);
                for (let i = 0; i < 3; i++) await page.keyboard.press('Escape');
                await runCommand(page, 'View: Close All Editors').catch(() => undefined);
                await page.locator('.monaco-dialog-box .monaco-button', { hasText: "Don't Save" }).click({ timeout: 3000 }).catch(() => undefined);
                continue;
            }
            passed++;
            log(`--- scenario ${name}: passed`);
        }
        console.log(`e2e: ${passed} passed, ${failed.length} failed${failed.length ? ` (${failed.join(', ')})` : ''}`);
        if (failed.length) process.exitCode = 1;
    } catch (error) {
        await page.screenshot({ path: path.join(artifacts, 'failure.png') }).catch(() => undefined);
        dumpLogs(root, artifacts);
        throw new Error(`e2e: ${passed} passed, 1 failed (scenario ${current})\n${error instanceof Error ? error.stack : String(error)}`);
    } finally {
        await context.close().catch(() => undefined);
        stopGroup(server);
        copyLogs(root, artifacts);
        if (server) await new Promise<void>((resolve) => (server!.exitCode !== null ? resolve() : server!.once('exit', () => resolve())));
        fs.rmSync(root, { recursive: true, force: true });
    }
}

main().then(
    () => process.exit(process.exitCode ?? 0),
    (error: unknown) => {
        console.error(error instanceof Error ? error.message : String(error));
        process.exit(1);
    },
);
