// SPDX-License-Identifier: MIT
/*
 * tests/web/console.mjs: drives herald's web console in headless Debian
 * chromium (playwright-core from tests/node_modules, never a downloaded
 * browser) through the scenario of test_console.py, as a user would: by
 * labels and button names.
 *
 * Usage: node console.mjs SCENARIO.json
 *   {base, token, screenshot, userDataDir, appletText, badAppletText,
 *    badLine, pem, tpName, configText, secretValue, and optionally
 *    smtpPort, trustDepth, closedPort, mailUser, mailPassword, mailTo,
 *    runApplet, and with it deliveryApplet, deliveryAppletText,
 *    deliveryServer; credName, and with it credSecret, credTokenUrl,
 *    credClientId, credScope, credScope2, credBadTokenUrl, credApplet,
 *    credAppletText)
 * Prints one JSON object with what the page showed on stdout; exits 1 with
 * a message on stderr when a step fails.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
const { chromium } = require('playwright-core');

const sc = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const seen = { urls: [], console_errors: [], steps: [] };
const T = 15000;

/* The texts of the status lines the user can see now. */
async function visibleStatus(page) {
    return page.evaluate(() => Array.from(document.querySelectorAll('[role=status]'))
        .filter((el) => el.offsetParent !== null || el.getClientRects().length)
        .map((el) => el.innerText.trim()).filter((t) => t));
}

function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

function step(name) {
    seen.steps.push(name);
    process.stderr.write('step: ' + name + '\n');
}

/* Everything the page holds now: its HTML, every input's value, and both
 * storages (a secret must be in none of them). */
async function pageState(page) {
    return page.evaluate(() => [
        document.documentElement.outerHTML,
        Array.from(document.querySelectorAll('input, textarea, select')).map((el) => el.value).join('\n'),
        JSON.stringify(localStorage), JSON.stringify(sessionStorage),
    ].join('\n'));
}

