// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * binding.c - read binding files (format in models/README.md).
 *
 * Line oriented: "name = value" settings and "on ..." rules, '#' starts a
 * comment.  Every mistake is reported as FILE:LINE: message and nothing is
 * guessed: an unknown setting, a model event or state the model does not
 * have, a holder predicate without a holder table, a rule that can never do
 * anything.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

#define MAX_BINDING_BYTES (1u << 20)
#define MAX_TOKENS 64

struct bparser {
	const char *file;
	unsigned int line;
	char *err;
	size_t errsz;
	bool failed;
	const struct da_model *m;
	struct mb_binding *b;
	bool seen[8]; /* settings given: instance key new forget holder
		       * compat model */
	unsigned int key_line;
	unsigned int instance_line;
};

enum {
	SEEN_INSTANCE,
	SEEN_KEY,
	SEEN_NEW,
	SEEN_FORGET,
	SEEN_HOLDER,
	SEEN_COMPAT,
	SEEN_MODEL
};

static void bfail(struct bparser *bp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bfail(struct bparser *bp, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (bp->failed)
		return;
	bp->failed = true;
	if (!bp->errsz)
		return;
	n = snprintf(bp->err, bp->errsz, "%s:%u: ", bp->file, bp->line);
	if (n < 0 || (size_t)n >= bp->errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(bp->err + n, bp->errsz - n, fmt, ap);
	va_end(ap);
}

const char *mb_kind_name(enum mb_kind k)
{
	static const char *const names[] = { "global", "node", "cpu", "task",
					     "object" };

	return k <= MB_OBJECT ? names[k] : "?";
}

/* ---- tokens: words, numbers, operators ---- */

static bool word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Split @s (modified) into tokens; returns the count or -1. */
static int tokenize(struct bparser *bp, char *s, char **tok, char *buf)
{
	int n = 0;

	while (*s) {
		char *start = buf;

		if (isspace((unsigned char)*s) || *s == ',') {
			s++;
			continue;
		}
		if (*s == '#')
			break;
		if (n == MAX_TOKENS) {
			bfail(bp, "line too long: more than %d tokens",
			      MAX_TOKENS);
			return -1;
		}
		if (word_char(*s) ||
		    (*s == '-' && isdigit((unsigned char)s[1]))) {
			*buf++ = *s++;
			while (word_char(*s))
				*buf++ = *s++;
		} else if (!strncmp(s, "->", 2) || !strncmp(s, "==", 2) ||
			   !strncmp(s, "!=", 2) || !strncmp(s, "<=", 2) ||
			   !strncmp(s, ">=", 2) || !strncmp(s, "!&", 2) ||
			   !strncmp(s, "&&", 2)) {
			*buf++ = *s++;
			*buf++ = *s++;
		} else if (strchr("<>&=:-!", *s)) {
			*buf++ = *s++;
		} else {
			bfail(bp, "unexpected character '%c'", *s);
			return -1;
		}
		*buf++ = 0;
		tok[n++] = start;
	}
	return n;
}

static bool is_word(const char *t)
{
	return t && (isalpha((unsigned char)*t) || *t == '_');
}

static int parse_int(struct bparser *bp, const char *t, int64_t *v)
{
	char *end;

	errno = 0;
	if (t && *t == '-')
		*v = strtoll(t, &end, 0);
	else
		*v = (int64_t)strtoull(t ? t : "", &end, 0);
	if (!t || !*t || *end || errno) {
		bfail(bp, "expected a number, found '%s'",
		      t ? t : "end of line");
		return -1;
	}
	return 0;
}

static int value_of(struct bparser *bp, const char *name, struct mb_value *v,
		    bool in_pred)
{
	static const struct {
		const char *name;
		enum mb_src src;
		bool holder; /* needs a holder table */
	} pseudo[] = {
		{ "node", MB_SRC_NODE, false },
		{ "cpu", MB_SRC_CPU, false },
		{ "self", MB_SRC_SELF, true },
		{ "pending", MB_SRC_PENDING, true },
		{ "others", MB_SRC_OTHERS, true },
		{ "others_excl", MB_SRC_OTHERS_EXCL, true },
		{ "compatible", MB_SRC_COMPATIBLE, true },
	};

	if (!is_word(name)) {
		bfail(bp, "expected a field name, found '%s'",
		      name ? name : "end of line");
		return -1;
	}
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++) {
		if (strcmp(name, pseudo[i].name))
			continue;
		if (pseudo[i].holder && !in_pred) {
			bfail(bp, "'%s' can only be tested in a rule", name);
			return -1;
		}
		if (pseudo[i].holder && !bp->b->n_holder) {
			bfail(bp,
			      "'%s' needs a holder table: add 'holder = FIELDS'",
			      name);
			return -1;
		}
		v->src = pseudo[i].src;
		return 0;
	}
	v->src = MB_SRC_FIELD;
	v->field = strdup(name);
	if (!v->field) {
		bfail(bp, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* ---- settings ---- */

static int set_instance(struct bparser *bp, char **t, int n)
{
	static const char *const kinds[] = { "global", "node", "cpu", "task",
					     "object" };

	if (n != 1) {
		bfail(bp, "instance takes one of: global node cpu task object");
		return -1;
	}
	for (int k = 0; k <= MB_OBJECT; k++)
		if (!strcmp(t[0], kinds[k])) {
			bp->b->kind = k;
			bp->instance_line = bp->line;
			return 0;
		}
	bfail(bp,
	      "unknown instance kind '%s' (global, node, cpu, task, object)",
	      t[0]);
	return -1;
}

static int set_key(struct bparser *bp, char **t, int n)
{
	struct mb_binding *b = bp->b;

	if (n < 1) {
		bfail(bp, "key needs at least one field");
		return -1;
	}
	b->key = calloc(n, sizeof(*b->key));
	if (!b->key) {
		bfail(bp, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < i; j++)
			if (!strcmp(t[i], t[j])) {
				bfail(bp, "field '%s' twice in the key", t[i]);
				return -1;
			}
		if (value_of(bp, t[i], &b->key[i], false))
			return -1;
		b->n_key++;
	}
	bp->key_line = bp->line;
	return 0;
}

static int set_new(struct bparser *bp, char **t, int n)
{
	if (n == 1 && !strcmp(t[0], "monitoring")) {
		bp->b->new_monitoring = true;
		return 0;
	}
	if (n == 1 && !strcmp(t[0], "idle")) {
		bp->b->new_monitoring = false;
		return 0;
	}
	bfail(bp, "new takes 'monitoring' or 'idle'");
	return -1;
}

static int set_forget(struct bparser *bp, char **t, int n)
{
	if (n < 1) {
		bfail(bp, "forget needs at least one state");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int s = da_model_state(bp->m, t[i]);

		if (s < 0) {
			bfail(bp, "model %s has no state '%s'", bp->m->name,
			      t[i]);
			return -1;
		}
		if (!bp->m->final_states[s]) {
			bfail(bp,
			      "state '%s' is not a final state of %s: only final states can be forgotten",
			      t[i], bp->m->name);
			return -1;
		}
		if (s != bp->m->initial_state) {
			bfail(bp,
			      "state '%s' is not the initial state '%s': a forgotten instance restarts there",
			      t[i], bp->m->state_names[bp->m->initial_state]);
			return -1;
		}
		bp->b->forget[s] = true;
	}
	return 0;
}

static int set_holder(struct bparser *bp, char **t, int n)
{
	struct mb_binding *b = bp->b;

	if (n < 1 || n > 2) {
		bfail(bp, "holder takes one or two fields");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (value_of(bp, t[i], &b->holder[i], false))
			return -1;
		b->n_holder++;
	}
	return 0;
}

static int set_compat(struct bparser *bp, char **t, int n)
{
	struct mb_binding *b = bp->b;

	if (n < 1 || n > MB_MAX_CLASSES) {
		bfail(bp, "compat takes 1 to %d masks, one per class",
		      MB_MAX_CLASSES);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int64_t v;

		if (parse_int(bp, t[i], &v))
			return -1;
		if (v < 0 || v >= (1 << n)) {
			bfail(bp,
			      "compat mask '%s' names a class beyond the %d given",
			      t[i], n);
			return -1;
		}
		b->compat[i] = v;
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (!!(b->compat[i] & (1u << j)) !=
			    !!(b->compat[j] & (1u << i))) {
				bfail(bp,
				      "compat is not symmetric: class %d fits with %d but not %d with %d",
				      b->compat[i] & (1u << j) ? i : j,
				      b->compat[i] & (1u << j) ? j : i,
				      b->compat[i] & (1u << j) ? j : i,
				      b->compat[i] & (1u << j) ? i : j);
				return -1;
			}
	b->n_classes = n;
	return 0;
}

static int setting(struct bparser *bp, char **t, int n)
{
	static const struct {
		const char *name;
		int seen;
		int (*fn)(struct bparser *bp, char **t, int n);
	} settings[] = {
		{ "instance", SEEN_INSTANCE, set_instance },
		{ "key", SEEN_KEY, set_key },
		{ "new", SEEN_NEW, set_new },
		{ "forget", SEEN_FORGET, set_forget },
		{ "holder", SEEN_HOLDER, set_holder },
		{ "compat", SEEN_COMPAT, set_compat },
	};

	if (!strcmp(t[0], "model")) {
		if (n != 3 || strcmp(t[2], bp->m->name)) {
			bfail(bp, "this binding is for model '%s', not '%s'",
			      n == 3 ? t[2] : "?", bp->m->name);
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		if (strcmp(t[0], settings[i].name))
			continue;
		if (bp->seen[settings[i].seen]) {
			bfail(bp, "'%s' given twice", t[0]);
			return -1;
		}
		bp->seen[settings[i].seen] = true;
		return settings[i].fn(bp, t + 2, n - 2);
	}
	bfail(bp,
	      "unknown setting '%s' (instance, key, new, forget, holder, compat, model)",
	      t[0]);
	return -1;
}

/* ---- rules ---- */

static int parse_op(const char *t, enum mb_op *op)
{
	static const char *const ops[] = { "==", "!=", "<", "<=",
					   ">",	 ">=", "&", "!&" };

	for (int i = 0; i < 8; i++)
		if (t && !strcmp(t, ops[i])) {
			*op = i;
			return 0;
		}
	return -1;
}

static int parse_rule(struct bparser *bp, char **t, int n)
{
	struct mb_binding *b = bp->b;
	struct mb_rule *r;
	int i = 1;

	r = realloc(b->rules, (b->n_rules + 1) * sizeof(*r));
	if (!r) {
		bfail(bp, "out of memory");
		return -1;
	}
	b->rules = r;
	r = &b->rules[b->n_rules++];
	memset(r, 0, sizeof(*r));
	r->line = bp->line;
	r->model_event = -1;

	if (i + 2 >= n || !is_word(t[i]) || strcmp(t[i + 1], ":") ||
	    !is_word(t[i + 2])) {
		bfail(bp, "expected 'on SYSTEM:EVENT'");
		return -1;
	}
	r->system = strdup(t[i]);
	r->event = strdup(t[i + 2]);
	if (!r->system || !r->event) {
		bfail(bp, "out of memory");
		return -1;
	}
	i += 3;
	if (i < n && !strcmp(t[i], "if")) {
		i++;
		for (;;) {
			struct mb_pred *p;

			if (r->n_preds == MB_MAX_PREDS) {
				bfail(bp, "more than %d conditions in one rule",
				      MB_MAX_PREDS);
				return -1;
			}
			p = realloc(r->preds, (r->n_preds + 1) * sizeof(*p));
			if (!p) {
				bfail(bp, "out of memory");
				return -1;
			}
			r->preds = p;
			p = &r->preds[r->n_preds++];
			memset(p, 0, sizeof(*p));
			p->line = bp->line;
			if (value_of(bp, i < n ? t[i] : NULL, &p->v, true))
				return -1;
			i++;
			if (parse_op(i < n ? t[i] : NULL, &p->op)) {
				bfail(bp,
				      "expected an operator (== != < <= > >= & !&) after '%s', found '%s'",
				      t[i - 1], i < n ? t[i] : "end of line");
				return -1;
			}
			i++;
			if (parse_int(bp, i < n ? t[i] : NULL, &p->k))
				return -1;
			i++;
			if (i < n && !strcmp(t[i], "&&")) {
				i++;
				continue;
			}
			break;
		}
	}
	if (i >= n || strcmp(t[i], "->")) {
		bfail(bp, "expected '->' and a model event, found '%s'",
		      i < n ? t[i] : "end of line");
		return -1;
	}
	i++;
	if (i < n && !strcmp(t[i], "-")) {
		r->model_event = -1;
	} else if (i + 1 < n && !strcmp(t[i], "!") && is_word(t[i + 1])) {
		if (da_model_event(bp->m, t[i + 1]) >= 0) {
			bfail(bp,
			      "'%s' is an event of %s: '!' names an event the model has no edge for",
			      t[i + 1], bp->m->name);
			return -1;
		}
		r->model_event = MB_VIOLATION;
		r->violation = strdup(t[i + 1]);
		if (!r->violation) {
			bfail(bp, "out of memory");
			return -1;
		}
		i++;
	} else if (i < n && is_word(t[i])) {
		r->model_event = da_model_event(bp->m, t[i]);
		if (r->model_event < 0) {
			bfail(bp, "model %s has no event '%s'", bp->m->name,
			      t[i]);
			return -1;
		}
	} else {
		bfail(bp, "expected a model event, '!EVENT' or '-' after '->'");
		return -1;
	}
	for (i++; i < n; i++) {
		enum mb_action act = MB_ACT_NONE;

		if (!strcmp(t[i], "event") || !strcmp(t[i], "start") ||
		    !strcmp(t[i], "start_run")) {
			if (r->handler != MB_AUTO) {
				bfail(bp, "more than one handler");
				return -1;
			}
			if (r->model_event == -1) {
				bfail(bp, "'%s' needs a model event", t[i]);
				return -1;
			}
			r->handler = !strcmp(t[i], "event") ? MB_EVENT :
				     !strcmp(t[i], "start") ? MB_START :
							      MB_START_RUN;
			continue;
		}
		if (!strcmp(t[i], "hold"))
			act = MB_ACT_HOLD;
		else if (!strcmp(t[i], "request"))
			act = MB_ACT_REQUEST;
		else if (!strcmp(t[i], "grant"))
			act = MB_ACT_GRANT;
		else if (!strcmp(t[i], "release"))
			act = MB_ACT_RELEASE;
		if (act == MB_ACT_NONE) {
			bfail(bp,
			      "unknown rule option '%s' (event, start, start_run, hold, request, grant, release)",
			      t[i]);
			return -1;
		}
		if (r->action != MB_ACT_NONE) {
			bfail(bp, "more than one holder action");
			return -1;
		}
		if (!b->n_holder) {
			bfail(bp,
			      "'%s' needs a holder table: add 'holder = FIELDS' before the rules",
			      t[i]);
			return -1;
		}
		r->action = act;
		if (act == MB_ACT_HOLD || act == MB_ACT_REQUEST) {
			if (i + 2 >= n || strcmp(t[i + 1], "=")) {
				bfail(bp,
				      "'%s' needs a class: %s = FIELD or %s = NUMBER",
				      t[i], t[i], t[i]);
				return -1;
			}
			if (is_word(t[i + 2])) {
				if (value_of(bp, t[i + 2], &r->act_v, false))
					return -1;
			} else {
				r->act_const = true;
				if (parse_int(bp, t[i + 2], &r->act_k))
					return -1;
				if (r->act_k < 0 ||
				    r->act_k >= MB_MAX_CLASSES) {
					bfail(bp,
					      "class %lld out of range 0..%d",
					      (long long)r->act_k,
					      MB_MAX_CLASSES - 1);
					return -1;
				}
			}
			i += 2;
		}
	}
	return 0;
}

static int check_whole(struct bparser *bp)
{
	struct mb_binding *b = bp->b;

	unsigned int last = bp->line;

	if (!bp->seen[SEEN_INSTANCE]) {
		bp->line = 1;
		bfail(bp, "no 'instance = KIND' setting");
		return -1;
	}
	if (b->kind == MB_OBJECT && !b->n_key) {
		bp->line = bp->instance_line;
		bfail(bp, "object instances need 'key = FIELDS'");
		return -1;
	}
	if (b->kind != MB_OBJECT && b->n_key) {
		bp->line = bp->key_line;
		bfail(bp, "'key' is only for object instances (this is %s)",
		      mb_kind_name(b->kind));
		return -1;
	}
	if (!b->n_rules) {
		bp->line = last;
		bfail(bp, "no rules: add 'on SYSTEM:EVENT -> MODEL_EVENT'");
		return -1;
	}
	if (b->n_holder && !b->n_classes) {
		/* without compat every class fits with every other */
		b->n_classes = MB_MAX_CLASSES;
		for (int i = 0; i < MB_MAX_CLASSES; i++)
			b->compat[i] = 0xffff;
	}
	return 0;
}

struct mb_binding *mb_binding_parse(const char *text, const char *file,
				    const struct da_model *m, char *err,
				    size_t errsz)
{
	struct bparser bp = {
		.file = file, .err = err, .errsz = errsz, .m = m
	};
	size_t len = strlen(text);
	char *copy = NULL, *line, *save = NULL, *buf = NULL;
	char *tok[MAX_TOKENS];

	if (errsz)
		err[0] = 0;
	bp.b = calloc(1, sizeof(*bp.b));
	copy = strdup(text);
	buf = malloc(2 * len + 2);
	if (!bp.b || !copy || !buf)
		goto nomem;
	bp.b->file = strdup(file);
	bp.b->forget = calloc(m->n_states, sizeof(bool));
	if (!bp.b->file || !bp.b->forget)
		goto nomem;
	bp.b->kind = MB_GLOBAL;

	/* strtok_r would merge empty lines and lose the count */
	line = copy;
	while (line && !bp.failed) {
		char *nl = strchr(line, '\n');
		int n;

		if (nl)
			*nl = 0;
		bp.line++;
		save = nl ? nl + 1 : NULL;
		n = tokenize(&bp, line, tok, buf);
		if (n > 0) {
			if (!strcmp(tok[0], "on"))
				parse_rule(&bp, tok, n);
			else if (n >= 2 && !strcmp(tok[1], "="))
				setting(&bp, tok, n);
			else
				bfail(&bp,
				      "expected 'name = value' or a rule 'on SYSTEM:EVENT ...', found '%s'",
				      tok[0]);
		}
		line = save;
	}
	/* a final newline ends the last line, it does not start one */
	if (len && text[len - 1] == '\n')
		bp.line--;
	if (!bp.line)
		bp.line = 1;
	if (!bp.failed)
		check_whole(&bp);
	free(copy);
	free(buf);
	if (bp.failed) {
		mb_binding_free(bp.b);
		errno = EINVAL;
		return NULL;
	}
	return bp.b;
nomem:
	free(copy);
	free(buf);
	mb_binding_free(bp.b);
	snprintf(err, errsz, "%s: out of memory", file);
	errno = ENOMEM;
	return NULL;
}

struct mb_binding *mb_binding_load(const char *path, const struct da_model *m,
				   char *err, size_t errsz)
{
	struct mb_binding *b;
	FILE *f = fopen(path, "re");
	char *text;
	size_t n;
	int saved;

	if (!f) {
		saved = errno;
		snprintf(err, errsz, "%s: %s", path, strerror(saved));
		errno = saved;
		return NULL;
	}
	text = malloc(MAX_BINDING_BYTES + 1);
	if (!text) {
		fclose(f);
		snprintf(err, errsz, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(text, 1, MAX_BINDING_BYTES + 1, f);
	saved = ferror(f) ? errno : 0;
	fclose(f);
	if (saved || n > MAX_BINDING_BYTES || memchr(text, 0, n)) {
		snprintf(err, errsz, "%s: %s", path,
			 saved		       ? strerror(saved) :
			 n > MAX_BINDING_BYTES ? "larger than 1 MiB" :
						 "NUL byte in the file");
		free(text);
		errno = saved ? saved : EINVAL;
		return NULL;
	}
	text[n] = 0;
	b = mb_binding_parse(text, path, m, err, errsz);
	saved = errno;
	free(text);
	errno = saved;
	return b;
}

static void value_free(struct mb_value *v)
{
	free(v->field);
	v->field = NULL;
}

void mb_binding_free(struct mb_binding *b)
{
	if (!b)
		return;
	for (unsigned int i = 0; i < b->n_rules; i++) {
		struct mb_rule *r = &b->rules[i];

		free(r->system);
		free(r->event);
		free(r->violation);
		for (unsigned int k = 0; k < r->n_preds; k++)
			value_free(&r->preds[k].v);
		free(r->preds);
		value_free(&r->act_v);
	}
	free(b->rules);
	for (unsigned int i = 0; i < b->n_key; i++)
		value_free(&b->key[i]);
	free(b->key);
	value_free(&b->holder[0]);
	value_free(&b->holder[1]);
	free(b->forget);
	free(b->file);
	free(b);
}
