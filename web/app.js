/* SPDX-License-Identifier: MIT */
/*
 * web/app.js: herald's console. Plain DOM code on the public REST API
 * (docs/api.md, openapi/openapi.yaml); no framework, no build step.
 *
 * The admin token lives in sessionStorage (gone when the tab closes) and is
 * sent only as "Authorization: Bearer"; it is never put in a URL. Everything
 * the server returns is inserted as text (textContent), never as HTML.
 * Secret values are never displayed: the API does not return them, and the
 * console shows "set" instead. Secrets typed into a form (a credential's
 * client secret or refresh token, a mail test's password) go only into the
 * JSON body of the request, never into localStorage or a URL; a
 * credential's secret inputs are emptied once it is saved, and every
 * password input at sign-out.
 */
'use strict';

(function () {
    const TOKEN_KEY = 'herald.token';
    const PAGES = ['environment', 'applets', 'runs', 'outbox', 'trustpoints', 'credentials', 'config', 'mail'];

    const $ = (id) => document.getElementById(id);

    /* h('tag', {attr: v, onclick: f}, child...) builds an element; children
     * are nodes or strings (inserted as text). */
    function h(tag, attrs, ...children) {
        const el = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (v === undefined || v === null || v === false)
                continue;
            if (k.startsWith('on') && typeof v === 'function')
                el.addEventListener(k.slice(2), v);
            else if (k === 'class')
                el.className = v;
            else if (k === 'text')
                el.textContent = v;
            else
                el.setAttribute(k, v === true ? '' : String(v));
        }
        for (const c of children.flat()) {
            if (c === undefined || c === null || c === false)
                continue;
            el.append(c instanceof Node ? c : document.createTextNode(String(c)));
        }
        return el;
    }

    function clear(el) {
        while (el.firstChild)
            el.removeChild(el.firstChild);
        return el;
    }

    function token() {
        return sessionStorage.getItem(TOKEN_KEY) || '';
    }

    /* A status line belongs to the tab that made it: setStatus(msg, page)
     * writes into that page's own line (shown only with the page); without
     * a page (sign in, sign out) into the line under the tabs, which a
     * change of tab clears. */
    function setStatus(msg, page) {
        const el = (page && $('status-' + page)) || $('status');
        el.textContent = msg || '';
    }

    /* Advice from the server names REST paths ("POST /api/v1/trustpoints/
     * import-chain"); the console says where its own buttons are instead.
     * Ordered: the first pattern that matches a place wins. The API's text
     * is unchanged; only what the console shows. */
    const SEG = '(?:\\{[a-z_]+\\}|[A-Za-z0-9_%-]+)';
    const CONSOLE_WORDS = [
        ['POST /api/v1/trustpoints/import-chain', () => 'Trustpoints tab \u2192 Probe \u2192 Trust'],
        ['PUT /api/v1/trustpoints/' + SEG + '/certificate', () => 'Trustpoints tab \u2192 Authenticate'],
        ['POST /api/v1/trustpoints/?(?![A-Za-z0-9_{-])', () => 'Trustpoints tab \u2192 Create trustpoint'],
        ['GET /api/v1/trustpoints(?:/' + SEG + ')?', () => 'Trustpoints tab'],
        ['PUT /api/v1/environment/(' + SEG + ')', (m, v) => 'Environment tab \u2192 Set variable' +
            (v && v[0] !== '{' ? ' ' + v : '')],
        ['(?:GET|DELETE) /api/v1/environment(?:/' + SEG + ')?', () => 'Environment tab'],
        ['POST /api/v1/outbox/' + SEG + '/resend', () => 'Outbox tab \u2192 Resend'],
        ['GET /api/v1/outbox(?:/' + SEG + ')?', () => 'Outbox tab'],
        ['GET /api/v1/runs(?:/' + SEG + ')?', () => 'Runs tab'],
        ['POST /api/v1/applets/' + SEG + '/run', () => 'Applets tab \u2192 Run'],
        ['PUT /api/v1/applets/' + SEG + '(?![/A-Za-z0-9_{])', () => 'Applets tab \u2192 Edit \u2192 Save applet'],
        ['POST /api/v1/applets(?![/A-Za-z0-9_])', () => 'Applets tab \u2192 Save applet'],
        ['POST /api/v1/probe', () => 'Trustpoints tab \u2192 Probe'],
        ['PUT /api/v1/credentials/(' + SEG + ')', (m, v) => 'Credentials tab \u2192 Save credential' +
            (v && v[0] !== '{' ? ' ' + v : '')],
        ['(?:GET|DELETE) /api/v1/credentials(?:/' + SEG + ')?', () => 'Credentials tab'],
        ['POST /api/v1/mail/test', () => 'Mail test tab'],
        ['POST /api/v1/config', () => 'Config tab \u2192 Import configuration'],
        ['GET /api/v1/config', () => 'Config tab \u2192 Show running-config'],
    ].map(([re, fn]) => [new RegExp(re, 'g'), fn]);

    function consoleWords(text) {
        if (text === undefined || text === null)
            return text;
        let s = String(text);
        for (const [re, fn] of CONSOLE_WORDS)
            s = s.replace(re, fn);
        return s;
    }

    /* ---- the API ------------------------------------------------------- */

    class ApiError extends Error {
        constructor(status, body) {
            const e = (body && body.error) || {};
            super(e.message || ('HTTP ' + status));
            this.status = status;
            this.code = e.code || '';
            this.field = e.field;
            this.line = e.line;
            this.column = e.column;
            this.body = body;
        }
    }

    /* Calls the API. opts: json (object body), text (text/plain body),
     * contentType. Resolves to {status, body} (body parsed when JSON, else
     * text); rejects with ApiError for a 4xx/5xx, after signing out on 401. */
    async function api(method, path, opts) {
        opts = opts || {};
        const headers = { Accept: 'application/json, text/plain' };
        const t = token();
        if (t)
            headers.Authorization = 'Bearer ' + t;
        let body;
        if (opts.json !== undefined) {
            headers['Content-Type'] = 'application/json';
            body = JSON.stringify(opts.json);
        } else if (opts.text !== undefined) {
            headers['Content-Type'] = opts.contentType || 'text/plain; charset=utf-8';
            body = opts.text;
        }
        let res;
        try {
            res = await fetch(path, { method, headers, body, cache: 'no-store',
                credentials: 'omit', referrerPolicy: 'no-referrer' });
        } catch (e) {
            throw new ApiError(0, { error: { code: 'network',
                message: 'herald did not answer: ' + e.message } });
        }
        const ct = res.headers.get('Content-Type') || '';
        let data = null;
        if (res.status !== 204) {
            const raw = await res.text();
            if (ct.includes('json')) {
                try { data = JSON.parse(raw); } catch (e) { data = raw; }
            } else {
                data = raw;
            }
        }
        if (res.status === 401 && path.startsWith('/api/')) {
            signOut('The token was refused. Enter the admin token again.');
            throw new ApiError(401, data);
        }
        if (res.status >= 400)
            throw new ApiError(res.status, data);
        return { status: res.status, body: data };
    }

    /* Shows an error in el: the message, plus the field or line/column. */
    function showError(el, err) {
        clear(el);
        if (!err)
            return;
        const where = [];
        if (err.field)
            where.push('field ' + err.field);
        const msg = String(err.message || '');
        if (err.line && !msg.startsWith('line ' + err.line))
            where.push('line ' + err.line + (err.column ? ', column ' + err.column : ''));
        el.append(h('p', {},
            h('strong', {}, 'Error' + (err.code ? ' (' + err.code + ')' : '') + ': '),
            msg,
            where.length ? h('span', { class: 'where' }, ' [' + where.join('; ') + ']') : null));
    }

    /* Runs fn, showing a thrown ApiError in errEl. */
    async function guarded(errEl, fn) {
        clear(errEl);
        try {
            return await fn();
        } catch (e) {
            if (e instanceof ApiError)
                showError(errEl, e);
            else
                showError(errEl, { message: String(e) });
            return undefined;
        }
    }

    function fmtTime(v) {
        if (v === undefined || v === null || v === '')
            return '';
        if (typeof v === 'number')
            return new Date(v * 1000).toISOString().replace('.000', '');
        return String(v);
    }

    /* ---- session and navigation --------------------------------------- */

    function signedIn() {
        return token() !== '';
    }

    function signOut(msg) {
        sessionStorage.removeItem(TOKEN_KEY);
        /* nothing typed into a secret field outlives the session */
        for (const el of document.querySelectorAll('input[type=password]'))
            el.value = '';
        render();
        setStatus(msg || 'Signed out.');
    }

    function currentPage() {
        const p = location.hash.replace(/^#/, '');
        return PAGES.includes(p) ? p : 'environment';
    }

    function render() {
        const on = signedIn();
        $('login-form').hidden = on;
        $('session').hidden = !on;
        $('tabs').hidden = !on;
        $('signed-out').hidden = on;
        const page = currentPage();
        for (const p of PAGES)
            $('page-' + p).hidden = !on || p !== page;
        for (const b of document.querySelectorAll('#tabs button')) {
            if (b.dataset.page === page)
                b.setAttribute('aria-current', 'page');
            else
                b.removeAttribute('aria-current');
        }
        if (page !== shownPage) {
            $('status').textContent = '';
            stopPolling();
            shownPage = page;
        }
        if (on)
            loadPage(page);
    }

    let shownPage = null;

    function loadPage(page) {
        if (page === 'environment')
            loadEnv();
        else if (page === 'applets')
            loadApplets();
        else if (page === 'trustpoints')
            loadTrustpoints();
        else if (page === 'config')
            loadConfig();
        else if (page === 'runs')
            loadRuns();
        else if (page === 'outbox')
            loadOutbox();
        else if (page === 'credentials')
            loadCredentials();
        else if (page === 'mail')
            loadMailCredentials();
    }

    /* ---- environment --------------------------------------------------- */

    async function loadEnv() {
        await guarded($('env-error'), async () => {
            const r = await api('GET', '/api/v1/environment');
            const rows = clear($('env-rows'));
            for (const v of r.body.items || []) {
                let shown;
                if (v.secret)
                    shown = h('em', {}, v.value_set ? 'set' : 'not set');
                else
                    shown = h('code', {}, v.value === undefined ? '' : v.value);
                rows.append(h('tr', { 'data-name': v.name },
                    h('td', {}, h('code', {}, v.name)),
                    h('td', {}, shown, v.masked ? h('span', { class: 'muted' }, ' (password masked)') : null),
                    h('td', {}, v.secret ? 'yes' : 'no'),
                    h('td', {}, fmtTime(v.updated)),
                    h('td', {}, h('button', { type: 'button', class: 'danger',
                        'aria-label': 'Delete variable ' + v.name,
                        onclick: () => deleteEnv(v.name) }, 'Delete'))));
            }
            if (!rows.firstChild)
                rows.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No variables yet.')));
        });
    }

    async function deleteEnv(name) {
        if (!confirm('Delete environment variable ' + name + '?'))
            return;
        await guarded($('env-error'), async () => {
            await api('DELETE', '/api/v1/environment/' + encodeURIComponent(name));
            setStatus('Deleted ' + name + '.', 'environment');
            await loadEnv();
        });
    }

    async function submitEnv(ev) {
        ev.preventDefault();
        const name = $('env-name').value.trim();
        const value = $('env-value').value;
        const secret = $('env-secret').checked;
        await guarded($('env-error'), async () => {
            const r = await api('PUT', '/api/v1/environment/' + encodeURIComponent(name),
                { json: { value, secret } });
            setStatus((r.status === 201 ? 'Created ' : 'Updated ') + name + '.', 'environment');
            $('env-value').value = '';
            $('env-secret').checked = false;
            await loadEnv();
        });
    }

    /* ---- applets ------------------------------------------------------- */

    let editing = null; /* name of the applet open in the editor, or null */

    function eventText(e) {
        if (!e || !e.type)
            return '';
        let s = e.type;
        if (e.type === 'timer' && e.timer)
            s += ' ' + e.timer;
        if (e.pattern)
            s += ' "' + e.pattern + '"';
        return s;
    }

    async function loadApplets() {
        await guarded($('applet-error'), async () => {
            const r = await api('GET', '/api/v1/applets');
            const rows = clear($('applet-rows'));
            for (const a of r.body.items || []) {
                rows.append(h('tr', { 'data-name': a.name },
                    h('td', {}, h('code', {}, a.name)),
                    h('td', {}, a.description || ''),
                    h('td', {}, (a.events || []).map(eventText).join(', ')),
                    h('td', {}, String(a.action_count)),
                    h('td', {}, fmtTime(a.updated)),
                    h('td', { class: 'ops' },
                        h('button', { type: 'button', 'aria-label': 'Edit applet ' + a.name,
                            onclick: () => openApplet(a.name) }, 'Edit'),
                        h('button', { type: 'button', 'aria-label': 'Run applet ' + a.name,
                            onclick: () => showRun(a.name) }, 'Run'),
                        h('button', { type: 'button', class: 'danger',
                            'aria-label': 'Delete applet ' + a.name,
                            onclick: () => deleteApplet(a.name) }, 'Delete'))));
            }
            if (!rows.firstChild)
                rows.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No applets yet.')));
        });
    }

    function setEditing(name) {
        editing = name;
        $('editor-mode').textContent = name ? '(editing ' + name + ')' : '(new applet)';
    }

    async function openApplet(name) {
        await guarded($('applet-error'), async () => {
            const r = await api('GET', '/api/v1/applets/' + encodeURIComponent(name));
            $('applet-text').value = r.body.text || '';
            setEditing(name);
            showAppletResult(r.body, 'Opened ' + name + '.');
            $('applet-text').focus();
        });
    }

    function showAppletResult(applet, headline) {
        const box = clear($('applet-result'));
        box.append(h('p', {}, headline));
        const w = applet.warnings || [];
        if (w.length) {
            box.append(h('h4', {}, 'Warnings'));
            box.append(h('ul', { class: 'warnings', 'aria-label': 'Applet warnings' },
                w.map((x) => h('li', {},
                    h('code', {}, x.code), ' ',
                    x.label ? 'action ' + x.label + ': ' : '',
                    consoleWords(x.message)))));
        } else {
            box.append(h('p', { class: 'muted' }, 'No warnings.'));
        }
    }

    /* Shows a parse error with the offending line of the editor text. */
    function showParseError(e) {
        showError($('applet-error'), e);
        if (!e.line)
            return;
        const lines = $('applet-text').value.split('\n');
        const src = lines[e.line - 1];
        if (src === undefined)
            return;
        const caret = e.column ? ' '.repeat(Math.max(0, e.column - 1)) + '^' : '';
        $('applet-error').append(h('pre', { class: 'code' },
            'line ' + e.line + ': ' + src + '\n' + ' '.repeat(('line ' + e.line + ': ').length) + caret));
        /* put the cursor on the line */
        let pos = 0;
        for (let i = 0; i < e.line - 1; i++)
            pos += lines[i].length + 1;
        pos += Math.max(0, (e.column || 1) - 1);
        $('applet-text').setSelectionRange(pos, pos);
    }

    async function saveApplet(ev) {
        ev.preventDefault();
        const text = $('applet-text').value;
        clear($('applet-error'));
        clear($('applet-result'));
        try {
            let r;
            if (editing)
                r = await api('PUT', '/api/v1/applets/' + encodeURIComponent(editing), { text });
            else
                r = await api('POST', '/api/v1/applets', { text });
            setEditing(r.body.name);
            showAppletResult(r.body, (r.status === 201 ? 'Created applet ' : 'Saved applet ') + r.body.name + '.');
            setStatus('Saved applet ' + r.body.name + '.', 'applets');
            await loadApplets();
        } catch (e) {
            if (e instanceof ApiError) {
                if (e.code === 'conflict')
                    e.message += ' Open it from the list to edit it.';
                showParseError(e);
            } else {
                showError($('applet-error'), { message: String(e) });
            }
        }
    }

    async function deleteApplet(name) {
        if (!confirm('Delete applet ' + name + '?'))
            return;
        await guarded($('applet-error'), async () => {
            await api('DELETE', '/api/v1/applets/' + encodeURIComponent(name));
            if (editing === name)
                setEditing(null);
            setStatus('Deleted applet ' + name + '.', 'applets');
            await loadApplets();
        });
    }

    let runName = null;

    function showRun(name) {
        runName = name;
        $('run-box').hidden = false;
        $('run-name').textContent = name;
        clear($('run-result'));
        $('run-args').focus();
    }

    async function submitRun(ev) {
        ev.preventDefault();
        if (!runName)
            return;
        const args = $('run-args').value.trim();
        const box = clear($('run-result'));
        box.append(h('p', {}, 'Running ' + runName + '...'));
        await guarded($('applet-error'), async () => {
            const r = await api('POST', '/api/v1/applets/' + encodeURIComponent(runName) + '/run',
                { json: { args: args ? args.split(/\s+/) : [], wait: true } });
            clear(box);
            if (r.status === 202) {
                box.append(h('p', {}, 'Queued as run ' + r.body.run_id + '.'));
                return;
            }
            renderRun(box, r.body);
            box.append(h('div', { class: 'row' }, h('button', { type: 'button',
                onclick: () => { openRunId = r.body.id; location.hash = 'runs'; } },
            'Follow run ' + r.body.id + ' in the Runs tab')));
        });
    }

    /* ---- delivery (runs and outbox) ------------------------------------ */

    /* A run's delivery as the user should read it first. "failed": dead, or
     * retried after a failure that will not heal by itself. */
    function deliveryBadge(delivery) {
        const map = {
            failed: ['bad', 'delivery failed'],
            pending: ['warn', 'mail pending'],
            delivered: ['ok', 'mail delivered'],
            none: ['', 'no mail'],
        };
        const [cls, text] = map[delivery] || ['', delivery ? 'delivery ' + delivery : 'no mail'];
        return h('span', { class: 'badge ' + cls, 'data-delivery': delivery || 'none' }, text);
    }

    /* One message's state (queued, sending, sent, retrying, dead). */
    function stateBadge(state, failed) {
        let cls = '';
        if (state === 'sent')
            cls = 'ok';
        else if (state === 'dead' || failed)
            cls = 'bad';
        else if (state === 'retrying' || state === 'queued' || state === 'sending')
            cls = 'warn';
        const text = state === 'dead' ? 'dead (not delivered)' : state;
        return h('span', { class: 'badge ' + cls, 'data-state': state }, text);
    }

    function renderError(le) {
        if (!le)
            return null;
        return h('dl', { class: 'kv result' },
            h('dt', {}, 'Class'), h('dd', {}, h('strong', { class: 'klass' }, le.klass || 'error'),
                le.permanent ? h('span', { class: 'muted' }, ' (will not heal by retrying)') : null),
            h('dt', {}, 'What happened'), h('dd', {}, le.message || ''),
            le.advice ? [h('dt', {}, 'What to do'), h('dd', { class: 'advice' }, consoleWords(le.advice))] : null,
            le.code ? [h('dt', {}, 'SMTP reply'), h('dd', {}, String(le.code))] : null);
    }

    /* The SMTP dialogue and TLS trace of an attempt, folded away. */
    function traceDetails(trace, summary, open) {
        if (!trace || (!trace.dialogue && !trace.tls))
            return null;
        const d = h('details', { class: 'trace-box', open: !!open },
            h('summary', {}, summary || 'SMTP dialogue and TLS'));
        if (trace.server)
            d.append(h('p', { class: 'muted' }, 'Server ' + trace.server +
                (trace.secure ? ' (' + trace.secure + ')' : '')));
        renderDeliveryTrace(d, trace);
        return d;
    }

    /* host and port of a masked server string "user:*****@host:port". */
    function serverOf(trace) {
        const s = trace && trace.server;
        if (!s)
            return null;
        const hp = s.slice(s.lastIndexOf('@') + 1);
        const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(hp);
        return m ? { host: m[1], port: m[2] ? Number(m[2]) : 587 } : null;
    }

    function probeServer(srv) {
        location.hash = 'trustpoints';
        $('probe-host').value = srv.host;
        $('probe-port').value = String(srv.port);
        $('probe-secure').value = srv.port === 465 ? 'implicit' : 'tls';
        $('probe-host').focus();
        setStatus('Probe ' + srv.host + ':' + srv.port + ' to see the chain it presents.', 'trustpoints');
    }

    /* One mail action's delivery in a run. */
    function renderMailDelivery(t) {
        const d = t.delivery;
        const card = h('section', { class: 'card delivery-card ' + (d.failed ? 'failed' : d.state),
            'aria-label': 'Delivery of action ' + t.label });
        card.append(h('h4', {}, 'Mail of action ' + t.label + ': ',
            stateBadge(d.state, d.failed), d.failed ? ' ' : null,
            d.failed ? h('span', { class: 'badge bad' }, 'delivery failed') : null));
        card.append(h('dl', { class: 'kv' },
            h('dt', {}, 'Outbox message'), h('dd', {}, String(d.outbox_id), ' ',
                h('button', { type: 'button', 'aria-label': 'Show message ' + d.outbox_id + ' in the outbox',
                    onclick: () => { location.hash = 'outbox'; openOutbox(d.outbox_id); } }, 'Show in outbox')),
            h('dt', {}, 'Attempts'), h('dd', {}, String(d.attempts))));
        if (d.last_error) {
            card.append(h('h5', {}, 'Last failure'));
            card.append(renderError(d.last_error));
            const srv = serverOf(d.trace);
            if (srv && /^(certificate_|hostname_mismatch|tls_)/.test(d.last_error.klass || ''))
                card.append(h('div', { class: 'row' }, h('button', { type: 'button',
                    onclick: () => probeServer(srv) }, 'Probe ' + srv.host + ':' + srv.port)));
        } else if (d.state === 'sent') {
            card.append(h('p', { class: 'ok' }, 'The server took the message.'));
        } else if (d.attempts === 0) {
            card.append(h('p', { class: 'muted' }, 'Queued; no attempt yet.'));
        }
        const td = traceDetails(d.trace, 'SMTP dialogue and TLS of the latest attempt');
        if (td)
            card.append(td);
        return card;
    }

    /* What the trace table says of an action: a mail action's "ok" only
     * means it was queued; its delivery says the rest. */
    function outcomeCell(t) {
        if (t.action === 'mail' && t.delivery) {
            const d = t.delivery;
            if (d.failed || d.state === 'dead')
                return h('td', {}, h('span', { class: 'badge bad' }, 'delivery failed'));
            if (d.state === 'sent')
                return h('td', {}, h('span', { class: 'badge ok' }, 'mail delivered'));
            return h('td', {}, h('span', { class: 'badge warn' }, 'mail ' + d.state));
        }
        return h('td', {}, t.outcome || '');
    }

    function renderRun(box, run) {
        box.append(h('dl', { class: 'kv' },
            h('dt', {}, 'Run'), h('dd', {}, String(run.id)),
            run.applet ? [h('dt', {}, 'Applet'), h('dd', {}, run.applet)] : null,
            run.trigger ? [h('dt', {}, 'Trigger'), h('dd', {}, run.trigger)] : null,
            h('dt', {}, 'Status'), h('dd', { class: 'status-' + run.status }, run.status),
            h('dt', {}, 'Delivery'), h('dd', {}, deliveryBadge(run.delivery)),
            run.queued ? [h('dt', {}, 'Queued'), h('dd', {}, fmtTime(run.queued))] : null,
            run.failed_label ? [h('dt', {}, 'Failed action'), h('dd', {}, run.failed_label)] : null,
            run.error_class ? [h('dt', {}, 'Class'), h('dd', {}, run.error_class)] : null,
            run.error ? [h('dt', {}, 'Error'), h('dd', {}, run.error)] : null));
        if (run.note)
            box.append(h('p', { class: 'advice' }, consoleWords(run.note)));
        if (run.output)
            box.append(h('h4', {}, 'Output'), h('pre', { class: 'code' }, run.output));
        if (Array.isArray(run.trace) && run.trace.length) {
            box.append(h('h4', {}, 'Actions'));
            box.append(h('table', { class: 'list' },
                h('thead', {}, h('tr', {}, ['Label', 'Action', 'Outcome', 'ms', 'Error'].map(
                    (c) => h('th', { scope: 'col' }, c)))),
                h('tbody', {}, run.trace.map((t) => h('tr', {},
                    h('td', {}, t.label), h('td', {}, t.action), outcomeCell(t),
                    h('td', {}, t.ms === undefined ? '' : String(t.ms)), h('td', {}, t.error || ''))))));
            for (const t of run.trace) {
                if (t.delivery)
                    box.append(renderMailDelivery(t));
                else if (t.smtp && (t.smtp.dialogue || t.smtp.tls))
                    renderDeliveryTrace(box, t.smtp);
            }
        }
    }

    /* The Runs and Outbox pages follow pending mail by themselves. */
    let pollTimer = null;

    function stopPolling() {
        if (pollTimer)
            clearTimeout(pollTimer);
        pollTimer = null;
    }

    function pollSoon(page, fn) {
        stopPolling();
        pollTimer = setTimeout(() => {
            pollTimer = null;
            if (signedIn() && currentPage() === page)
                fn();
        }, 2000);
    }

    let openRunId = null;

    async function loadRunApplets() {
        const sel = $('runs-applet');
        try {
            const r = await api('GET', '/api/v1/applets');
            const keep = sel.value;
            const names = (r.body.items || []).map((a) => a.name);
            clear(sel).append(h('option', { value: '' }, 'any'));
            for (const n of names)
                sel.append(h('option', { value: n }, n));
            if (keep && !names.includes(keep))
                sel.append(h('option', { value: keep }, keep));
            sel.value = keep;
        } catch (e) {
            /* the filter still works on "any" */
        }
    }

    async function loadRuns(quiet) {
        if (!quiet)
            await loadRunApplets();
        const q = new URLSearchParams();
        for (const [k, id] of [['applet', 'runs-applet'], ['status', 'runs-status'], ['delivery', 'runs-delivery']])
            if ($(id).value)
                q.set(k, $(id).value);
        const qs = q.toString();
        let pending = false;
        await guarded($('runs-error'), async () => {
            const r = await api('GET', '/api/v1/runs' + (qs ? '?' + qs : ''));
            const rows = clear($('runs-rows'));
            for (const run of r.body.items || []) {
                if (run.delivery === 'pending' || run.status === 'queued' || run.status === 'running')
                    pending = true;
                const cls = [run.delivery === 'failed' ? 'failed' : '',
                    run.id === openRunId ? 'selected' : ''].join(' ').trim();
                rows.append(h('tr', { 'data-id': run.id, class: cls || null },
                    h('td', {}, String(run.id)),
                    h('td', {}, h('code', {}, run.applet)),
                    h('td', {}, run.trigger || ''),
                    h('td', { class: 'status-' + run.status }, run.status),
                    h('td', {}, deliveryBadge(run.delivery)),
                    h('td', {}, fmtTime(run.queued)),
                    h('td', { class: 'ops' }, h('button', { type: 'button',
                        'aria-label': 'Open run ' + run.id, onclick: () => openRun(run.id) }, 'Open'))));
            }
            if (!rows.firstChild)
                rows.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' },
                    qs ? 'No runs match.' : 'No runs yet.')));
        });
        if (openRunId !== null)
            pending = (await openRun(openRunId, true)) || pending;
        if (pending)
            pollSoon('runs', () => loadRuns(true));
    }

    /* Shows one run; resolves true while its mail is still pending. */
    async function openRun(id, quiet) {
        openRunId = id;
        let pending = false;
        await guarded($('runs-error'), async () => {
            const r = await api('GET', '/api/v1/runs/' + encodeURIComponent(id));
            const run = r.body;
            pending = run.delivery === 'pending';
            for (const tr of $('runs-rows').querySelectorAll('tr[data-id]'))
                tr.classList.toggle('selected', Number(tr.dataset.id) === run.id);
            const box = clear($('run-detail'));
            box.append(h('h3', {}, 'Run ' + run.id + ' of ' + run.applet));
            renderRun(box, run);
            if (!quiet) {
                setStatus('Opened run ' + run.id + '.', 'runs');
                if (pending)
                    pollSoon('runs', () => loadRuns(true));
            }
        });
        return pending;
    }

    /* ---- outbox -------------------------------------------------------- */

    let openOutboxId = null;

    function canResend(m) {
        return m.state === 'dead' || m.state === 'queued';
    }

    function resendButton(m, errBox) {
        if (!canResend(m))
            return null;
        return h('button', { type: 'button', 'aria-label': 'Resend message ' + m.id,
            onclick: () => resend(m.id, errBox) }, 'Resend');
    }

    async function loadOutbox(quiet) {
        const want = $('outbox-state').value;
        const serverState = want === 'retrying' ? 'queued' : want;
        let pending = false;
        await guarded($('outbox-error'), async () => {
            const r = await api('GET', '/api/v1/outbox' +
                (serverState ? '?state=' + encodeURIComponent(serverState) : ''));
            let items = r.body.items || [];
            if (want === 'retrying')
                items = items.filter((m) => m.attempts > 0);
            const rows = clear($('outbox-rows'));
            for (const m of items) {
                if (m.state === 'queued' || m.state === 'sending')
                    pending = true;
                const retrying = m.state === 'queued' && m.attempts > 0;
                const le = m.last_error;
                rows.append(h('tr', { 'data-id': m.id,
                    class: [m.state === 'dead' ? 'failed' : '', m.id === openOutboxId ? 'selected' : '']
                        .join(' ').trim() || null },
                    h('td', {}, String(m.id)),
                    h('td', {}, stateBadge(retrying ? 'retrying' : m.state, m.state === 'dead')),
                    h('td', {}, m.run_id ? 'run ' + m.run_id : '', m.applet ? h('br') : null,
                        m.applet ? h('code', {}, m.applet) : null),
                    h('td', {}, m.to || '', h('br'), h('small', { class: 'muted' }, m.subject || '')),
                    h('td', {}, String(m.attempts)),
                    h('td', {}, le ? [h('strong', { class: 'klass' }, le.klass), h('br'),
                        h('small', {}, le.message || '')] : ''),
                    h('td', { class: 'ops' },
                        h('button', { type: 'button', 'aria-label': 'Details of message ' + m.id,
                            onclick: () => openOutbox(m.id) }, 'Details'),
                        resendButton(m, $('outbox-error')))));
            }
            if (!rows.firstChild)
                rows.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' },
                    want ? 'No messages in this state.' : 'The outbox is empty.')));
        });
        if (openOutboxId !== null && quiet)
            await openOutbox(openOutboxId, true);
        if (pending)
            pollSoon('outbox', () => loadOutbox(true));
    }

    async function openOutbox(id, quiet) {
        openOutboxId = id;
        await guarded($('outbox-error'), async () => {
            const r = await api('GET', '/api/v1/outbox/' + encodeURIComponent(id));
            const m = r.body;
            for (const tr of $('outbox-rows').querySelectorAll('tr[data-id]'))
                tr.classList.toggle('selected', Number(tr.dataset.id) === m.id);
            const box = clear($('outbox-detail'));
            const errBox = h('div', { class: 'error', role: 'alert' });
            const card = h('article', { class: 'card delivery-card ' + (m.failed ? 'failed' : m.state),
                'aria-label': 'Message ' + m.id },
                h('h3', {}, 'Message ' + m.id + ' ', stateBadge(m.state, m.failed)),
                h('dl', { class: 'kv' },
                    m.run_id ? [h('dt', {}, 'Run'), h('dd', {}, String(m.run_id) + (m.applet ? ' (' + m.applet + ')' : ''))] : null,
                    m.server ? [h('dt', {}, 'Server'), h('dd', {}, h('code', {}, m.server),
                        m.port ? ' port ' + m.port : '')] : null,
                    h('dt', {}, 'From'), h('dd', {}, m.from || ''),
                    h('dt', {}, 'To'), h('dd', {}, m.to || '', m.cc ? ' (cc ' + m.cc + ')' : ''),
                    h('dt', {}, 'Subject'), h('dd', {}, m.subject || ''),
                    h('dt', {}, 'Created'), h('dd', {}, fmtTime(m.created)),
                    m.next_attempt && m.state !== 'dead' && m.state !== 'sent'
                        ? [h('dt', {}, 'Next attempt'), h('dd', {}, fmtTime(m.next_attempt))] : null,
                    m.expires && m.state !== 'sent' ? [h('dt', {}, 'Gives up'), h('dd', {}, fmtTime(m.expires))] : null,
                    m.sent ? [h('dt', {}, 'Sent'), h('dd', {}, fmtTime(m.sent))] : null,
                    h('dt', {}, 'Attempts'), h('dd', {}, String(m.attempt_count))),
                h('div', { class: 'row' }, resendButton(m, errBox)),
                errBox);
            const atts = m.attempts || [];
            if (atts.length) {
                card.append(h('h4', {}, 'Attempts' + (m.attempt_count > atts.length
                    ? ' (the first and the last ' + (atts.length - 1) + ' of ' + m.attempt_count + ')' : '')));
                card.append(h('ol', { class: 'attempts', 'aria-label': 'Attempts of message ' + m.id },
                    atts.map((a) => h('li', { value: a.n, 'data-n': a.n },
                        h('p', {}, h('strong', {}, 'Attempt ' + a.n), ' ', fmtTime(a.at), ' ',
                            a.ok ? h('span', { class: 'badge ok' }, 'sent')
                                : h('span', { class: 'badge bad' }, a.result.klass || 'failed')),
                        a.ok ? h('p', { class: 'muted' }, a.result.message || '')
                            : renderError(a.result),
                        traceDetails(a.trace, 'SMTP dialogue and TLS of attempt ' + a.n)))));
            } else {
                card.append(h('p', { class: 'muted' }, 'No attempt yet.'));
            }
            box.append(card);
            if (!quiet)
                setStatus('Opened message ' + m.id + '.', 'outbox');
        });
    }

    async function resend(id, errBox) {
        const box = errBox || $('outbox-error');
        await guarded(box, async () => {
            const r = await api('POST', '/api/v1/outbox/' + encodeURIComponent(id) + '/resend');
            const a = r.body || {};
            let msg = 'Message ' + a.id + ' is ' + a.state + ' again.';
            if (a.credentials === 'environment')
                msg += ' Its password was taken again from the environment.';
            else if (a.credentials === 'kept')
                msg += ' It kept its credentials.';
            if (a.note)
                msg += ' (' + consoleWords(a.note) + ')';
            setStatus(msg, 'outbox');
            openOutboxId = id;
            await loadOutbox(true);
        });
    }

    /* ---- trustpoints --------------------------------------------------- */

    function fp(label, v) {
        return v ? [h('dt', {}, label), h('dd', {}, h('code', { class: 'fp' }, v))] : null;
    }

    function renderCert(c) {
        const f = c.fingerprints || {};
        const pk = c.public_key || {};
        return h('dl', { class: 'kv' },
            h('dt', {}, 'Subject'), h('dd', {}, c.subject || ''),
            h('dt', {}, 'Issuer'), h('dd', {}, c.issuer || ''),
            h('dt', {}, 'Serial'), h('dd', {}, h('code', {}, c.serial || '')),
            h('dt', {}, 'Valid'), h('dd', {}, (c.not_before || '?') + ' to ' + (c.not_after || '?')),
            c.status ? [h('dt', {}, 'Status'), h('dd', {}, c.status)] : null,
            h('dt', {}, 'Key'), h('dd', {}, (pk.algorithm || '') + (pk.bits ? ' ' + pk.bits + ' bits' : '')),
            h('dt', {}, 'Signature'), h('dd', {}, c.signature_algorithm || ''),
            h('dt', {}, 'CA'), h('dd', {}, c.basic_constraints && c.basic_constraints.ca ? 'yes' : 'no'),
            c.self_signed !== undefined ? [h('dt', {}, 'Self-signed'), h('dd', {}, c.self_signed ? 'yes' : 'no')] : null,
            fp('SHA-256', f.sha256), fp('SHA-1', f.sha1), fp('MD5', f.md5),
            (c.subject_alt_names || []).length
                ? [h('dt', {}, 'Alt names'), h('dd', {}, c.subject_alt_names.join(', '))] : null,
            (c.key_usage || []).length
                ? [h('dt', {}, 'Key usage'), h('dd', {}, c.key_usage.join(', '))] : null);
    }

    function renderWarnings(list, label) {
        if (!list || !list.length)
            return null;
        return h('ul', { class: 'warnings', 'aria-label': label },
            list.map((w) => h('li', {}, h('code', {}, w.code || 'warning'), ' ', consoleWords(w.message))));
    }

    function renderTrustpoint(tp) {
        const pemId = 'tp-pem-' + tp.name.replace(/[^A-Za-z0-9_-]/g, '_');
        const errBox = h('div', { class: 'error', role: 'alert' });
        const ta = h('textarea', { id: pemId, rows: 5, spellcheck: 'false',
            placeholder: '-----BEGIN CERTIFICATE-----' });
        return h('article', { class: 'card', 'data-name': tp.name, 'aria-label': 'Trustpoint ' + tp.name },
            h('h3', {}, tp.name),
            h('p', { class: 'muted' },
                'chain-validation ' + tp.chain_validation + ' · revocation-check ' + tp.revocation_check +
                ' · enrollment ' + tp.enrollment),
            tp.certificate ? renderCert(tp.certificate) : h('p', {}, h('em', {}, 'No certificate yet (not authenticated).')),
            renderWarnings(tp.warnings, 'Warnings for ' + tp.name),
            h('form', { class: 'paste', onsubmit: async (ev) => {
                ev.preventDefault();
                await guarded(errBox, async () => {
                    await api('PUT', '/api/v1/trustpoints/' + encodeURIComponent(tp.name) + '/certificate',
                        { text: ta.value, contentType: 'application/x-pem-file' });
                    setStatus('Certificate installed in ' + tp.name + '.', 'trustpoints');
                    await loadTrustpoints();
                });
            } },
            h('label', { for: pemId }, 'Paste certificate for ' + tp.name + ' (PEM)'),
            ta,
            h('div', { class: 'row' },
                h('button', { type: 'submit' }, 'Authenticate ' + tp.name),
                h('button', { type: 'button', class: 'danger', onclick: () => deleteTrustpoint(tp.name) },
                    'Delete ' + tp.name))),
            errBox);
    }

    async function loadTrustpoints() {
        await guarded($('tp-error'), async () => {
            const r = await api('GET', '/api/v1/trustpoints');
            const list = clear($('tp-list'));
            for (const tp of r.body.items || [])
                list.append(renderTrustpoint(tp));
            if (!list.firstChild)
                list.append(h('p', { class: 'muted' }, 'No trustpoints yet.'));
        });
    }

    async function deleteTrustpoint(name) {
        if (!confirm('Delete trustpoint ' + name + '?'))
            return;
        await guarded($('tp-error'), async () => {
            await api('DELETE', '/api/v1/trustpoints/' + encodeURIComponent(name));
            setStatus('Deleted trustpoint ' + name + '.', 'trustpoints');
            await loadTrustpoints();
        });
    }

    async function submitTrustpoint(ev) {
        ev.preventDefault();
        const body = {
            name: $('tp-name').value.trim(),
            chain_validation: $('tp-chain').value,
            revocation_check: $('tp-revocation').value,
            enrollment: 'terminal',
        };
        const pem = $('tp-pem').value.trim();
        if (pem)
            body.certificate = pem;
        await guarded($('tp-error'), async () => {
            await api('POST', '/api/v1/trustpoints', { json: body });
            setStatus('Created trustpoint ' + body.name + '.', 'trustpoints');
            $('tp-name').value = '';
            $('tp-pem').value = '';
            await loadTrustpoints();
        });
    }

    async function trustCert(cert, btn, resultBox) {
        const chain_validation = cert.self_signed ? 'continue' : 'stop';
        await guarded(resultBox, async () => {
            const r = await api('POST', '/api/v1/trustpoints/import-chain', { json: {
                certificates: [{ pem: cert.pem, sha256: cert.sha256 }], chain_validation } });
            const names = (r.body.items || []).map((t) => t.name).join(', ');
            btn.disabled = true;
            btn.textContent = 'Trusted (' + names + ')';
            btn.setAttribute('aria-label', 'Trusted as ' + names + ': ' + cert.subject);
            setStatus('Created trustpoint ' + names + '. Probe again to check the chain.', 'trustpoints');
            await loadTrustpoints();
        });
    }

    function renderTls(box, tls) {
        if (!tls)
            return;
        box.append(h('dl', { class: 'kv' },
            tls.tls_version ? [h('dt', {}, 'TLS'), h('dd', {}, tls.tls_version + (tls.cipher ? ' ' + tls.cipher : ''))] : null,
            tls.anchor && tls.anchor.trustpoint
                ? [h('dt', {}, 'Anchored by'), h('dd', {}, tls.anchor.trustpoint)] : null,
            tls.missing_issuer ? [h('dt', {}, 'Missing issuer'), h('dd', {}, tls.missing_issuer)] : null,
            tls.hostname && tls.hostname.checked
                ? [h('dt', {}, 'Host name'), h('dd', {}, tls.hostname.checked + ': ' + (tls.hostname.result || ''))] : null));
    }

    /* Chain indexes herald suggests trusting (trace "fix"). */
    function suggested(tls) {
        const c = tls && tls.fix && tls.fix.trustpoint_candidates;
        return new Set(Array.isArray(c) ? c.map((x) => x.chain_index) : []);
    }

    function renderChain(box, chain, withTrust, suggest) {
        if (!Array.isArray(chain) || !chain.length)
            return;
        suggest = suggest || new Set();
        box.append(h('h4', {}, 'Certificates presented'));
        const tbody = h('tbody');
        for (const c of chain) {
            const errBox = h('div', { class: 'error', role: 'alert' });
            let trust = null;
            /* The server's own (end-entity) certificate is no anchor: it
             * changes at every renewal. It is offered only when it is all
             * the server sent and signed itself, and then with a warning
             * before the click does anything. */
            const leaf = !c.ca && (c.depth === 0 || c.depth === undefined);
            const lone = leaf && c.self_signed && chain.length === 1;
            if (withTrust && c.pem && leaf && !lone) {
                trust = h('small', { class: 'muted leaf-note' },
                    'the server\u2019s own certificate: not an anchor (it changes at every renewal); trust a CA above it');
            } else if (withTrust && c.pem) {
                const btn = h('button', { type: 'button',
                    'aria-label': 'Trust this certificate: ' + c.subject });
                btn.textContent = 'Trust this certificate';
                btn.addEventListener('click', () => {
                    if (lone && !confirm('This is the server\u2019s own self-signed certificate, not a CA. ' +
                        'Trusting it pins this one certificate: mail to this server fails again when it is renewed. ' +
                        'Trust it anyway?'))
                        return;
                    trustCert(c, btn, errBox);
                });
                trust = [btn, suggest.has(c.depth)
                    ? h('small', { class: 'advice' }, ' suggested anchor') : null,
                lone ? h('small', { class: 'advice' }, ' self-signed server certificate: pins this certificate only') : null,
                errBox];
            }
            tbody.append(h('tr', {},
                h('td', {}, String(c.depth)),
                h('td', {}, c.subject, h('br'), h('small', { class: 'muted' }, 'issuer: ' + c.issuer)),
                h('td', {}, (c.not_before || '') + ' to ' + (c.not_after || '')),
                h('td', {}, (c.ca ? 'CA' : 'end entity') + (c.self_signed ? ', self-signed' : '')),
                h('td', {}, h('code', { class: 'fp' }, c.sha256 || '')),
                withTrust ? h('td', {}, trust) : null));
        }
        box.append(h('table', { class: 'list chain' },
            h('thead', {}, h('tr', {}, ['Depth', 'Subject', 'Validity', 'Kind', 'SHA-256']
                .concat(withTrust ? ['Trust'] : []).map((c) => h('th', { scope: 'col' }, c)))),
            tbody));
    }

    async function submitProbe(ev) {
        ev.preventDefault();
        const body = {
            host: $('probe-host').value.trim(),
            port: Number($('probe-port').value) || 587,
            secure: $('probe-secure').value,
        };
        const tn = $('probe-tlsname').value.trim();
        if (tn)
            body.tls_name = tn;
        const box = clear($('probe-result'));
        box.append(h('p', {}, 'Probing ' + body.host + ':' + body.port + '...'));
        const err = $('probe-error');
        clear(err);
        try {
            const r = await api('POST', '/api/v1/probe', { json: body });
            clear(box);
            const rep = r.body;
            const v = rep.verdict || {};
            box.append(h('p', { class: v.ok ? 'ok' : 'bad' },
                h('strong', {}, v.ok ? 'Trusted' : 'Not trusted' + (v.code ? ' (' + v.code + ')' : '')),
                v.message ? ': ' + v.message : ''));
            if (v.advice)
                box.append(h('p', { class: 'advice' }, consoleWords(v.advice)));
            box.append(h('p', { class: 'muted' }, 'Server speaks ' + (rep.speaks || '?') +
                ((rep.capabilities || []).length ? '; offers ' + rep.capabilities.join(' ') : '')));
            renderTls(box, rep.tls);
            renderChain(box, rep.tls && rep.tls.chain, true, suggested(rep.tls));
        } catch (e) {
            clear(box);
            if (!(e instanceof ApiError)) {
                showError(err, { message: String(e) });
                return;
            }
            showError(err, e);
            const res = e.body && e.body.result;
            if (res)
                renderResult(box, res);
        }
    }

    /* ---- credentials --------------------------------------------------- */

    /* The editor's inputs by the API's field names: an error answer names
     * the field (error.field), and its message goes next to that input. */
    const CRED_FIELDS = {
        name: 'cred-name', grant: 'cred-grant', token_url: 'cred-token-url',
        client_id: 'cred-client-id', client_secret: 'cred-client-secret',
        refresh_token: 'cred-refresh-token', scope: 'cred-scope', mechanism: 'cred-mechanism',
    };
    /* The write-only fields: what the editor says of each. */
    const CRED_SECRETS = {
        client_secret: { input: 'cred-client-secret', what: 'client secret',
            needed: 'required for the client credentials grant' },
        refresh_token: { input: 'cred-refresh-token', what: 'refresh token',
            needed: 'required for the refresh token grant' },
    };
    let credEditing = null; /* name of the credential open in the editor, or null */
    let credNames = []; /* the names listed last */

    function mechName(m) {
        return m === 'oauthbearer' ? 'OAUTHBEARER' : m === 'xoauth2' ? 'XOAUTH2' : String(m || '');
    }

    function fieldLabel(id) {
        const l = document.querySelector('label[for="' + id + '"]');
        return l ? l.textContent.trim() : id;
    }

    function clearCredErrors() {
        clear($('cred-error'));
        for (const [f, id] of Object.entries(CRED_FIELDS)) {
            clear($('cred-' + f + '-error'));
            $(id).removeAttribute('aria-invalid');
        }
    }

    /* An error answer: next to the field it names (marked invalid and
     * focused), with a pointer to it above; else above the list. */
    function showCredError(e) {
        const id = e.field && CRED_FIELDS[e.field];
        if (!id) {
            showError($('cred-error'), e);
            return;
        }
        $('cred-' + e.field + '-error').append(h('strong', {},
            e.code === 'missing_field' ? 'Required: ' : 'Not accepted: '), String(e.message || ''));
        $(id).setAttribute('aria-invalid', 'true');
        $('cred-error').append(h('p', {}, h('strong', {}, 'Not saved: '),
            fieldLabel(id) + (e.code === 'missing_field' ? ' is required' : ' was not accepted') +
            '; see the message next to it.'));
        $(id).focus();
    }

    /* A write-only field in the editor: always empty; says whether herald
     * holds one, and offers to remove a stored one. */
    function setSecretState(field, stored) {
        const s = CRED_SECRETS[field];
        const input = $(s.input);
        input.value = '';
        input.disabled = false;
        input.placeholder = stored ? 'stored (leave empty to keep it)' : '';
        $(s.input + '-remove').checked = false;
        $(s.input + '-remove-box').hidden = !stored;
        $('cred-' + field + '-state').textContent = stored
            ? 'A ' + s.what + ' is stored. Leave this empty to keep it, or type a new one to replace it.'
            : 'None stored; ' + s.needed + '.';
    }

    /* Opens rec (as GET shows it: no secrets) in the editor, or a new one. */
    function setCredEditing(rec) {
        credEditing = rec ? rec.name : null;
        $('cred-mode').textContent = rec ? '(editing ' + rec.name + ')' : '(new credential)';
        $('cred-name').value = rec ? rec.name : '';
        $('cred-name').readOnly = !!rec;
        $('cred-grant').value = rec ? rec.grant : 'client_credentials';
        $('cred-token-url').value = rec ? rec.token_url : '';
        $('cred-client-id').value = rec ? rec.client_id : '';
        $('cred-scope').value = rec && rec.scope ? rec.scope : '';
        $('cred-mechanism').value = rec ? rec.mechanism : 'xoauth2';
        setSecretState('client_secret', !!(rec && rec.client_secret_set));
        setSecretState('refresh_token', !!(rec && rec.refresh_token_set));
        clearCredErrors();
        for (const tr of document.querySelectorAll('#cred-rows tr[data-name]'))
            tr.classList.toggle('selected', tr.dataset.name === credEditing);
    }

    function setCell(set) {
        return h('td', {}, h('em', {}, set ? 'set' : 'not set'));
    }

    async function loadCredentials() {
        await guarded($('cred-error'), async () => {
            const r = await api('GET', '/api/v1/credentials');
            const items = r.body.items || [];
            credNames = items.map((c) => c.name);
            const rows = clear($('cred-rows'));
            for (const c of items) {
                rows.append(h('tr', { 'data-name': c.name, class: c.name === credEditing ? 'selected' : null },
                    h('td', {}, h('code', {}, c.name)),
                    h('td', {}, c.grant === 'refresh_token' ? 'refresh token' : 'client credentials'),
                    h('td', { class: 'wrap' }, h('code', {}, c.token_url),
                        c.scope ? [h('br'), h('small', { class: 'muted' }, 'scope: ' + c.scope)] : null),
                    h('td', { class: 'wrap' }, c.client_id),
                    h('td', {}, mechName(c.mechanism)),
                    setCell(c.client_secret_set),
                    setCell(c.refresh_token_set),
                    h('td', { class: 'ops' },
                        h('button', { type: 'button', 'aria-label': 'Edit credential ' + c.name,
                            onclick: () => openCredential(c.name) }, 'Edit'),
                        h('button', { type: 'button', class: 'danger',
                            'aria-label': 'Delete credential ' + c.name,
                            onclick: () => deleteCredential(c.name) }, 'Delete'))));
            }
            if (!rows.firstChild)
                rows.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No credentials yet.')));
        });
    }

    async function openCredential(name) {
        await guarded($('cred-error'), async () => {
            const r = await api('GET', '/api/v1/credentials/' + encodeURIComponent(name));
            setCredEditing(r.body);
            setStatus('Opened credential ' + name + '.', 'credentials');
            $('cred-token-url').focus();
        });
    }

    async function saveCredential(ev) {
        ev.preventDefault();
        clearCredErrors();
        setStatus('', 'credentials'); /* an earlier "Updated" must not stand next to an error */
        const name = credEditing || $('cred-name').value.trim();
        if (!name) {
            showCredError({ field: 'name', code: 'missing_field',
                message: 'give the credential a name (letters, digits and _, not starting with a digit)' });
            return;
        }
        if (!credEditing && credNames.includes(name) &&
            !confirm('Credential ' + name + ' exists. Replace it? Secrets left empty keep the stored ones.'))
            return;
        const body = {
            type: 'oauth2',
            grant: $('cred-grant').value,
            token_url: $('cred-token-url').value.trim(),
            client_id: $('cred-client-id').value.trim(),
            scope: $('cred-scope').value.trim(),
            mechanism: $('cred-mechanism').value,
        };
        /* The API's rule for a replace: a secret left out keeps the stored
         * one, "" removes it. An empty input means "keep"; only the remove
         * box sends "". The console never sends the mask "*****". */
        for (const [field, s] of Object.entries(CRED_SECRETS)) {
            const v = $(s.input).value;
            if (v !== '')
                body[field] = v;
            else if ($(s.input + '-remove').checked)
                body[field] = '';
        }
        try {
            const r = await api('PUT', '/api/v1/credentials/' + encodeURIComponent(name), { json: body });
            setCredEditing(r.body); /* empties the secret inputs */
            setStatus((r.status === 201 ? 'Created credential ' : 'Updated credential ') + name + '.', 'credentials');
            await loadCredentials();
        } catch (e) {
            if (e instanceof ApiError)
                showCredError(e);
            else
                showError($('cred-error'), { message: String(e) });
        }
    }

    async function deleteCredential(name) {
        if (!confirm('Delete credential ' + name + '?'))
            return;
        clear($('cred-error'));
        try {
            await api('DELETE', '/api/v1/credentials/' + encodeURIComponent(name));
            if (credEditing === name)
                setCredEditing(null);
            setStatus('Deleted credential ' + name + '.', 'credentials');
            await loadCredentials();
        } catch (e) {
            if (!(e instanceof ApiError)) {
                showError($('cred-error'), { message: String(e) });
                return;
            }
            if (e.status !== 409) {
                showError($('cred-error'), e);
                return;
            }
            /* in use: say so plainly, and lead to the applet */
            setStatus('Credential ' + name + ' was not deleted.', 'credentials');
            const m = /\bapplet ([A-Za-z_][A-Za-z0-9_]*)/.exec(e.message || '');
            $('cred-error').append(h('p', { class: 'conflict' },
                h('strong', {}, 'Not deleted, in use: '), consoleWords(e.message)),
            m ? h('div', { class: 'row' }, h('button', { type: 'button',
                onclick: () => { location.hash = 'applets'; openApplet(m[1]); } },
            'Open applet ' + m[1] + ' in the Applets tab')) : null);
        }
    }

    /* The mail test's credential list. */
    async function loadMailCredentials() {
        const sel = $('mail-credential');
        const keep = sel.value;
        try {
            const r = await api('GET', '/api/v1/credentials');
            clear(sel);
            sel.append(h('option', { value: '' }, 'none (password login)'));
            for (const c of r.body.items || [])
                sel.append(h('option', { value: c.name }, c.name + ' (' + mechName(c.mechanism) + ')'));
            sel.value = (r.body.items || []).some((c) => c.name === keep) ? keep : '';
        } catch (e) {
            if (e instanceof ApiError && e.status !== 401)
                showError($('mail-error'), e);
        }
        mailCredentialChanged();
    }

    /* With a credential the access token replaces the password. */
    function mailCredentialChanged() {
        const on = $('mail-credential').value !== '';
        $('mail-password').disabled = on;
        if (on)
            $('mail-password').value = '';
    }

    /* ---- config -------------------------------------------------------- */

    async function loadConfig() {
        await guarded($('config-error'), async () => {
            const r = await api('GET', '/api/v1/config');
            $('config-running').textContent = typeof r.body === 'string' ? r.body : JSON.stringify(r.body, null, 2);
        });
    }

    async function submitConfig(ev) {
        ev.preventDefault();
        const box = clear($('config-result'));
        await guarded($('config-error'), async () => {
            const r = await api('POST', '/api/v1/config', { text: $('config-text').value });
            const s = r.body || {};
            box.append(h('p', {}, 'Imported: ' +
                ['environment', 'applets', 'trustpoints', 'certificates']
                    .map((k) => (s[k] || 0) + ' ' + k).join(', ') + '.'));
            if ((s.runs_requested || []).length)
                box.append(h('p', {}, 'Run requested (not executed): ' + s.runs_requested.join(', ')));
            const w = renderWarnings(s.warnings, 'Import warnings');
            if (w)
                box.append(h('h4', {}, 'Warnings'), w);
            setStatus('Configuration imported.', 'config');
            await loadConfig();
        });
    }

    /* ---- mail test ----------------------------------------------------- */

    function renderResult(box, res) {
        box.append(h('dl', { class: 'kv result' },
            h('dt', {}, 'Outcome'), h('dd', {}, h('strong', { class: 'klass' }, res.klass || 'error')),
            h('dt', {}, 'What happened'), h('dd', {}, res.message || ''),
            res.advice ? [h('dt', {}, 'What to do'), h('dd', { class: 'advice' }, consoleWords(res.advice))] : null,
            res.reply ? [h('dt', {}, 'Server said'), h('dd', {}, h('code', {},
                (res.code ? res.code + ' ' : '') + (res.enhanced ? res.enhanced + ' ' : '') + res.reply))] : null,
            res.recipient ? [h('dt', {}, 'Recipient'), h('dd', {}, res.recipient)] : null));
    }

    function renderDeliveryTrace(box, trace) {
        if (!trace)
            return;
        const oe = trace.oauth_endpoint;
        if (oe) {
            box.append(h('h4', {}, 'OAuth 2.0 token'));
            box.append(h('dl', { class: 'kv' },
                h('dt', {}, 'Credential'), h('dd', {}, String(oe.credential || '')),
                oe.url ? [h('dt', {}, 'Token endpoint'), h('dd', {}, h('code', {}, oe.url))] : null,
                h('dt', {}, 'Token'), h('dd', {}, oe.cached ? 'cached (no request)'
                    : 'requested' + (oe.status ? ': HTTP ' + oe.status : '')),
                oe.grant ? [h('dt', {}, 'Grant'), h('dd', {}, oe.grant)] : null));
        }
        if (Array.isArray(trace.dialogue) && trace.dialogue.length) {
            box.append(h('h4', {}, 'SMTP dialogue'));
            box.append(h('pre', { class: 'code trace', 'aria-label': 'SMTP dialogue' },
                trace.dialogue.map((d) => (d.t_ms !== undefined ? String(d.t_ms).padStart(6) + ' ms ' : '') +
                    (d.dir === 'C' ? 'C: ' : d.dir === 'S' ? 'S: ' : '-- ') + d.line).join('\n')));
        }
        if (trace.tls) {
            box.append(h('h4', {}, 'TLS'));
            renderTls(box, trace.tls);
            renderChain(box, trace.tls.chain, false);
        }
    }

    async function submitMail(ev) {
        ev.preventDefault();
        const body = {
            port: Number($('mail-port').value) || undefined,
            secure: $('mail-secure').value,
            from: $('mail-from').value.trim(),
            to: $('mail-to').value.trim(),
            subject: $('mail-subject').value,
            body: $('mail-body').value,
        };
        const opt = { server: 'mail-server', host: 'mail-host', username: 'mail-username',
            cc: 'mail-cc', tls_name: 'mail-tlsname' };
        for (const [k, id] of Object.entries(opt)) {
            const v = $(id).value.trim();
            if (v)
                body[k] = v;
        }
        const credential = $('mail-credential').value;
        if (credential)
            body.credential = credential;
        else if ($('mail-password').value)
            body.password = $('mail-password').value;
        if ($('mail-insecure').checked)
            body.insecure_skip_verify = true;
        const box = clear($('mail-result'));
        box.append(h('p', {}, 'Sending...'));
        const r = await guarded($('mail-error'), () => api('POST', '/api/v1/mail/test', { json: body }));
        clear(box);
        if (!r)
            return;
        const m = r.body;
        if (m.delivered)
            box.append(h('p', { class: 'ok' }, h('strong', {}, 'Delivered'), ': the server accepted the message.'));
        else
            box.append(h('p', { class: 'bad' }, h('strong', {}, 'Not delivered')));
        if (m.result)
            renderResult(box, m.result);
        renderDeliveryTrace(box, m.trace);
    }

    /* ---- wiring -------------------------------------------------------- */

    function init() {
        $('login-form').addEventListener('submit', async (ev) => {
            ev.preventDefault();
            const t = $('token').value.trim();
            if (!t)
                return;
            sessionStorage.setItem(TOKEN_KEY, t);
            $('token').value = '';
            /* check the token before showing the pages */
            try {
                await api('GET', '/api/v1/version');
                setStatus('Signed in.');
                render();
            } catch (e) {
                if (e.status !== 401)
                    setStatus('Could not check the token: ' + e.message);
            }
        });
        $('logout').addEventListener('click', () => signOut());
        for (const b of document.querySelectorAll('#tabs button')) {
            b.addEventListener('click', () => {
                location.hash = b.dataset.page;
            });
        }
        window.addEventListener('hashchange', render);
        $('env-form').addEventListener('submit', submitEnv);
        $('applet-form').addEventListener('submit', saveApplet);
        $('applet-new').addEventListener('click', () => {
            setEditing(null);
            $('applet-text').value = '';
            clear($('applet-result'));
            clear($('applet-error'));
        });
        $('run-form').addEventListener('submit', submitRun);
        $('tp-form').addEventListener('submit', submitTrustpoint);
        $('probe-form').addEventListener('submit', submitProbe);
        $('config-load').addEventListener('click', loadConfig);
        $('config-form').addEventListener('submit', submitConfig);
        $('mail-form').addEventListener('submit', submitMail);
        $('mail-credential').addEventListener('change', mailCredentialChanged);
        $('cred-form').addEventListener('submit', saveCredential);
        $('cred-new').addEventListener('click', () => {
            setCredEditing(null);
            setStatus('', 'credentials');
            $('cred-name').focus();
        });
        for (const s of Object.values(CRED_SECRETS)) {
            $(s.input + '-remove').addEventListener('change', (ev) => {
                $(s.input).value = '';
                $(s.input).disabled = ev.target.checked;
            });
        }
        $('runs-filter').addEventListener('submit', (ev) => {
            ev.preventDefault();
            openRunId = null;
            clear($('run-detail'));
            loadRuns();
        });
        $('outbox-filter').addEventListener('submit', (ev) => {
            ev.preventDefault();
            loadOutbox();
        });
        setCredEditing(null);
        render();
    }

    if (document.readyState === 'loading')
        document.addEventListener('DOMContentLoaded', init);
    else
        init();
})();
