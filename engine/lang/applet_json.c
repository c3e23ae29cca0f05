/* SPDX-License-Identifier: MIT */
/*
 * engine/lang/applet_json.c: the JSON form of an applet (engine/lang/applet.h).
 *
 *   {"name": "X", "description": "..." | null,
 *    "class": "A".."Z" | "default" | null, "authorization": "bypass" | null,
 *    "events": [{"type": "none" | "syslog" | "timer" | "webhook" |
 *                        "application",
 *                "timer": "watchdog" | "countdown" | "absolute" | "cron",
 *                "tag", "pattern", "occurs", "period", "priority", "time",
 *                "cron_entry", "name", "maxrun", "ratelimit",
 *                "sub_system", "event_type" (application: 1..999)}],
 *    "correlate": "event a or event b" | null,
 *    "actions": [{"label": "0010", "action": "mail", "server": ..., ...}]}
 *
 * Parameter values are strings; numbers are accepted for any parameter and
 * true/false for flags. The reader checks every value with the grammar the
 * CLI parser uses and names the bad field ("actions[2].secure").
 */
#include "engine/lang/applet.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lang/applet_int.h"

static const char *const ev_json_key[EK_N] = {
    "pattern",
    "occurs",
    "period",
    "priority",
    "time",
    "cron_entry",
    "name",
    "maxrun",
    "ratelimit",
    "sub_system",
    "event_type",
};

/* ---- writer ---------------------------------------------------------- */

static int
add_str_or_null(cJSON *o, const char *k, const char *v)
{
    if (v == NULL)
        return cJSON_AddNullToObject(o, k) != NULL ? 0 : ERR_NOMEM;
    return cJSON_AddStringToObject(o, k, v) != NULL ? 0 : ERR_NOMEM;
}

