// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_binding.c - binding files: the shipped ones read, what a rule turns
 * into, and every kind of mistake is reported with its FILE:LINE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "check.h"
#include "da_model.h"

static char err[512];

static struct da_model *load(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.dot", MODELS_DIR, name);
	return da_model_load(path, NULL, err, sizeof(err));
}

static void test_shipped(void)
{
	static const char *const names[] = { "wip", "dlm_lock", "dlm_resource",
					     "flock" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct da_model *m = load(names[i]);
		struct mb_binding *b;
		char path[512];

		REQUIRE(m);
		snprintf(path, sizeof(path), "%s/%s.bind", MODELS_DIR,
			 names[i]);
		b = mb_binding_load(path, m, err, sizeof(err));
		if (!CHECK(b))
			fprintf(stderr, "  %s\n", err);
		mb_binding_free(b);
		da_model_free(m);
	}
out:
	return;
}

static void test_rule_shape(void)
{
	struct da_model *m = load("dlm_resource");
	struct mb_binding *b = NULL;
	const struct mb_rule *r;

	REQUIRE(m);
	b = mb_binding_parse(
		"# comment\n"
		"instance = object\n"
		"key = ls_id, res_name\n"
		"new = monitoring\n"
		"forget = free\n"
		"holder = node lkb_id\n"
		"compat = 0x3f 0x1f 0x07 0x0b 0x03 0x01\n"
		"\n"
		"on dlm:dlm_ast if sb_status==0 && compatible == 0 -> !clash grant\n"
		"on dlm:dlm_lock_start -> - request = mode   # trailing comment\n"
		"on dlm:dlm_unlock_start if flags !& 0x2 && others >= 1 -> unlock_shared start release\n",
		"t.bind", m, err, sizeof(err));
	if (!CHECK(b))
		fprintf(stderr, "  %s\n", err);
	REQUIRE(b);
	CHECK_INT(b->kind, MB_OBJECT);
	CHECK_INT(b->n_key, 2);
	CHECK_STR(b->key[1].field, "res_name");
	CHECK(b->new_monitoring);
	CHECK(b->forget[0]);
	CHECK_INT(b->n_holder, 2);
	CHECK_INT(b->holder[0].src, MB_SRC_NODE);
	CHECK_INT(b->n_classes, 6);
	CHECK_INT(b->compat[3], 0x0b);
	CHECK_INT(b->n_rules, 3);
	r = &b->rules[0];
	CHECK_STR(r->system, "dlm");
	CHECK_STR(r->event, "dlm_ast");
	CHECK_INT(r->line, 9);
	CHECK_INT(r->n_preds, 2);
	CHECK_STR(r->preds[0].v.field, "sb_status");
	CHECK_INT(r->preds[0].op, MB_EQ);
	CHECK_INT(r->preds[1].v.src, MB_SRC_COMPATIBLE);
	CHECK_INT(r->model_event, MB_VIOLATION);
	CHECK_STR(r->violation, "clash");
	CHECK_INT(r->action, MB_ACT_GRANT);
	r = &b->rules[1];
	CHECK_INT(r->model_event, -1);
	CHECK_INT(r->action, MB_ACT_REQUEST);
	CHECK_STR(r->act_v.field, "mode");
	r = &b->rules[2];
	CHECK_INT(r->preds[0].op, MB_NONE);
	CHECK_INT(r->preds[0].k, 2);
	CHECK_INT(r->preds[1].op, MB_GE);
	CHECK_INT(r->model_event, da_model_event(m, "unlock_shared"));
	CHECK_INT(r->handler, MB_START);
	CHECK_INT(r->action, MB_ACT_RELEASE);
out:
	mb_binding_free(b);
	da_model_free(m);
}