/* Issue 13 in the console: the Credentials tab. */
async function credentials(page) {
    const cp = page.locator('#page-credentials');
    const row = page.locator('#cred-rows tr[data-name="' + sc.credName + '"]');
    const secretInput = cp.getByLabel('Client secret', { exact: true });
    const save = () => cp.getByRole('button', { name: 'Save credential' }).click();
    const status = page.locator('#status-credentials');

    step('create an OAuth 2.0 credential');
    await page.getByRole('button', { name: 'Credentials', exact: true }).click();
    await cp.getByLabel('Credential name').fill(sc.credName);
    await cp.getByLabel('Grant').selectOption('client_credentials');
    await cp.getByLabel('Token URL').fill(sc.credTokenUrl);
    await cp.getByLabel('Client ID').fill(sc.credClientId);
    await secretInput.fill(sc.credSecret);
    await cp.getByLabel('Scope (optional)').fill(sc.credScope);
    await cp.getByLabel('SASL mechanism').selectOption('xoauth2');
    await save();
    await status.filter({ hasText: 'Created credential ' + sc.credName + '.' }).waitFor();
    await row.waitFor();
    seen.cred_row = await row.innerText();
    seen.cred_head = await cp.locator('table.creds thead').innerText();
    seen.cred_secret_input_after_create = await secretInput.inputValue();
    seen.cred_state_after_create = await pageState(page);
    seen.cred_scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-credentials.png'), fullPage: true });

    step('edit the credential, keeping its secret');
    await cp.getByRole('button', { name: 'Edit credential ' + sc.credName, exact: true }).click();
    await page.locator('#cred-mode').filter({ hasText: 'editing ' + sc.credName }).waitFor();
    seen.cred_edit_form = {
        token_url: await cp.getByLabel('Token URL').inputValue(),
        client_id: await cp.getByLabel('Client ID').inputValue(),
        secret: await secretInput.inputValue(),
        secret_type: await secretInput.getAttribute('type'),
        secret_note: await page.locator('#cred-client_secret-state').innerText(),
    };
    await cp.getByLabel('Scope (optional)').fill(sc.credScope2);
    await cp.getByLabel('SASL mechanism').selectOption('oauthbearer');
    await save();
    await status.filter({ hasText: 'Updated credential ' + sc.credName + '.' }).waitFor();
    await row.filter({ hasText: 'OAUTHBEARER' }).waitFor();
    seen.cred_row_edited = await row.innerText();
    seen.cred_state_after_edit = await pageState(page);
    /* the stored credential, asked from here (not the page) */
    const r = await fetch(sc.base + '/api/v1/credentials/' + sc.credName,
        { headers: { Authorization: 'Bearer ' + sc.token } });
    seen.cred_api_after_edit = await r.json();

    step('a bad token URL shows next to its field');
    await cp.getByLabel('Token URL').fill(sc.credBadTokenUrl);
    await save();
    const fe = page.locator('#cred-token_url-error');
    await fe.filter({ hasText: /\S/ }).waitFor();
    seen.cred_field_error = await fe.innerText();
    seen.cred_field_error_placed = await page.evaluate(() => {
        const e = document.getElementById('cred-token_url-error');
        const i = document.getElementById('cred-token-url');
        return {
            same_box: e.parentElement === i.parentElement,
            invalid: i.getAttribute('aria-invalid'),
            described: (i.getAttribute('aria-describedby') || '').split(' ').includes(e.id),
            focused: document.activeElement === i,
            others: Array.from(document.querySelectorAll('#cred-form .field-error'))
                .filter((x) => x !== e && x.textContent.trim()).map((x) => x.id),
        };
    });
    seen.cred_error_summary = await page.locator('#cred-error').innerText();
    seen.cred_status_after_bad = await status.innerText();
    await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-credentials-error.png'), fullPage: true });

    step('a new refresh-token credential without its token');
    await cp.getByRole('button', { name: 'New credential' }).click();
    await page.locator('#cred-mode').filter({ hasText: 'new credential' }).waitFor();
    await cp.getByLabel('Credential name').fill(sc.credName + '_RT');
    await cp.getByLabel('Grant').selectOption('refresh_token');
    await cp.getByLabel('Token URL').fill(sc.credTokenUrl);
    await cp.getByLabel('Client ID').fill(sc.credClientId);
    await save();
    const rte = page.locator('#cred-refresh_token-error');
    await rte.filter({ hasText: /\S/ }).waitFor();
    seen.cred_rt_error = await rte.innerText();
    seen.cred_token_url_error_cleared = await page.locator('#cred-token_url-error').innerText();
    await cp.getByRole('button', { name: 'New credential' }).click();

    if (sc.smtpPort) {
        step('mail test with the credential');
        await page.getByRole('button', { name: 'Mail test', exact: true }).click();
        const mf = page.locator('#page-mail');
        const pick = mf.getByLabel('OAuth 2.0 credential');
        await pick.locator('option[value="' + sc.credName + '"]').waitFor({ state: 'attached' });
        await pick.selectOption(sc.credName);
        seen.mail_password_disabled = await mf.getByLabel('Password', { exact: true }).isDisabled();
        await mf.getByRole('button', { name: 'Send test message' }).click();
        await page.locator('#mail-result .klass').waitFor({ timeout: 30000 });
        seen.mail_cred_result = await page.locator('#mail-result').innerText();
        await pick.selectOption('');
    }

    step('a credential an applet uses is not deleted');
    await page.getByRole('button', { name: 'Applets', exact: true }).click();
    await page.getByRole('button', { name: 'New applet' }).click();
    await page.getByLabel('Applet text (EEM)').fill(sc.credAppletText);
    await page.getByRole('button', { name: 'Save applet' }).click();
    await page.locator('#status-applets').filter({ hasText: 'Saved applet ' + sc.credApplet + '.' }).waitFor();
    await page.getByRole('button', { name: 'Credentials', exact: true }).click();
    await row.waitFor();
    await cp.getByRole('button', { name: 'Delete credential ' + sc.credName, exact: true }).click();
    await page.locator('#cred-error .conflict').waitFor();
    seen.cred_conflict = await page.locator('#cred-error').innerText();
    seen.cred_conflict_status = await status.innerText();
    seen.cred_rows_after_conflict = await row.count();
    await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-credentials-409.png'), fullPage: true });

    step('delete the applet from the 409, then the credential');
    await cp.getByRole('button', { name: 'Open applet ' + sc.credApplet + ' in the Applets tab' }).click();
    await page.locator('#editor-mode').filter({ hasText: 'editing ' + sc.credApplet }).waitFor();
    await page.getByRole('button', { name: 'Delete applet ' + sc.credApplet, exact: true }).click();
    await page.locator('#status-applets').filter({ hasText: 'Deleted applet ' + sc.credApplet + '.' }).waitFor();
    await page.getByRole('button', { name: 'Credentials', exact: true }).click();
    await row.waitFor();
    await cp.getByRole('button', { name: 'Delete credential ' + sc.credName, exact: true }).click();
    await status.filter({ hasText: 'Deleted credential ' + sc.credName + '.' }).waitFor();
    await row.waitFor({ state: 'detached' });
    seen.cred_error_after_delete = await page.locator('#cred-error').innerText();
    seen.cred_rows_end = await page.locator('#cred-rows').innerText();
    seen.cred_state_end = await pageState(page);
}

