/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_dispatch.c: the interpreter's dispatch table
 * (engine/run/interp.c, interp_string.c) is bound to the grammar table
 * (engine/lang/applet_grammar.c): every verb the grammar accepts has a row, so a
 * new action that misses its handler fails here instead of at run time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "engine/lang/applet_int.h"
#include "engine/run/interp_int.h"

static void
every_grammar_verb_should_have_a_handler(void **state)
{
    const struct interp_action *act;
    const struct gverb         *v;
    size_t                      i;

    (void)state;
    assert_true(gram_verb_count() > 0);
    for (i = 0; i < gram_verb_count(); i++) {
        v = gram_verb_at(i);
        assert_non_null(v);
        act = interp_action_find(v->verb);
        if (act == NULL)
            fail_msg("grammar verb \"%s\" has no interpreter handler", v->verb);
        assert_string_equal(act->verb, v->verb);
        /* a plain action runs its handler; control flow is run_once's */
        if (act->kind == K_PLAIN && act->run == NULL)
            fail_msg("plain action \"%s\" has a NULL handler", v->verb);
        if (act->kind != K_PLAIN && act->run != NULL)
            fail_msg("control-flow verb \"%s\" has a handler", v->verb);
    }
}

static void
string_handlers_should_name_grammar_verbs(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < n_interp_string_actions; i++)
        if (gram_verb(interp_string_actions[i].verb) == NULL)
            fail_msg("handler \"%s\" is not in the grammar",
                interp_string_actions[i].verb);
    assert_null(interp_action_find("cli"));
    assert_null(interp_action_find("string nosuch"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_grammar_verb_should_have_a_handler),
        cmocka_unit_test(string_handlers_should_name_grammar_verbs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