static cJSON *
event_to_json(const struct eng_event *e)
{
    cJSON      *o = cJSON_CreateObject();
    const char *w = NULL;
    int         ok = o != NULL;

    switch (e->type) {
    case ENG_EV_TIMER_WATCHDOG:
        w = "watchdog";
        break;
    case ENG_EV_TIMER_COUNTDOWN:
        w = "countdown";
        break;
    case ENG_EV_TIMER_ABSOLUTE:
        w = "absolute";
        break;
    case ENG_EV_TIMER_CRON:
        w = "cron";
        break;
    default:
        break;
    }
    if (ok && e->tag != NULL)
        ok = cJSON_AddStringToObject(o, "tag", e->tag) != NULL;
    if (ok)
        ok = cJSON_AddStringToObject(o, "type",
                 w != NULL ? "timer" : eng_event_type_name(e->type))
            != NULL;
    if (ok && w != NULL)
        ok = cJSON_AddStringToObject(o, "timer", w) != NULL;
    if (ok && e->type == ENG_EV_SYSLOG) {
        ok = cJSON_AddStringToObject(o, "pattern", e->pattern) != NULL
            && cJSON_AddNumberToObject(o, "occurs", e->occurs) != NULL;
        if (ok && e->period > 0)
            ok = cJSON_AddNumberToObject(o, "period", e->period) != NULL;
        if (ok && e->priority != NULL)
            ok = cJSON_AddStringToObject(o, "priority", e->priority) != NULL;
    }
    if (ok && e->type == ENG_EV_APPLICATION)
        ok = cJSON_AddNumberToObject(o, "sub_system", e->sub_system) != NULL
            && cJSON_AddNumberToObject(o, "event_type", e->app_type) != NULL;
    if (ok
        && (e->type == ENG_EV_TIMER_WATCHDOG
            || e->type == ENG_EV_TIMER_COUNTDOWN
            || e->type == ENG_EV_TIMER_ABSOLUTE))
        ok = cJSON_AddNumberToObject(o, "time", e->time) != NULL;
    if (ok && e->cron_entry != NULL)
        ok = cJSON_AddStringToObject(o, "cron_entry", e->cron_entry) != NULL;
    if (ok && e->timer_name != NULL)
        ok = cJSON_AddStringToObject(o, "name", e->timer_name) != NULL;
    if (ok && e->maxrun > 0)
        ok = cJSON_AddNumberToObject(o, "maxrun", e->maxrun) != NULL;
    if (ok && e->ratelimit > 0)
        ok = cJSON_AddNumberToObject(o, "ratelimit", e->ratelimit) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A number-typed value prints as a JSON number when that reads back as the
 * same text. */
static cJSON *
value_to_json(const struct gparam *p, const char *v)
{
    char   num[64];
    double d;
    char  *end;

    if (p->kind == GP_FLAG)
        return cJSON_CreateBool(1);
    if ((p->type == GT_INT || p->type == GT_NUM) && v[0] != '\0'
        && strchr(v, '$') == NULL) {
        d = strtod(v, &end);
        if (*end == '\0') {
            applet_fmt_num(d, num, sizeof(num));
            if (strcmp(num, v) == 0)
                return cJSON_CreateNumber(d);
        }
    }
    return cJSON_CreateString(v);
}

struct cJSON *
eng_applet_to_json(const struct eng_applet *a)
{
    cJSON *o = cJSON_CreateObject(), *evs, *acts, *x, *item;
    size_t i, j, n;

    if (o == NULL || cJSON_AddStringToObject(o, "name", a->name) == NULL
        || add_str_or_null(o, "description", a->description) != 0
        || add_str_or_null(o, "class", a->klass) != 0
        || add_str_or_null(o, "authorization", a->auth_bypass ? "bypass" : NULL)
            != 0
        || (evs = cJSON_AddArrayToObject(o, "events")) == NULL)
        goto fail;
    for (i = 0; i < a->nevents; i++) {
        if ((x = event_to_json(&a->events[i].pub)) == NULL)
            goto fail;
        cJSON_AddItemToArray(evs, x);
    }
    if (add_str_or_null(o, "correlate", a->correlate) != 0
        || (acts = cJSON_AddArrayToObject(o, "actions")) == NULL)
        goto fail;
    for (i = 0; i < a->nactions; i++) {
        const struct applet_action *act = &a->actions[i];
        if ((x = cJSON_CreateObject()) == NULL)
            goto fail;
        cJSON_AddItemToArray(acts, x);
        if (cJSON_AddStringToObject(x, "label", act->label) == NULL
            || cJSON_AddStringToObject(x, "action", act->def->verb) == NULL)
            goto fail;
        n = gram_nparams(act->def);
        for (j = 0; j < n; j++) {
            if (act->val[j] == NULL)
                continue;
            if ((item = value_to_json(&act->def->p[j], act->val[j])) == NULL)
                goto fail;
            cJSON_AddItemToObject(x, act->def->p[j].name, item);
        }
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* ---- reader ---------------------------------------------------------- */

static int ferr(struct errbuf *eb, int rc, const char *field, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static int
ferr(struct errbuf *eb, int rc, const char *field, const char *fmt, ...)
{
    char    m[640];
    va_list ap;

    if (rc == ERR_NOMEM)
        return err_set(eb, rc, "nomem", "out of memory");
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    return err_field(eb, rc, field,
        rc == ERR_UNSUPPORTED ? "unsupported" : "invalid_field", "%s: %s",
        field, m);
}

/* Value text of a JSON scalar: a new string, or NULL with *why set. */
static char *
scalar_text(const cJSON *v, int flag, const char **why)
{
    char num[64];

    *why = NULL;
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        applet_fmt_num(v->valuedouble, num, sizeof(num));
        return strdup(num);
    }
    if (flag && cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? strdup("1") : NULL;
    *why = flag ? "expected true or false" : "expected a string";
    return NULL;
}

static int
event_from_json(struct eng_applet *a, const cJSON *j, size_t idx,
    struct errbuf *eb)
{
    struct applet_event ev;
    const cJSON        *it, *type, *timer;
    char                field[64], msg[512], list[256], *val;
    const char         *why;
    unsigned            allowed, seen = 0, missing;
    int                 k, rc;
    size_t              len;

    memset(&ev, 0, sizeof(ev));
    ev.pub.occurs = 1;
    snprintf(field, sizeof(field), "events[%zu]", idx);
    if (!cJSON_IsObject(j))
        return ferr(eb, ERR_INVAL, field, "expected an object");
    type = cJSON_GetObjectItemCaseSensitive(j, "type");
    timer = cJSON_GetObjectItemCaseSensitive(j, "timer");
    snprintf(field, sizeof(field), "events[%zu].type", idx);
    if (!cJSON_IsString(type))
        return ferr(eb, ERR_INVAL, field,
            "expected \"type\" none, syslog, "
            "timer, webhook or application");
    ev.pub.type = applet_event_type_parse(type->valuestring,
        cJSON_IsString(timer) ? timer->valuestring : NULL);
    if (ev.pub.type < 0) {
        if (strcmp(type->valuestring, "timer") == 0) {
            snprintf(field, sizeof(field), "events[%zu].timer", idx);
            return ferr(eb, ERR_INVAL, field,
                "expected \"timer\" watchdog, "
                "countdown, absolute or cron");
        }
        return ferr(eb, ERR_INVAL, field,
            "expected \"type\" none, syslog, "
            "timer, webhook or application, got \"%s\"",
            type->valuestring);
    }
    allowed = applet_event_allowed(ev.pub.type);
    cJSON_ArrayForEach(it, j)
    {
        if (strcmp(it->string, "type") == 0
            || (strcmp(it->string, "timer") == 0 && ev.pub.type != ENG_EV_NONE
                && ev.pub.type != ENG_EV_SYSLOG && ev.pub.type != ENG_EV_WEBHOOK
                && ev.pub.type != ENG_EV_APPLICATION))
            continue;
        snprintf(field, sizeof(field), "events[%zu].%s", idx, it->string);
        if (cJSON_IsNull(it))
            continue;
        if (strcmp(it->string, "tag") == 0) {
            if ((val = scalar_text(it, 0, &why)) == NULL) {
                rc = ferr(eb, why ? ERR_INVAL : ERR_NOMEM, field, "%s", why);
                goto out;
            }
            free(ev.tag);
            ev.tag = val;
            continue;
        }
        for (k = 0; k < EK_N; k++)
            if (strcmp(ev_json_key[k], it->string) == 0)
                break;
        if (k == EK_N || !(allowed & (1u << k))) {
            list[0] = '\0';
            len = 0;
            for (k = 0; k < EK_N; k++)
                if (allowed & (1u << k))
                    len += (size_t)snprintf(list + len,
                        len < sizeof(list) ? sizeof(list) - len : 0, ", %s",
                        ev_json_key[k]);
            rc = ferr(eb, ERR_INVAL, field,
                "unknown field for event %s; "
                "expected type, tag%s",
                eng_event_type_name(ev.pub.type), list);
            goto out;
        }
        if ((val = scalar_text(it, 0, &why)) == NULL) {
            rc = ferr(eb, why ? ERR_INVAL : ERR_NOMEM, field, "%s", why);
            goto out;
        }
        rc = applet_event_set(&ev, k, val, msg, sizeof(msg));
        free(val);
        if (rc != 0) {
            rc = ferr(eb, rc, field, "%s", msg);
            goto out;
        }
        seen |= 1u << k;
    }
    if (ev.tag != NULL) {
        snprintf(field, sizeof(field), "events[%zu].tag", idx);
        if (ev.tag[0] == '\0' || strchr(ev.tag, ' ') != NULL
            || strlen(ev.tag) > APPLET_MAX_LABEL) {
            rc = ferr(eb, ERR_INVAL, field, "invalid event tag \"%s\"", ev.tag);
            goto out;
        }
    }
    missing = applet_event_required(ev.pub.type) & ~seen;
    if (missing) {
        for (k = 0; k < EK_N; k++)
            if (missing & (1u << k))
                break;
        snprintf(field, sizeof(field), "events[%zu].%s", idx, ev_json_key[k]);
        rc = ferr(eb, ERR_INVAL, field, "event %s needs \"%s\"",
            eng_event_type_name(ev.pub.type), ev_json_key[k]);
        goto out;
    }
    if ((rc = applet_add_event(a, &ev)) != 0)
        return ferr(eb, rc, field, "out of memory");
    return 0;
out:
    applet_event_clear(&ev);
    return rc;
}

static int
action_from_json(struct eng_applet *a, const cJSON *j, size_t idx,
    struct errbuf *eb)
{
    struct applet_action act;
    const struct gverb  *v;
    const cJSON         *label, *verb, *it;
    char                 field[64], msg[512], list[512], *val, *norm;
    const char          *why;
    size_t               i, n, len;
    int                  k, rc, gap;

    memset(&act, 0, sizeof(act));
    snprintf(field, sizeof(field), "actions[%zu]", idx);
    if (!cJSON_IsObject(j))
        return ferr(eb, ERR_INVAL, field, "expected an object");
    label = cJSON_GetObjectItemCaseSensitive(j, "label");
    verb = cJSON_GetObjectItemCaseSensitive(j, "action");
    snprintf(field, sizeof(field), "actions[%zu].label", idx);
    if (label == NULL || (act.label = scalar_text(label, 0, &why)) == NULL)
        return ferr(eb, label == NULL || why ? ERR_INVAL : ERR_NOMEM, field,
            "expected a label string such as \"0010\"");
    if (act.label[0] == '\0' || strlen(act.label) > APPLET_MAX_LABEL
        || strpbrk(act.label, " \t\r\n\"\\") != NULL) {
        rc = ferr(eb, ERR_INVAL, field,
            "invalid action label \"%s\": up to "
            "%d bytes, no spaces, quotes or backslashes",
            act.label, APPLET_MAX_LABEL);
        goto out;
    }
    snprintf(field, sizeof(field), "actions[%zu].action", idx);
    if (!cJSON_IsString(verb)) {
        rc = ferr(eb, ERR_INVAL, field,
            "expected the action verb, e.g. "
            "\"mail\"");
        goto out;
    }
    if (gram_router_only(verb->valuestring)
        || (strchr(verb->valuestring, ' ') != NULL
            && strncmp(verb->valuestring, "file ", 5) == 0)) {
        rc = ferr(eb, ERR_UNSUPPORTED, field,
            "action '%s' is router-only "
            "and not supported by herald",
            verb->valuestring);
        goto out;
    }
    if ((v = gram_verb(verb->valuestring)) == NULL) {
        len = 0;
        list[0] = '\0';
        for (i = 0; i < gram_verb_count(); i++)
            len += (size_t)snprintf(list + len,
                len < sizeof(list) ? sizeof(list) - len : 0, "%s%s",
                i ? ", " : "", gram_verb_at(i)->verb);
        rc = ferr(eb, ERR_INVAL, field,
            "unknown action \"%s\"; expected "
            "one of %s",
            verb->valuestring, list);
        goto out;
    }
    act.def = v;
    act.src = (int)idx + 1;
    n = gram_nparams(v);
    cJSON_ArrayForEach(it, j)
    {
        if (strcmp(it->string, "label") == 0
            || strcmp(it->string, "action") == 0)
            continue;
        snprintf(field, sizeof(field), "actions[%zu].%s", idx, it->string);
        if ((k = gram_param_index(v, it->string)) < 0) {
            len = 0;
            list[0] = '\0';
            for (i = 0; i < n; i++)
                len += (size_t)snprintf(list + len,
                    len < sizeof(list) ? sizeof(list) - len : 0, ", %s",
                    v->p[i].name);
            rc = ferr(eb, ERR_INVAL, field,
                "unknown parameter \"%s\" for "
                "action %s; expected label, action%s",
                it->string, v->verb, list);
            goto out;
        }
        if (cJSON_IsNull(it))
            continue;
        val = scalar_text(it, v->p[k].kind == GP_FLAG, &why);
        if (val == NULL && why != NULL) {
            rc = ferr(eb, ERR_INVAL, field, "%s", why);
            goto out;
        }
        if (val == NULL) {
            if (cJSON_IsBool(it))
                continue;
            rc = ferr(eb, ERR_NOMEM, field, "out of memory");
            goto out;
        }
        if (v->p[k].kind == GP_FLAG && strcmp(val, "1") != 0) {
            free(val);
            rc = ferr(eb, ERR_INVAL, field, "expected true or false");
            goto out;
        }
        if (v->p[k].kind == GP_REST && val[0] == '\0') {
            free(val);
            continue;
        }
        rc = gram_check_value(v, &v->p[k], val, &norm, msg, sizeof(msg));
        free(val);
        if (rc != 0) {
            rc = ferr(eb, rc, field, "%s", msg);
            goto out;
        }
        free(act.val[k]);
        act.val[k] = norm;
    }
    gap = -1;
    for (i = 0; i < n; i++) {
        snprintf(field, sizeof(field), "actions[%zu].%s", idx, v->p[i].name);
        if (!(v->p[i].flags & GP_OPT) && act.val[i] == NULL) {
            rc = ferr(eb, ERR_INVAL, field, "action %s needs \"%s\"", v->verb,
                v->p[i].name);
            goto out;
        }
        /* optional positionals fill in order: "sub1" needs "match" */
        if (v->p[i].kind == GP_POS && act.val[i] == NULL && gap < 0)
            gap = (int)i;
        if (v->p[i].kind == GP_POS && act.val[i] != NULL && gap >= 0) {
            rc = ferr(eb, ERR_INVAL, field, "\"%s\" needs \"%s\" as well",
                v->p[i].name, v->p[gap].name);
            goto out;
        }
    }
    snprintf(field, sizeof(field), "actions[%zu]", idx);
    rc = applet_put_action(a, &act);
    if (rc == ERR_TOOBIG)
        return err_field(eb, rc, "actions", "too_large",
            "more than %d "
            "actions",
            APPLET_MAX_ACTIONS);
    if (rc != 0)
        return ferr(eb, rc, field, "out of memory");
    return 0;
out:
    applet_action_clear(&act);
    return rc;
}

/*
 * Applets are stored as their canonical text, so a JSON applet is accepted
 * only if that text parses back: this holds JSON input to exactly the rules
 * of the text parser (control characters, label and tag syntax, number
 * ranges) instead of a second, drifting copy of them.
 */
static int
applet_json_printable(const struct eng_applet *a, struct errbuf *eb)
{
    struct eng_applet *back = NULL;
    struct errbuf      pe = { 0 };
    char              *text;
    int                rc;

    if ((text = eng_applet_to_text(a)) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    rc = eng_applet_parse(text, strlen(text), 1, &back, &pe);
    free(text);
    eng_applet_free(back);
    if (rc == 0)
        return 0;
    if (rc == ERR_NOMEM)
        return err_set(eb, rc, "nomem", "out of memory");
    return err_field(eb, ERR_INVAL, "", "invalid_field",
        "this applet cannot be written as EEM text (a value holds a control "
        "character or a name is not valid there): %s",
        pe.msg);
}

int
eng_applet_from_json(const struct cJSON *j, const char *name,
    struct eng_applet **out, struct errbuf *eb)
{
    struct eng_applet *a;
    const cJSON       *it, *x;
    char               msg[512], field[64];
    size_t             i;
    int                rc, which;

    *out = NULL;
    if (!cJSON_IsObject(j))
        return err_field(eb, ERR_INVAL, "", "invalid_json",
            "an applet must "
            "be a JSON object");
    if ((a = applet_new()) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    x = cJSON_GetObjectItemCaseSensitive(j, "name");
    if (name == NULL && !cJSON_IsString(x)) {
        rc = err_field(eb, ERR_INVAL, "name", "missing_field",
            "name: expected the applet name as a string");
        goto out;
    }
    if (name == NULL)
        name = x->valuestring;
    if ((rc = applet_check_name(name, msg, sizeof(msg))) != 0) {
        rc = ferr(eb, rc, "name", "%s", msg);
        goto out;
    }
    if ((a->name = strdup(name)) == NULL) {
        rc = ferr(eb, ERR_NOMEM, "name", "out of memory");
        goto out;
    }
    cJSON_ArrayForEach(it, j)
    {
        if (strcmp(it->string, "name") != 0
            && strcmp(it->string, "description") != 0
            && strcmp(it->string, "class") != 0
            && strcmp(it->string, "authorization") != 0
            && strcmp(it->string, "events") != 0
            && strcmp(it->string, "correlate") != 0
            && strcmp(it->string, "actions") != 0 &&
            /* tolerated: what GET returns besides the model */
            strcmp(it->string, "text") != 0
            && strcmp(it->string, "warnings") != 0
            && strcmp(it->string, "created") != 0
            && strcmp(it->string, "updated") != 0
            && strcmp(it->string, "webhook_token_set") != 0
            && strcmp(it->string, "prompts_removed") != 0
            && strcmp(it->string, "dropped") != 0) {
            rc = ferr(eb, ERR_INVAL, it->string,
                "unknown field; expected "
                "name, description, class, authorization, events, "
                "correlate or actions");
            goto out;
        }
    }
    x = cJSON_GetObjectItemCaseSensitive(j, "description");
    if (x != NULL && !cJSON_IsNull(x)) {
        if (!cJSON_IsString(x) || strpbrk(x->valuestring, "\r\n") != NULL
            || strlen(x->valuestring) > APPLET_MAX_VALUE) {
            rc = ferr(eb, ERR_INVAL, "description",
                "expected one line of "
                "text of at most %d bytes",
                APPLET_MAX_VALUE);
            goto out;
        }
        if ((a->description = strdup(x->valuestring)) == NULL) {
            rc = ferr(eb, ERR_NOMEM, "description", "out of memory");
            goto out;
        }
    }
    x = cJSON_GetObjectItemCaseSensitive(j, "class");
    if (x != NULL && !cJSON_IsNull(x)) {
        if (!cJSON_IsString(x)
            || applet_check_class(x->valuestring, msg, sizeof(msg)) != 0) {
            rc = ferr(eb, ERR_INVAL, "class",
                "expected \"A\" to \"Z\", "
                "\"default\" or null");
            goto out;
        }
        if ((a->klass = strdup(x->valuestring)) == NULL) {
            rc = ferr(eb, ERR_NOMEM, "class", "out of memory");
            goto out;
        }
    }
    x = cJSON_GetObjectItemCaseSensitive(j, "authorization");
    if (x != NULL && !cJSON_IsNull(x)) {
        if (!cJSON_IsString(x) || strcmp(x->valuestring, "bypass") != 0) {
            rc = ferr(eb, ERR_INVAL, "authorization",
                "expected \"bypass\" "
                "or null");
            goto out;
        }
        a->auth_bypass = 1;
    }
    x = cJSON_GetObjectItemCaseSensitive(j, "events");
    if (x != NULL && !cJSON_IsNull(x)) {
        if (!cJSON_IsArray(x)) {
            rc = ferr(eb, ERR_INVAL, "events", "expected an array");
            goto out;
        }
        i = 0;
        cJSON_ArrayForEach(it, x)
        {
            if ((rc = event_from_json(a, it, i++, eb)) != 0)
                goto out;
        }
    }
    x = cJSON_GetObjectItemCaseSensitive(j, "correlate");
    if (x != NULL && !cJSON_IsNull(x)) {
        if (!cJSON_IsString(x)) {
            rc = ferr(eb, ERR_INVAL, "correlate",
                "expected a string such "
                "as \"event e1 or event e2\"");
            goto out;
        }
        if ((rc = applet_parse_correlate(x->valuestring, &a->correlate, msg,
                 sizeof(msg)))
            != 0) {
            rc = ferr(eb, rc, "correlate", "%s", msg);
            goto out;
        }
    }
    x = cJSON_GetObjectItemCaseSensitive(j, "actions");
    if (x != NULL && !cJSON_IsNull(x)) {
        if (!cJSON_IsArray(x)) {
            rc = ferr(eb, ERR_INVAL, "actions", "expected an array");
            goto out;
        }
        i = 0;
        cJSON_ArrayForEach(it, x)
        {
            if ((rc = action_from_json(a, it, i++, eb)) != 0)
                goto out;
        }
    }
    if ((rc = applet_check_events(a, msg, sizeof(msg), &which)) != 0) {
        if (which >= 0)
            snprintf(field, sizeof(field), "events[%d].tag", which);
        else
            snprintf(field, sizeof(field), "correlate");
        rc = ferr(eb, rc, field, "%s", msg);
        goto out;
    }
    if ((rc = applet_check_blocks(a, msg, sizeof(msg), &i)) != 0) {
        snprintf(field, sizeof(field), "actions[%d]", a->actions[i].src - 1);
        rc = ferr(eb, rc, field, "%s", msg);
        goto out;
    }
    if ((rc = applet_json_printable(a, eb)) != 0)
        goto out;
    *out = a;
    return 0;
out:
    eng_applet_free(a);
    return rc;
}
