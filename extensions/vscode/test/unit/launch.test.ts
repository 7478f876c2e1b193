import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as os from 'os';
import { readConfig } from '../../src/config';
import { expandPath, launchCommand, preflight, resolvePython } from '../../src/launch';
import { state } from './fake_vscode';

const defaults = readConfig((_key, fallback) => fallback);

test('python -m diffcoder.lsp_server, or an explicit server with the extra arguments', () => {
    assert.deepEqual(launchCommand({ ...defaults, serverArgs: ['-v'] }, '/py'), {
        command: '/py',
        args: ['-m', 'diffcoder.lsp_server', '-v'],
        viaPython: true,
    });
    assert.deepEqual(launchCommand({ ...defaults, serverPath: '/bin/diffcoder-lsp' }, '/py'), {
        command: '/bin/diffcoder-lsp',
        args: [],
        viaPython: false,
    });
});

test('a team server: --server URL [--token-file F] instead of a local model', () => {
    const remote = { ...defaults, serverUrl: 'http://gpu-box:8765', serverArgs: ['-v'] };
    assert.deepEqual(launchCommand(remote, '/py').args, ['-m', 'diffcoder.lsp_server', '--server', 'http://gpu-box:8765', '-v']);
    assert.deepEqual(launchCommand({ ...remote, serverTokenFile: '/secrets/t' }, '/py').args, [
        '-m', 'diffcoder.lsp_server', '--server', 'http://gpu-box:8765', '--token-file', '/secrets/t', '-v',
    ]);
    assert.deepEqual(launchCommand({ ...remote, serverPath: '/bin/diffcoder-lsp' }, '/py'), {
        command: '/bin/diffcoder-lsp',
        args: ['--server', 'http://gpu-box:8765', '-v'],
        viaPython: false,
    });
    // a token file alone means nothing without a server
    assert.deepEqual(launchCommand({ ...defaults, serverTokenFile: '/secrets/t' }, '/py').args, ['-m', 'diffcoder.lsp_server']);
});

test('interpreter: the setting, else python3 (no Python extension here)', async () => {
    state.reset();
    assert.equal(await resolvePython({ ...defaults, serverPython: '/venv/bin/python' }), '/venv/bin/python');
    assert.equal(await resolvePython(defaults), 'python3');
});

test('paths: ~, ${workspaceFolder} and relative ones', () => {
    assert.equal(expandPath('~/m', '/ws', '/home/u'), '/home/u/m');
    assert.equal(expandPath('${workspaceFolder}/m', '/ws'), '/ws/m');
    assert.equal(expandPath('./models/m', '/ws'), '/ws/models/m');
    assert.equal(expandPath('python3', '/ws'), 'python3');
    assert.equal(expandPath('', '/ws'), '');
});

test('preflight names a missing interpreter, a missing package and a missing model', async () => {
    const missing = await preflight({ command: '/nonexistent/python', args: [], viaPython: true }, '');
    assert.equal(missing?.kind, 'python');
    assert.match(missing!.message, /diffcoder\.server\.python/);
    // node stands in for an interpreter without the package: `-c` runs and exits non-zero
    const noServer = await preflight({ command: '/nonexistent/diffcoder-lsp', args: [], viaPython: false }, '');
    assert.equal(noServer?.kind, 'server');
    const model = await preflight({ command: process.execPath, args: [], viaPython: false }, `${os.tmpdir()}/no-such-model-dir`);
    assert.equal(model?.kind, 'model');
    assert.match(model!.message, /diffcoder\.modelPath/);
    assert.equal(await preflight({ command: process.execPath, args: [], viaPython: false }, os.tmpdir()), undefined);
});

test('preflight: an interpreter without the package', async (t) => {
    const { execFileSync } = await import('child_process');
    try {
        execFileSync('python3', ['-c', "import importlib.util,sys; sys.exit(1 if importlib.util.find_spec('diffcoder') else 0)"]);
    } catch {
        t.skip('the system python3 has diffcoder installed');
        return;
    }
    const problem = await preflight({ command: 'python3', args: [], viaPython: true }, '');
    assert.equal(problem?.kind, 'package');
    assert.match(problem!.message, /not installed/);
});
