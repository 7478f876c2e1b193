// code-server for the e2e test: start it in its own process group with everything under one
// temporary root, wait for it, stop it, and collect its logs; plus a deadline-bound condition wait.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

export const WAIT_MS = 90_000;

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined && value !== (false as unknown)) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

export function startCodeServer(codeServer: string, root: string, workspace: string, port: number, artifacts: string): ChildProcess {
    const env = codeServerEnv(root);
    const args = [
        '--config', path.join(root, 'config.yaml'),
        '--user-data-dir', path.join(root, 'user-data'),
        '--extensions-dir', path.join(root, 'extensions'),
        '--auth', 'none',
        '--bind-addr', `127.0.0.1:${port}`,
        '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
        '--disable-getting-started-override',
        workspace,
    ];
    const out = fs.openSync(path.join(artifacts, 'code-server.log'), 'w');
    // its own process group, so stopping it stops its extension host and our server too
    return spawn(codeServer, args, { env, detached: true, stdio: ['ignore', out, out] });
}

export function codeServerEnv(root: string): NodeJS.ProcessEnv {
    return {
        ...process.env,
        HOME: path.join(root, 'home'),
        XDG_CONFIG_HOME: path.join(root, 'xdg-config'),
        XDG_DATA_HOME: path.join(root, 'xdg-data'),
        XDG_CACHE_HOME: path.join(root, 'xdg-cache'),
        OMP_NUM_THREADS: '1',
    };
}

export function stopGroup(child: ChildProcess | undefined): void {
    if (child?.pid === undefined) return;
    try {
        process.kill(-child.pid, 'SIGTERM');
    } catch {
        // already gone
    }
}

export async function healthy(port: number): Promise<boolean | undefined> {
    try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        return response.ok || undefined;
    } catch {
        return undefined;
    }
}

export function findFiles(dir: string, pattern: RegExp, found: string[] = []): string[] {
    if (!fs.existsSync(dir)) return found;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) findFiles(full, pattern, found);
        else if (pattern.test(entry.name)) found.push(full);
    }
    return found;
}

export function copyLogs(root: string, artifacts: string): void {
    for (const file of findFiles(path.join(root, 'user-data', 'logs'), /DiffCoder.*\.log$|exthost\.log$/)) {
        fs.copyFileSync(file, path.join(artifacts, path.basename(file)));
    }
}

export function dumpLogs(root: string, artifacts: string): void {
    for (const file of findFiles(path.join(root, 'user-data', 'logs'), /DiffCoder.*\.log$|exthost\.log$/)) {
        console.error(`----- ${file}\n${fs.readFileSync(file, 'utf8').slice(-4000)}`);
    }
    const serverLog = path.join(artifacts, 'code-server.log');
    if (fs.existsSync(serverLog)) console.error(`----- code-server.log\n${fs.readFileSync(serverLog, 'utf8').slice(-3000)}`);
}