const ctx = await chromium.launchPersistentContext(sc.userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1024, height: 900 },
    args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
        '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync',
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
});
let failed = null;
try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(T);
    page.on('request', (r) => {
        seen.urls.push(r.url());
        /* what the console sent about credentials, to check which secret
         * fields it left out */
        if (/\/api\/v1\/(credentials|mail\/test)/.test(r.url()) && r.method() !== 'GET')
            (seen.cred_requests = seen.cred_requests || []).push(
                { method: r.method(), url: r.url(), body: r.postData() });
    });
    page.on('console', (m) => {
        if (m.type() === 'error')
            seen.console_errors.push(m.text());
    });
    page.on('pageerror', (e) => seen.console_errors.push('pageerror: ' + e.message));
    page.on('dialog', (d) => d.accept());

    step('open console');
    await page.goto(sc.base + '/', { waitUntil: 'load' });
    seen.title = await page.title();

    step('wrong token is refused');
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#status').filter({ hasText: 'refused' }).waitFor();
    seen.wrong_token_status = await page.locator('#status').innerText();

    step('sign in');
    await page.getByLabel('Admin token').fill(sc.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    seen.token_in_session_storage = await page.evaluate(
        () => sessionStorage.getItem('herald.token'));
    seen.token_in_local_storage = await page.evaluate(
        () => JSON.stringify(localStorage));

    step('set an environment variable');
    await page.getByRole('button', { name: 'Environment', exact: true }).click();
    await page.getByLabel('Name', { exact: true }).fill('_email_to');
    await page.getByLabel('Value').fill('noc@example.com');
    await page.getByRole('button', { name: 'Set variable' }).click();
    const envRow = page.locator('#env-rows tr[data-name="_email_to"]');
    await envRow.waitFor();
    seen.env_row = await envRow.innerText();

    step('set a secret variable');
    await page.getByLabel('Name', { exact: true }).fill('_email_server');
    await page.getByLabel('Value').fill(sc.secretValue);
    await page.getByLabel('Secret', { exact: true }).check();
    await page.getByRole('button', { name: 'Set variable' }).click();
    const secRow = page.locator('#env-rows tr[data-name="_email_server"]');
    await secRow.waitFor();
    seen.secret_row = await secRow.innerText();
    seen.env_page_text = await page.locator('#page-environment').innerText();

    step('create the DESIGN.md applet from text');
    await page.getByRole('button', { name: 'Applets', exact: true }).click();
    await page.getByLabel('Applet text (EEM)').fill(sc.appletText);
    await page.getByRole('button', { name: 'Save applet' }).click();
    const warnings = page.getByRole('list', { name: 'Applet warnings' });
    await warnings.waitFor();
    seen.applet_warnings = await warnings.innerText();
    await page.locator('#applet-rows tr[data-name]').first().waitFor();
    seen.applet_rows = await page.locator('#applet-rows').innerText();
    await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-applets.png'), fullPage: true });

    step('a parse error shows its line');
    await page.getByRole('button', { name: 'New applet' }).click();
    await page.getByLabel('Applet text (EEM)').fill(sc.badAppletText);
    await page.getByRole('button', { name: 'Save applet' }).click();
    const err = page.locator('#applet-error');
    await err.filter({ hasText: 'line ' + sc.badLine }).waitFor();
    seen.parse_error = await err.innerText();

    if (sc.deliveryApplet) {
        step('environment for a real delivery');
        await page.getByRole('button', { name: 'Environment', exact: true }).click();
        await page.getByLabel('Name', { exact: true }).fill('_email_from');
        await page.getByLabel('Value').fill(sc.mailUser);
        await page.getByRole('button', { name: 'Set variable' }).click();
        await page.locator('#status-environment').filter({ hasText: 'Created _email_from.' }).waitFor();
        await page.getByLabel('Name', { exact: true }).fill('_email_server');
        await page.getByLabel('Value').fill(sc.deliveryServer);
        await page.getByLabel('Secret', { exact: true }).check();
        await page.getByRole('button', { name: 'Set variable' }).click();
        await page.locator('#status-environment').filter({ hasText: 'Updated _email_server.' }).waitFor();

        step('run the source document applet with no trustpoint');
        await page.getByRole('button', { name: 'Applets', exact: true }).click();
        await page.getByRole('button', { name: 'New applet' }).click();
        await page.getByLabel('Applet text (EEM)').fill(sc.deliveryAppletText);
        await page.getByRole('button', { name: 'Save applet' }).click();
        await page.locator('#status-applets').filter({ hasText: 'Saved applet ' + sc.deliveryApplet + '.' }).waitFor();
        await page.getByRole('button', { name: 'Run applet ' + sc.deliveryApplet, exact: true }).click();
        await page.getByRole('button', { name: 'Run now' }).click();
        await page.locator('#run-result dl').first().waitFor({ timeout: 30000 });
        seen.delivery_run_result = await page.locator('#run-result').innerText();

        step('the Runs page shows the delivery failed');
        await page.getByRole('button', { name: /^Follow run \d+ in the Runs tab$/ }).click();
        const detail = page.locator('#run-detail');
        await detail.locator('dd .badge[data-delivery="failed"]').waitFor({ timeout: 30000 });
        await detail.locator('.klass', { hasText: 'certificate_untrusted' }).first().waitFor();
        await detail.locator('summary').first().click();
        seen.run_failed_detail = await detail.innerText();
        seen.run_failed_advice = await detail.locator('dd.advice').first().innerText();
        await page.getByLabel('Delivery', { exact: true }).selectOption('failed');
        await page.getByLabel('Applet', { exact: true }).selectOption(sc.deliveryApplet);
        await page.getByRole('button', { name: 'Show runs' }).click();
        const frow = page.locator('#runs-rows tr[data-id]').first();
        await frow.waitFor();
        seen.runs_failed_rows = await page.locator('#runs-rows').innerText();
        seen.runs_failed_ids = await page.locator('#runs-rows tr[data-id]').evaluateAll(
            (trs) => trs.map((t) => Number(t.dataset.id)));
        seen.delivery_run_id = seen.runs_failed_ids[0];
        await page.getByRole('button', { name: 'Open run ' + seen.delivery_run_id, exact: true }).click();
        await detail.locator('h3', { hasText: 'Run ' + seen.delivery_run_id + ' ' }).waitFor();
        seen.runs_page_text_failed = await page.locator('#page-runs').innerText();
        await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-runs-failed.png'), fullPage: true });
    }

    step('create a trustpoint and paste a PEM');
    await page.getByRole('button', { name: 'Trustpoints', exact: true }).click();
    await page.getByLabel('Trustpoint name').fill(sc.tpName);
    await page.getByLabel('Chain validation').selectOption('continue');
    await page.getByRole('button', { name: 'Create trustpoint' }).click();
    const card = page.getByRole('article', { name: 'Trustpoint ' + sc.tpName });
    await card.waitFor();
    await card.getByLabel('Paste certificate for ' + sc.tpName + ' (PEM)').fill(sc.pem);
    await card.getByRole('button', { name: 'Authenticate ' + sc.tpName }).click();
    const card2 = page.getByRole('article', { name: 'Trustpoint ' + sc.tpName });
    const sha = card2.locator('dt', { hasText: 'SHA-256' }).locator('xpath=following-sibling::dd[1]');
    await sha.waitFor();
    seen.tp_sha256 = (await sha.innerText()).trim();
    seen.tp_card = await card2.innerText();
    await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-trustpoints.png'), fullPage: true });

    if (sc.smtpPort) {
        step('probe a mail server and trust its chain in one step');
        const tp = page.locator('#page-trustpoints');
        await tp.getByLabel('Host', { exact: true }).fill('127.0.0.1');
        await tp.getByLabel('Port', { exact: true }).fill(String(sc.smtpPort));
        await tp.getByLabel('TLS mode').selectOption('tls');
        await tp.getByLabel('Name to verify (optional)').fill('localhost');
        await tp.getByRole('button', { name: 'Probe', exact: true }).click();
        const verdict = page.locator('#probe-result p.ok, #probe-result p.bad');
        await verdict.first().waitFor();
        seen.probe_before = await page.locator('#probe-result').innerText();
        const rows = page.locator('#probe-result table.chain tbody tr');
        seen.probe_chain_rows = await rows.count();
        seen.probe_leaf_buttons = await rows.nth(0).getByRole('button').count();
        seen.probe_leaf_row = await rows.nth(0).innerText();
        const trust = rows.nth(sc.trustDepth).getByRole('button', { name: /^Trust this certificate/ });
        await trust.click();
        await rows.nth(sc.trustDepth).getByRole('button', { name: /^Trusted/ }).waitFor();
        await tp.getByRole('button', { name: 'Probe', exact: true }).click();
        await page.locator('#probe-result p.ok').waitFor();
        seen.probe_after = await page.locator('#probe-result').innerText();
        await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-probe.png'), fullPage: true });

        if (sc.deliveryApplet) {
            step('the Outbox page resends the dead message');
            await page.getByRole('button', { name: 'Outbox', exact: true }).click();
            await page.getByLabel('State', { exact: true }).selectOption('dead');
            await page.getByRole('button', { name: 'Show messages' }).click();
            const orow = page.locator('#outbox-rows tr[data-id]').first();
            await orow.waitFor();
            seen.outbox_dead_rows = await page.locator('#outbox-rows').innerText();
            const oid = await orow.getAttribute('data-id');
            seen.outbox_id = Number(oid);
            await page.getByRole('button', { name: 'Details of message ' + oid, exact: true }).click();
            const msg = page.getByRole('article', { name: 'Message ' + oid, exact: true });
            await msg.waitFor();
            await msg.locator('summary').first().click();
            seen.outbox_detail = await msg.innerText();
            await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-outbox.png'), fullPage: true });
            await msg.getByRole('button', { name: 'Resend message ' + oid, exact: true }).click();
            await page.locator('#status-outbox').filter({ hasText: 'again' }).waitFor();
            seen.resend_status = await page.locator('#status-outbox').innerText();
            seen.outbox_page_text = await page.locator('#page-outbox').innerText();

            step('status lines stay with their tab');
            await page.getByRole('button', { name: 'Applets', exact: true }).click();
            await page.locator('#applet-rows tr[data-name]').first().waitFor();
            seen.applets_visible_status = await visibleStatus(page);

            step('the run shows its mail delivered');
            await page.getByRole('button', { name: 'Runs', exact: true }).click();
            await page.getByLabel('Delivery', { exact: true }).selectOption('delivered');
            const drow = page.locator('#runs-rows tr[data-id="' + seen.delivery_run_id + '"]');
            for (let i = 0; i < 40 && !(await drow.count()); i++) {
                await page.getByRole('button', { name: 'Show runs' }).click();
                await sleep(500);
            }
            await drow.waitFor();
            seen.runs_delivered_row = await drow.innerText();
            await page.getByRole('button', { name: 'Open run ' + seen.delivery_run_id, exact: true }).click();
            const detail = page.locator('#run-detail');
            await detail.locator('dd .badge[data-delivery="delivered"]').waitFor();
            await detail.locator('summary').first().click();
            await detail.locator('pre.trace').first().waitFor();
            seen.run_delivered_detail = await detail.innerText();
            seen.run_delivered_dialogue = await detail.locator('pre.trace').first().innerText();
            seen.runs_page_text_delivered = await page.locator('#page-runs').innerText();
            await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-runs-delivered.png'), fullPage: true });
        }

        step('mail test shows the outcome class and the trace');
        await page.getByRole('button', { name: 'Mail test', exact: true }).click();
        const mf = page.locator('#page-mail');
        await mf.getByLabel('Host', { exact: true }).fill('127.0.0.1');
        await mf.getByLabel('Port', { exact: true }).fill(String(sc.closedPort));
        await mf.getByLabel('Security').selectOption('tls');
        await mf.getByLabel('From', { exact: true }).fill(sc.mailUser);
        await mf.getByLabel('To', { exact: true }).fill(sc.mailTo);
        await mf.getByRole('button', { name: 'Send test message' }).click();
        await page.locator('#mail-result .klass').waitFor();
        seen.mail_failed = await page.locator('#mail-result').innerText();
        await mf.getByLabel('Port', { exact: true }).fill(String(sc.smtpPort));
        await mf.getByLabel('Username', { exact: true }).fill(sc.mailUser);
        await mf.getByLabel('Password', { exact: true }).fill(sc.mailPassword);
        await mf.getByLabel('Name to verify (optional)').fill('localhost');
        await mf.getByRole('button', { name: 'Send test message' }).click();
        await page.locator('#mail-result p.ok, #mail-result p.bad').first().waitFor();
        seen.mail_sent = await page.locator('#mail-result').innerText();
        seen.mail_page_html = await page.locator('#mail-result').innerHTML();
        await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-mail.png'), fullPage: true });
    }

    step('import a configuration');
    await page.getByRole('button', { name: 'Config', exact: true }).click();
    await page.getByLabel('Configuration to import').fill(sc.configText);
    await page.getByRole('button', { name: 'Import configuration' }).click();
    const res = page.locator('#config-result');
    await res.filter({ hasText: 'Imported' }).waitFor();
    seen.config_result = await res.innerText();
    await page.locator('#config-running').filter({ hasText: 'event manager' }).waitFor();
    seen.running_config = await page.locator('#config-running').innerText();

    if (sc.credName)
        await credentials(page);

    if (sc.runApplet) {
        step('run an applet by hand');
        await page.getByRole('button', { name: 'Applets', exact: true }).click();
        await page.getByRole('button', { name: 'Run applet ' + sc.runApplet, exact: true }).click();
        await page.getByLabel('Arguments (space separated)').fill('one two');
        await page.getByRole('button', { name: 'Run now' }).click();
        const rr = page.locator('#run-result dl').first();
        await rr.waitFor({ timeout: 60000 });
        seen.run_result = await page.locator('#run-result').innerText();
    }

    step('layout fits 1024 px');
    seen.scroll_width = await page.evaluate(() => document.documentElement.scrollWidth);
    seen.url_at_end = page.url();
    await page.screenshot({ path: sc.screenshot, fullPage: true });

    seen.body_text_end = await page.evaluate(() => document.body.textContent);
    seen.body_html_end = await page.evaluate(() => document.body.innerHTML);

    step('unlabelled form controls');
    seen.unlabelled = await page.evaluate(() => {
        const out = [];
        for (const el of document.querySelectorAll('input, select, textarea')) {
            if (el.type === 'hidden')
                continue;
            const named = (el.labels && el.labels.length) || el.getAttribute('aria-label');
            if (!named)
                out.push(el.id || el.outerHTML.slice(0, 60));
        }
        return out;
    });
} catch (e) {
    failed = e;
    try {
        const page = ctx.pages()[0];
        seen.alerts_at_failure = await page.evaluate(() =>
            Array.from(document.querySelectorAll('[role=alert], [role=status]'))
                .map((el) => el.innerText.trim()).filter((t) => t));
        await page.screenshot({ path: sc.screenshot.replace(/\.png$/, '-failure.png'), fullPage: true });
    } catch (e2) {
        /* the page is gone: report the first error only */
    }
} finally {
    await ctx.close();
}
process.stdout.write(JSON.stringify(seen) + '\n');
if (failed) {
    process.stderr.write('FAILED at step "' + seen.steps[seen.steps.length - 1] +
        '": ' + (failed.stack || failed) + '\n' +
        'messages on the page: ' + JSON.stringify(seen.alerts_at_failure || []) + '\n');
    process.exit(1);
}
