# SPDX-License-Identifier: MIT
"""
tests/lib/contract.py: checks live HTTP responses against
openapi/openapi.yaml.

A Spec loads the OpenAPI 3.1 document and, for one exchange (method, path,
status, headers, body), says what is wrong with the response:

- the route must be described (or the answer must be the documented 404
  not_found / 405 method_not_allowed error of an undescribed route);
- the status code must be listed for the operation;
- the Content-Type must be one the spec lists for that status (no body for
  a response without content);
- headers the spec marks required must be present;
- a JSON body must validate against the schema (JSON Schema draft 2020-12,
  $refs resolved inside the spec; format date-time checked).

A Recorder collects the violations of many exchanges so that a test can
report them all at once.
"""

import datetime
import json
import os
import re

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get('HERALD_SRC') or os.path.normpath(
    os.path.join(HERE, '..', '..'))
SPEC_PATH = os.path.join(SRC, 'openapi', 'openapi.yaml')

METHODS = ('get', 'put', 'post', 'delete', 'patch', 'head', 'options',
           'trace')

_RFC3339 = re.compile(
    r'^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$')


def _check_date_time(value):
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.datetime.fromisoformat(
            value.replace('Z', '+00:00').replace('z', '+00:00'))
    except ValueError:
        return False
    return True


def _format_checker():
    fc = jsonschema.FormatChecker(formats=())
    fc.checks('date-time')(_check_date_time)
    return fc


def _media(ct):
    return (ct or '').split(';', 1)[0].strip().lower()


def _params(ct):
    """The parameters of a media type, as a set of 'name=value'."""
    return {p.strip().lower().replace(' ', '')
            for p in (ct or '').split(';')[1:] if p.strip()}