static const struct {
	const char *text;
	const char *err;
} bad[] = {
	{ "instance = object\n",
	  "b.bind:1: object instances need 'key = FIELDS'" },
	{ "instance = cpu\n\n",
	  "b.bind:2: no rules: add 'on SYSTEM:EVENT -> MODEL_EVENT'" },
	{ "on dlm:dlm_ast -> grant\n",
	  "b.bind:1: no 'instance = KIND' setting" },
	{ "instance = percpu\n",
	  "b.bind:1: unknown instance kind 'percpu' (global, node, cpu, task, object)" },
	{ "instance = cpu\ninstance = cpu\n",
	  "b.bind:2: 'instance' given twice" },
	{ "instance = cpu\nkey = ls_id\non dlm:dlm_ast -> grant\n",
	  "b.bind:2: 'key' is only for object instances (this is cpu)" },
	{ "instance = object\nkey = a, a\n",
	  "b.bind:2: field 'a' twice in the key" },
	{ "instance = cpu\ncolour = blue\n",
	  "b.bind:2: unknown setting 'colour' (instance, key, new, forget, holder, compat, model)" },
	{ "instance = cpu\nnew = maybe\n",
	  "b.bind:2: new takes 'monitoring' or 'idle'" },
	{ "instance = cpu\nforget = granted\n",
	  "b.bind:2: state 'granted' is not a final state of dlm_lock: only final states can be forgotten" },
	{ "instance = cpu\nforget = gone\n",
	  "b.bind:2: model dlm_lock has no state 'gone'" },
	{ "model = wip\n",
	  "b.bind:1: this binding is for model 'wip', not 'dlm_lock'" },
	{ "instance = cpu\non dlm:dlm_ast -> granted\n",
	  "b.bind:2: model dlm_lock has no event 'granted'" },
	{ "instance = cpu\non dlm_ast -> grant\n",
	  "b.bind:2: expected 'on SYSTEM:EVENT'" },
	{ "instance = cpu\non dlm:dlm_ast if sb_status = 0 -> grant\n",
	  "b.bind:2: expected an operator (== != < <= > >= & !&) after 'sb_status', found '='" },
	{ "instance = cpu\non dlm:dlm_ast if sb_status == zero -> grant\n",
	  "b.bind:2: expected a number, found 'zero'" },
	{ "instance = cpu\non dlm:dlm_ast if sb_status == 0\n",
	  "b.bind:2: expected '->' and a model event, found 'end of line'" },
	{ "instance = cpu\non dlm:dlm_ast -> grant now\n",
	  "b.bind:2: unknown rule option 'now' (event, start, start_run, hold, request, grant, release)" },
	{ "instance = cpu\non dlm:dlm_ast -> grant start event\n",
	  "b.bind:2: more than one handler" },
	{ "instance = cpu\non dlm:dlm_ast -> - start\n",
	  "b.bind:2: 'start' needs a model event" },
	{ "instance = cpu\non dlm:dlm_ast -> grant release\n",
	  "b.bind:2: 'release' needs a holder table: add 'holder = FIELDS' before the rules" },
	{ "instance = cpu\non dlm:dlm_ast if others == 0 -> grant\n",
	  "b.bind:2: 'others' needs a holder table: add 'holder = FIELDS'" },
	{ "instance = object\nkey = self\n",
	  "b.bind:2: 'self' can only be tested in a rule" },
	{ "instance = cpu\nholder = a b c\n",
	  "b.bind:2: holder takes one or two fields" },
	{ "instance = cpu\nholder = a\non dlm:dlm_ast -> grant hold\n",
	  "b.bind:3: 'hold' needs a class: hold = FIELD or hold = NUMBER" },
	{ "instance = cpu\nholder = a\non dlm:dlm_ast -> grant hold = 16\n",
	  "b.bind:3: class 16 out of range 0..15" },
	{ "instance = cpu\nholder = a\non dlm:dlm_ast -> grant hold = 1 release\n",
	  "b.bind:3: more than one holder action" },
	{ "instance = cpu\ncompat = 0x3 0x0\n",
	  "b.bind:2: compat is not symmetric: class 0 fits with 1 but not 1 with 0" },
	{ "instance = cpu\ncompat = 0x7 0x1\n",
	  "b.bind:2: compat mask '0x7' names a class beyond the 2 given" },
	{ "instance = cpu\non dlm:dlm_ast -> !grant\n",
	  "b.bind:2: 'grant' is an event of dlm_lock: '!' names an event the model has no edge for" },
	{ "instance = cpu\non dlm:dlm_ast -> grant $\n",
	  "b.bind:2: unexpected character '$'" },
	{ "instance = cpu\ngrant\n",
	  "b.bind:2: expected 'name = value' or a rule 'on SYSTEM:EVENT ...', found 'grant'" },
};

static void test_errors(void)
{
	struct da_model *m = load("dlm_lock");

	REQUIRE(m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mb_binding *b;

		err[0] = 0;
		b = mb_binding_parse(bad[i].text, "b.bind", m, err,
				     sizeof(err));
		if (!CHECK(!b && errno == EINVAL))
			fprintf(stderr, "  case %zu accepted\n", i);
		CHECK_STR(err, bad[i].err);
		mb_binding_free(b);
	}
	/* from a file: the path is in the message */
	CHECK(!mb_binding_load("/nonexistent.bind", m, err, sizeof(err)));
	CHECK_INT(errno, ENOENT);
	CHECK_STR(err, "/nonexistent.bind: No such file or directory");
out:
	da_model_free(m);
}

int main(int argc, char **argv)
{
	test_shipped();
	test_rule_shape();
	test_errors();
	return check_summary(argv[0]);
}