class Spec:
    """The OpenAPI document and the checks made with it."""

    def __init__(self, path=SPEC_PATH):
        with open(path, encoding='utf-8') as f:
            self.doc = yaml.safe_load(f)
        self.path = path
        self._fc = _format_checker()
        self._routes = []
        for template, item in self.doc.get('paths', {}).items():
            names = []

            def repl(m):
                names.append(m.group(1))
                return '([^/]+)'
            rx = re.compile('^' + re.sub(r'\\\{([^}]+)\\\}', repl,
                                         re.escape(template)) + '$')
            # Concrete paths win over templated ones (OpenAPI 3.1 4.8.8).
            self._routes.append((template.count('{'), template, rx, item))
        self._routes.sort(key=lambda r: r[0])

    # -- lookup -----------------------------------------------------------

    def match(self, path):
        """Returns (template, path item) for a concrete path, or None."""
        path = path.split('?', 1)[0]
        if len(path) > 1 and path.endswith('/'):
            path = path[:-1]     # the server treats "/x/" as "/x"
        for _, template, rx, item in self._routes:
            if rx.match(path):
                return template, item
        return None

    def operation(self, method, path):
        m = self.match(path)
        if not m:
            return None, None
        template, item = m
        return template, item.get(method.lower())

    def operations(self):
        """Every (METHOD, template) the spec describes."""
        out = []
        for template, item in self.doc.get('paths', {}).items():
            for m in METHODS:
                if m in item:
                    out.append((m.upper(), template))
        return out

    def resolve(self, obj):
        """Follows a local $ref (components/...)."""
        seen = 0
        while isinstance(obj, dict) and '$ref' in obj and seen < 20:
            ref = obj['$ref']
            if not ref.startswith('#/'):
                raise ValueError('only local $refs are supported: ' + ref)
            node = self.doc
            for part in ref[2:].split('/'):
                node = node[part.replace('~1', '/').replace('~0', '~')]
            obj = node
            seen += 1
        return obj

    # -- validation -------------------------------------------------------

    def validate_schema(self, schema, instance):
        """Returns a list of messages (empty when instance is valid)."""
        root = dict(self.doc)
        for k in ('paths', 'info', 'servers', 'security', 'tags',
                  'openapi', 'webhooks'):
            root.pop(k, None)
        root.update(schema)
        root['$schema'] = 'https://json-schema.org/draft/2020-12/schema'
        v = jsonschema.Draft202012Validator(root, format_checker=self._fc)
        msgs = []
        for e in sorted(v.iter_errors(instance), key=lambda e: list(e.path)):
            where = '/'.join(str(p) for p in e.absolute_path) or '(root)'
            msgs.append('%s: %s' % (where, e.message))
        return msgs

    def check(self, method, path, status, headers, body):
        """Violations of one exchange. headers: a dict-like with
        case-insensitive get (http.client's HTTPMessage) or a plain dict;
        body: bytes."""
        out = []
        label = '%s %s -> %d' % (method, path, status)
        template, op = self.operation(method, path)
        ctype = _get_header(headers, 'Content-Type')

        if op is None:
            # Not described: the only acceptable answers are the errors.
            want = 405 if template else 404
            if method.upper() == 'HEAD' and template and \
                    'get' in self.match(path)[1]:
                return out
            if status == 401:
                # Without the token the server does not reveal the API's
                # shape: any /api/ path answers 401.
                return out + self._check_error_body(label, status, ctype,
                                                    body, 'unauthorized')
            if status not in (404, 405):
                out.append('%s: the server answers on a route the spec does '
                           'not describe (expected %d)' % (label, want))
                return out
            if status == 405 and not _get_header(headers, 'Allow'):
                out.append('%s: 405 without an Allow header' % label)
            out += self._check_error_body(label, status, ctype, body,
                                          'not_found' if status == 404
                                          else 'method_not_allowed')
            return out

        responses = op.get('responses', {})
        resp = responses.get(str(status)) or responses.get(
            '%dXX' % (status // 100)) or responses.get('default')
        if resp is None:
            out.append('%s: status %d is not documented for %s %s '
                       '(documented: %s)' % (label, status, method.upper(),
                                             template,
                                             ', '.join(sorted(responses))))
            return out
        resp = self.resolve(resp)

        for hname, hdef in (resp.get('headers') or {}).items():
            hdef = self.resolve(hdef)
            if hdef.get('required') and not _get_header(headers, hname):
                out.append('%s: required header %s is missing'
                           % (label, hname))

        content = resp.get('content')
        if not content:
            if body:
                out.append('%s: the spec documents no body, got %d bytes '
                           '(%s)' % (label, len(body), ctype or 'no type'))
            return out
        media = _media(ctype)
        if media not in {_media(k) for k in content}:
            out.append('%s: Content-Type %r is not documented (expected '
                       'one of %s)' % (label, ctype, ', '.join(content)))
            return out
        key, mt = next((k, v) for k, v in content.items()
                       if _media(k) == media)
        # a documented parameter ("text/plain; version=0.0.4") must be sent
        for param in _params(key) - _params(ctype):
            out.append('%s: Content-Type %r lacks %r (documented: %r)'
                       % (label, ctype, param, key))
        schema = (mt or {}).get('schema')
        if schema is None:
            return out
        if media == 'application/json' or media.endswith('+json'):
            try:
                inst = json.loads(body.decode('utf-8'))
            except (UnicodeDecodeError, ValueError) as e:
                out.append('%s: body is not JSON: %s' % (label, e))
                return out
        else:
            try:
                inst = body.decode('utf-8')
            except UnicodeDecodeError as e:
                out.append('%s: body is not UTF-8 text: %s' % (label, e))
                return out
        for m in self.validate_schema(schema, inst):
            out.append('%s: %s' % (label, m))
        return out

    def _check_error_body(self, label, status, ctype, body, code):
        out = []
        if _media(ctype) != 'application/json':
            out.append('%s: error body is %r, not application/json'
                       % (label, ctype))
            return out
        try:
            inst = json.loads(body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError) as e:
            out.append('%s: error body is not JSON: %s' % (label, e))
            return out
        for m in self.validate_schema(
                {'$ref': '#/components/schemas/Error'}, inst):
            out.append('%s: %s' % (label, m))
        got = inst.get('error', {}).get('code') \
            if isinstance(inst, dict) and isinstance(inst.get('error'),
                                                     dict) else None
        if got != code:
            out.append('%s: error code %r, expected %r' % (label, got, code))
        return out


def _no_route(status, body):
    """1 if the answer is the server's "no route" 404 (the route is not
    implemented), as opposed to a 404 for a missing object."""
    if status != 404:
        return False
    try:
        e = json.loads(body.decode('utf-8')).get('error', {})
    except (ValueError, AttributeError, UnicodeDecodeError):
        return False
    return str(e.get('message', '')).startswith('no route')


def _get_header(headers, name):
    if headers is None:
        return None
    if hasattr(headers, 'get'):
        v = headers.get(name)
        if v is not None:
            return v
    if isinstance(headers, dict):
        for k, v in headers.items():
            if k.lower() == name.lower():
                return v
    return None


class Recorder:
    """Collects violations and which operations were exercised."""

    def __init__(self, spec):
        self.spec = spec
        self.violations = []
        self.seen = set()        # (METHOD, template, status)
        self.exchanges = 0

    def record(self, method, path, status, headers, body):
        self.exchanges += 1
        self.violations += self.spec.check(method, path, status, headers,
                                           body)
        template, op = self.spec.operation(method, path)
        if op is not None and not _no_route(status, body):
            self.seen.add((method.upper(), template, status))

    def unexercised(self):
        """Operations of the spec that no recorded exchange reached (a
        "no route" 404 does not count: the server lacks the route)."""
        hit = {(m, t) for (m, t, _) in self.seen}
        return [op for op in self.spec.operations() if op not in hit]

    def report(self):
        return '\n'.join('- ' + v for v in self.violations)


def herald_address(h):
    """(host, port, token) of a started tests/lib/herald.py Herald."""
    import urllib.parse
    url = None
    for attr in ('base_url', 'url', 'base'):
        v = getattr(h, attr, None)
        if isinstance(v, str) and v.startswith('http'):
            url = v
            break
    if url is not None:
        u = urllib.parse.urlsplit(url)
        host, port = u.hostname, u.port
    else:
        host = getattr(h, 'host', '127.0.0.1')
        port = getattr(h, 'port')
    token = getattr(h, 'token', None) or getattr(h, 'admin_token')
    return host, int(port), token


def start_with_aiosmtpd():
    """Starts the aiosmtpd STARTTLS server of tests/lib/mailenv.py (no
    Postfix) and a herald (tests/lib/herald.py); returns (mail, h). The
    mail server is stopped again if herald does not start."""
    import herald
    import mailenv
    mail = mailenv.MailEnv(postfix=False).start()
    try:
        h = herald.Herald()
        h.start()
    except BaseException:
        mail.stop()
        raise
    return mail, h


def stop_with_aiosmtpd(mail, h):
    """Stops what start_with_aiosmtpd() started and removes herald's data
    directory."""
    try:
        try:
            h.stop()
        finally:
            h.cleanup()
    finally:
        mail.stop()
