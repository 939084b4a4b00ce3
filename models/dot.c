// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dot.c - read DOT automata in the kernel RV conventions into a da_model.
 *
 * This is a small recursive-descent parser for the part of the DOT language
 * that automata use (graph, node and edge statements, attribute lists,
 * anonymous subgraphs carrying node defaults), not a line matcher: a model
 * reformatted by hand or by graphviz still reads the same.  Semantics and
 * names follow the kernel's generator (tools/verification/rvgen): states
 * and events sorted by name, the initial state first, ',' in state names
 * becomes '_', labels split at "\n".  Everything the generator would choke
 * on or silently get wrong is an error naming FILE:LINE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "da_model.h"

#define INIT_MARKER "__init_"
#define MAX_DOT_BYTES (16u << 20)

enum tok_kind {
	TOK_EOF,
	TOK_ID, /* identifier, number or quoted string */
	TOK_ARROW, /* -> */
	TOK_PUNCT, /* one of { } [ ] ; , = */
};

struct tok {
	enum tok_kind kind;
	char punct;
	unsigned int line;
	char *text; /* TOK_ID: owned by the parser, unescaped */
	bool quoted;
};

struct strv {
	char **v;
	unsigned int *line;
	unsigned int n, cap;
};

struct edge {
	char *from, *to, *label;
	unsigned int line;
};

struct parser {
	const char *start, *p, *end, *file;
	unsigned int line;
	struct tok tok;
	char *err;
	size_t errsz;
	bool failed;
	/* what the graph declares */
	struct strv nodes; /* every node statement, in order */
	struct strv finals;
	char *initial;
	unsigned int initial_line;
	struct edge *edges;
	unsigned int n_edges, cap_edges;
	unsigned int graph_line;
};

struct scope {
	char *shape; /* node default, borrowed from the token text pool */
};

static void fail(struct parser *ps, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct parser *ps, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed)
		return;
	ps->failed = true;
	if (!ps->errsz)
		return;
	n = snprintf(ps->err, ps->errsz, "%s:%u: ", ps->file, line);
	if (n < 0 || (size_t)n >= ps->errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errsz - n, fmt, ap);
	va_end(ap);
}

static void oom(struct parser *ps)
{
	fail(ps, ps->line, "out of memory");
	errno = ENOMEM;
}

static int strv_add(struct parser *ps, struct strv *s, const char *str,
		    unsigned int line)
{
	if (s->n == s->cap) {
		unsigned int cap = s->cap ? 2 * s->cap : 16;
		char **v = realloc(s->v, cap * sizeof(*v));
		unsigned int *l;

		if (!v)
			goto nomem;
		s->v = v;
		l = realloc(s->line, cap * sizeof(*l));
		if (!l)
			goto nomem;
		s->line = l;
		s->cap = cap;
	}
	s->v[s->n] = strdup(str);
	if (!s->v[s->n])
		goto nomem;
	s->line[s->n++] = line;
	return 0;
nomem:
	oom(ps);
	return -1;
}

static void strv_free(struct strv *s)
{
	for (unsigned int i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s->line);
	memset(s, 0, sizeof(*s));
}

/* ---- lexer ---- */

static bool is_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       (unsigned char)c >= 0x80;
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end) {
		char c = *ps->p;
		bool bol = ps->p == ps->start || ps->p[-1] == '\n';

		if (c == '\n') {
			ps->line++;
			ps->p++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
			   c == '\v') {
			ps->p++;
		} else if (c == '#' && bol) {
			/* C preprocessor output lines, as DOT allows */
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '/') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '*') {
			unsigned int start = ps->line;

			ps->p += 2;
			while (ps->p + 1 < ps->end &&
			       !(ps->p[0] == '*' && ps->p[1] == '/')) {
				if (*ps->p == '\n')
					ps->line++;
				ps->p++;
			}
			if (ps->p + 1 >= ps->end) {
				fail(ps, start, "unterminated comment");
				ps->p = ps->end;
				return;
			}
			ps->p += 2;
		} else {
			return;
		}
	}
}

static void next(struct parser *ps)
{
	struct tok *t = &ps->tok;
	const char *s;

	free(t->text);
	t->text = NULL;
	t->quoted = false;
	skip_space(ps);
	t->line = ps->line;
	if (ps->failed || ps->p >= ps->end) {
		t->kind = TOK_EOF;
		return;
	}
	s = ps->p;
	if (strchr("{}[];,=", *s)) {
		t->kind = TOK_PUNCT;
		t->punct = *s;
		ps->p++;
		return;
	}
	if (*s == '-' && s + 1 < ps->end && s[1] == '>') {
		t->kind = TOK_ARROW;
		ps->p += 2;
		return;
	}
	if (*s == '-' && s + 1 < ps->end && s[1] == '-') {
		fail(ps, ps->line, "undirected edge '--': use '->'");
		t->kind = TOK_EOF;
		return;
	}
	if (*s == '"') {
		/* Keep escapes as written ("a\nb" stays backslash-n) except
		 * \" and line continuations, as DOT does. */
		size_t n = 0;
		char *out;

		ps->p++;
		out = malloc(ps->end - ps->p + 1);
		if (!out) {
			oom(ps);
			t->kind = TOK_EOF;
			return;
		}
		while (ps->p < ps->end && *ps->p != '"') {
			if (*ps->p == '\\' && ps->p + 1 < ps->end &&
			    ps->p[1] == '"') {
				out[n++] = '"';
				ps->p += 2;
				continue;
			}
			if (*ps->p == '\\' && ps->p + 1 < ps->end &&
			    ps->p[1] == '\n') {
				ps->p += 2;
				ps->line++;
				continue;
			}
			if (*ps->p == '\n')
				ps->line++;
			out[n++] = *ps->p++;
		}
		if (ps->p >= ps->end) {
			free(out);
			fail(ps, t->line, "unterminated string");
			t->kind = TOK_EOF;
			return;
		}
		ps->p++;
		out[n] = 0;
		t->kind = TOK_ID;
		t->text = out;
		t->quoted = true;
		return;
	}
	if (is_id_char(*s) || *s == '-') {
		const char *e = s + 1;

		while (e < ps->end && is_id_char(*e))
			e++;
		t->text = strndup(s, e - s);
		if (!t->text) {
			oom(ps);
			t->kind = TOK_EOF;
			return;
		}
		t->kind = TOK_ID;
		ps->p = e;
		return;
	}
	if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
		fail(ps, ps->line, "unexpected byte 0x%02x", (unsigned char)*s);
	else
		fail(ps, ps->line, "unexpected character '%c'", *s);
	t->kind = TOK_EOF;
}

static bool is_punct(struct parser *ps, char c)
{
	return ps->tok.kind == TOK_PUNCT && ps->tok.punct == c;
}

static bool is_keyword(struct parser *ps, const char *kw)
{
	return ps->tok.kind == TOK_ID && !ps->tok.quoted &&
	       !strcasecmp(ps->tok.text, kw);
}

static const char *tok_desc(struct parser *ps, char *buf, size_t sz)
{
	switch (ps->tok.kind) {
	case TOK_EOF:
		return "end of file";
	case TOK_ARROW:
		return "'->'";
	case TOK_PUNCT:
		snprintf(buf, sz, "'%c'", ps->tok.punct);
		return buf;
	case TOK_ID:
		snprintf(buf, sz, "'%.40s'", ps->tok.text);
		return buf;
	}
	return "?";
}

static void expected(struct parser *ps, const char *what)
{
	char buf[64];

	fail(ps, ps->tok.line, "syntax error: expected %s, found %s", what,
	     tok_desc(ps, buf, sizeof(buf)));
}

/* ---- grammar ---- */

struct attrs {
	char *shape;
	char *label;
	unsigned int label_line;
};

static void attrs_free(struct attrs *a)
{
	free(a->shape);
	free(a->label);
	memset(a, 0, sizeof(*a));
}

static int set_str(struct parser *ps, char **dst, const char *src)
{
	char *s = strdup(src);

	if (!s) {
		oom(ps);
		return -1;
	}
	free(*dst);
	*dst = s;
	return 0;
}

/* attr_list: '[' (ID '=' ID [;,])* ']' repeated */
static int parse_attr_list(struct parser *ps, struct attrs *a)
{
	while (is_punct(ps, '[')) {
		next(ps);
		while (!is_punct(ps, ']')) {
			char *key;
			unsigned int line = ps->tok.line;

			if (ps->tok.kind != TOK_ID) {
				expected(ps, "an attribute name or ']'");
				return -1;
			}
			key = ps->tok.text;
			ps->tok.text = NULL;
			next(ps);
			if (!is_punct(ps, '=')) {
				free(key);
				expected(ps, "'='");
				return -1;
			}
			next(ps);
			if (ps->tok.kind != TOK_ID) {
				free(key);
				expected(ps, "an attribute value");
				return -1;
			}
			if (!strcmp(key, "shape")) {
				if (set_str(ps, &a->shape, ps->tok.text))
					goto bad;
			} else if (!strcmp(key, "label")) {
				if (set_str(ps, &a->label, ps->tok.text))
					goto bad;
				a->label_line = line;
			}
			free(key);
			next(ps);
			if (is_punct(ps, ';') || is_punct(ps, ','))
				next(ps);
			continue;
bad:
			free(key);
			return -1;
		}
		next(ps);
	}
	return ps->failed ? -1 : 0;
}

/* Kernel normalisation of state names: quotes gone (lexer), ',' -> '_'. */
static void normalise_state(char *s)
{
	for (; *s; s++)
		if (*s == ',')
			*s = '_';
}

static bool is_c_ident(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static int add_edge(struct parser *ps, const char *from, const char *to,
		    const char *label, unsigned int line)
{
	struct edge *e;

	if (ps->n_edges == ps->cap_edges) {
		unsigned int cap = ps->cap_edges ? 2 * ps->cap_edges : 32;

		e = realloc(ps->edges, cap * sizeof(*e));
		if (!e) {
			oom(ps);
			return -1;
		}
		ps->edges = e;
		ps->cap_edges = cap;
	}
	e = &ps->edges[ps->n_edges];
	e->from = strdup(from);
	e->to = strdup(to);
	e->label = label ? strdup(label) : NULL;
	e->line = line;
	ps->n_edges++;
	if (!e->from || !e->to || (label && !e->label)) {
		oom(ps);
		return -1;
	}
	return 0;
}

static int declare_node(struct parser *ps, char *name, const char *shape,
			unsigned int line)
{
	if (!strncmp(name, INIT_MARKER, strlen(INIT_MARKER))) {
		const char *init = name + strlen(INIT_MARKER);

		if (ps->initial && strcmp(ps->initial, init)) {
			fail(ps, line,
			     "second initial state '%s' (the first is '%s' on line %u)",
			     init, ps->initial, ps->initial_line);
			return -1;
		}
		if (!ps->initial) {
			if (!*init) {
				fail(ps, line, "empty initial state name");
				return -1;
			}
			if (set_str(ps, &ps->initial, init))
				return -1;
			normalise_state(ps->initial);
			ps->initial_line = line;
		}
		return 0;
	}
	normalise_state(name);
	if (!is_c_ident(name)) {
		fail(ps, line, "state name '%s' is not a C identifier", name);
		return -1;
	}
	if (strv_add(ps, &ps->nodes, name, line))
		return -1;
	if (shape &&
	    (!strcmp(shape, "doublecircle") || !strcmp(shape, "ellipse")))
		return strv_add(ps, &ps->finals, name, line);
	return 0;
}

static int parse_stmt_list(struct parser *ps, const struct scope *outer);

static int parse_subgraph(struct parser *ps, const struct scope *outer)
{
	struct scope inner = *outer;
	int ret;

	/* '{' already current */
	next(ps);
	ret = parse_stmt_list(ps, &inner);
	if (inner.shape != outer->shape)
		free(inner.shape);
	if (ret)
		return -1;
	if (!is_punct(ps, '}')) {
		expected(ps, "'}'");
		return -1;
	}
	next(ps);
	return 0;
}

static int parse_stmt(struct parser *ps, struct scope *sc,
		      const struct scope *outer)
{
	struct attrs a = { 0 };
	unsigned int line = ps->tok.line;
	char *id;
	int ret = -1;

	if (is_punct(ps, '{'))
		return parse_subgraph(ps, sc);
	if (is_keyword(ps, "subgraph")) {
		next(ps);
		if (ps->tok.kind == TOK_ID)
			next(ps);
		if (!is_punct(ps, '{')) {
			expected(ps, "'{'");
			return -1;
		}
		return parse_subgraph(ps, sc);
	}
	if (is_keyword(ps, "node")) {
		next(ps);
		if (!is_punct(ps, '[')) {
			expected(ps, "'['");
			return -1;
		}
		if (parse_attr_list(ps, &a))
			goto out;
		if (a.shape) {
			if (sc->shape != outer->shape)
				free(sc->shape);
			sc->shape = a.shape;
			a.shape = NULL;
		}
		ret = 0;
		goto out;
	}
	if (is_keyword(ps, "edge") || is_keyword(ps, "graph")) {
		next(ps);
		if (!is_punct(ps, '[')) {
			expected(ps, "'['");
			return -1;
		}
		ret = parse_attr_list(ps, &a);
		goto out;
	}
	if (ps->tok.kind != TOK_ID) {
		expected(ps, "a statement");
		return -1;
	}
	id = ps->tok.text;
	ps->tok.text = NULL;
	next(ps);
	if (is_punct(ps, '=')) { /* graph attribute, e.g. rank = min */
		free(id);
		next(ps);
		if (ps->tok.kind != TOK_ID) {
			expected(ps, "a value");
			return -1;
		}
		next(ps);
		return 0;
	}
	if (ps->tok.kind == TOK_ARROW) {
		char *to;

		next(ps);
		if (ps->tok.kind != TOK_ID) {
			free(id);
			expected(ps, "a state after '->'");
			return -1;
		}
		to = ps->tok.text;
		ps->tok.text = NULL;
		next(ps);
		if (ps->tok.kind == TOK_ARROW) {
			fail(ps, line,
			     "edge chains 'a -> b -> c' are not supported: one edge per statement");
		} else if (!parse_attr_list(ps, &a)) {
			if (ps->tok.kind == TOK_ARROW)
				fail(ps, line,
				     "edge chains 'a -> b -> c' are not supported: one edge per statement");
			else
				ret = add_edge(ps, id, to, a.label,
					       a.label ? a.label_line : line);
		}
		free(id);
		free(to);
		goto out;
	}
	/* node statement */
	if (parse_attr_list(ps, &a)) {
		free(id);
		goto out;
	}
	ret = declare_node(ps, id, a.shape ? a.shape : sc->shape, line);
	free(id);
out:
	attrs_free(&a);
	return ps->failed ? -1 : ret;
}

static int parse_stmt_list(struct parser *ps, const struct scope *outer)
{
	struct scope sc = *outer;
	int ret = 0;

	while (!ps->failed && !is_punct(ps, '}') && ps->tok.kind != TOK_EOF) {
		if (parse_stmt(ps, &sc, outer)) {
			ret = -1;
			break;
		}
		if (is_punct(ps, ';'))
			next(ps);
	}
	if (sc.shape != outer->shape)
		free(sc.shape);
	return ps->failed ? -1 : ret;
}

static int parse_graph(struct parser *ps)
{
	struct scope top = { 0 };

	next(ps);
	if (is_keyword(ps, "strict"))
		next(ps);
	ps->graph_line = ps->tok.line;
	if (!is_keyword(ps, "digraph")) {
		fail(ps, ps->tok.line,
		     "not an automaton: expected 'digraph state_automaton'");
		return -1;
	}
	next(ps);
	if (ps->tok.kind != TOK_ID || strcmp(ps->tok.text, "state_automaton")) {
		fail(ps, ps->tok.line,
		     "not an automaton: the graph must be named 'state_automaton'");
		return -1;
	}
	next(ps);
	if (!is_punct(ps, '{')) {
		expected(ps, "'{'");
		return -1;
	}
	next(ps);
	if (parse_stmt_list(ps, &top))
		return -1;
	if (!is_punct(ps, '}')) {
		expected(ps, "'}'");
		return -1;
	}
	next(ps);
	if (ps->tok.kind != TOK_EOF) {
		expected(ps, "end of file after the graph");
		return -1;
	}
	return 0;
}

/* ---- building the table ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int find_sorted(char **v, unsigned int n, const char *s)
{
	char **hit = bsearch(&s, v, n, sizeof(*v), cmp_str);

	return hit ? (int)(hit - v) : -1;
}

/* Sorted, unique copy of @s's strings; lines[] keeps first occurrence. */
static int unique_sorted(struct parser *ps, const struct strv *s, char ***out,
			 unsigned int **lines, unsigned int *n)
{
	char **v = calloc(s->n ? s->n : 1, sizeof(*v));
	unsigned int *l = calloc(s->n ? s->n : 1, sizeof(*l));
	unsigned int k = 0;

	if (!v || !l) {
		free(v);
		free(l);
		oom(ps);
		return -1;
	}
	for (unsigned int i = 0; i < s->n; i++)
		v[i] = s->v[i];
	qsort(v, s->n, sizeof(*v), cmp_str);
	for (unsigned int i = 0; i < s->n; i++)
		if (!k || strcmp(v[k - 1], v[i]))
			v[k++] = v[i];
	for (unsigned int i = 0; i < k; i++) {
		v[i] = strdup(v[i]);
		if (!v[i]) {
			while (i--)
				free(v[i]);
			free(v);
			free(l);
			oom(ps);
			return -1;
		}
		for (unsigned int j = 0; j < s->n; j++)
			if (!strcmp(s->v[j], v[i])) {
				l[i] = s->line[j];
				break;
			}
	}
	*out = v;
	*lines = l;
	*n = k;
	return 0;
}

/* Split an edge label at the two characters "\n" into events. */
static int label_events(struct parser *ps, const struct edge *e,
			struct strv *out)
{
	const char *p = e->label;

	for (;;) {
		const char *sep = strstr(p, "\\n");
		size_t len = sep ? (size_t)(sep - p) : strlen(p);
		char ev[256];

		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (!len) {
			fail(ps, e->line, "empty event name in label \"%s\"",
			     e->label);
			return -1;
		}
		if (len >= sizeof(ev)) {
			fail(ps, e->line, "event name too long");
			return -1;
		}
		memcpy(ev, p, len);
		ev[len] = 0;
		if (strchr(ev, ';')) {
			fail(ps, e->line,
			     "event '%s' has a constraint: hybrid automata are not supported",
			     ev);
			return -1;
		}
		if (!is_c_ident(ev)) {
			fail(ps, e->line,
			     "event name '%s' is not a C identifier", ev);
			return -1;
		}
		if (strv_add(ps, out, ev, e->line))
			return -1;
		if (!sep)
			return 0;
		p = sep + 2;
	}
}

static void compute_start_events(struct da_model *m)
{
	bool any_start = false;

	/* As the kernel's generator: an event is a start event when every
	 * edge it labels leads to the initial state; a start-run event when
	 * its only edge leaves the initial state (used only if no start
	 * event exists). */
	for (unsigned int e = 0; e < m->n_events; e++) {
		unsigned int used = 0, to_init = 0;

		for (unsigned int s = 0; s < m->n_states; s++) {
			unsigned int n = da_model_next(m, s, e);

			if (n != m->n_states)
				used++;
			if (n == m->initial_state)
				to_init++;
		}
		m->start_events[e] = to_init && used == to_init;
		m->start_run_events[e] =
			da_model_next(m, m->initial_state, e) != m->n_states &&
			used == 1;
		any_start |= m->start_events[e];
	}
	if (any_start)
		for (unsigned int e = 0; e < m->n_events; e++)
			m->start_run_events[e] = false;
}

static struct da_model *build(struct parser *ps, const char *name)
{
	struct da_model *m = calloc(1, sizeof(*m));
	struct strv evs = { 0 };
	unsigned int *ev_lines = NULL;
	unsigned int *edge_line_of = NULL;
	int init;

	if (!m)
		goto nomem;
	m->name = strdup(name);
	m->file = strdup(ps->file);
	if (!m->name || !m->file)
		goto nomem;
	if (!ps->initial) {
		fail(ps, ps->graph_line,
		     "no initial state: add an invisible node \"%sSTATE\" and an edge from it to STATE",
		     INIT_MARKER);
		goto fail;
	}
	if (unique_sorted(ps, &ps->nodes, &m->state_names, &m->state_lines,
			  &m->n_states))
		goto fail;
	init = find_sorted(m->state_names, m->n_states, ps->initial);
	if (init < 0) {
		fail(ps, ps->initial_line,
		     "initial state '%s' is not declared as a node",
		     ps->initial);
		goto fail;
	}
	if (m->n_states > DA_MAX_STATES - 1) {
		fail(ps, ps->graph_line, "too many states: %u (at most %u)",
		     m->n_states, DA_MAX_STATES - 1);
		goto fail;
	}
	/* check edges and collect events (sorted state names still) */
	for (unsigned int i = 0; i < ps->n_edges; i++) {
		struct edge *e = &ps->edges[i];

		if (!strncmp(e->from, INIT_MARKER, strlen(INIT_MARKER))) {
			normalise_state(e->to);
			if (strcmp(e->from + strlen(INIT_MARKER), e->to) ||
			    e->label) {
				fail(ps, e->line,
				     "the edge from '%s' must go to '%s' and carry no label",
				     e->from, ps->initial);
				goto fail;
			}
			continue;
		}
		normalise_state(e->from);
		normalise_state(e->to);
		if (find_sorted(m->state_names, m->n_states, e->from) < 0) {
			fail(ps, e->line, "edge from unknown state '%s'",
			     e->from);
			goto fail;
		}
		if (find_sorted(m->state_names, m->n_states, e->to) < 0) {
			fail(ps, e->line, "edge to unknown state '%s'", e->to);
			goto fail;
		}
		if (!e->label) {
			fail(ps, e->line,
			     "edge '%s' -> '%s' has no label naming its event",
			     e->from, e->to);
			goto fail;
		}
		if (label_events(ps, e, &evs))
			goto fail;
	}
	if (!evs.n) {
		fail(ps, ps->graph_line, "the automaton has no events");
		goto fail;
	}
	if (unique_sorted(ps, &evs, &m->event_names, &ev_lines, &m->n_events))
		goto fail;
	if (m->n_events > DA_MAX_EVENTS) {
		fail(ps, ps->graph_line, "too many events: %u (at most %u)",
		     m->n_events, DA_MAX_EVENTS);
		goto fail;
	}
	/* the header's enums must not clash */
	for (unsigned int i = 0; i < m->n_states; i++) {
		const char *s = m->state_names[i];

		if (find_sorted(m->event_names, m->n_events, s) >= 0) {
			fail(ps, m->state_lines[i],
			     "'%s' names a state and an event: their enum constants would clash",
			     s);
			goto fail;
		}
		if (!strcmp(s, "state_max") || !strcmp(s, "event_max")) {
			fail(ps, m->state_lines[i],
			     "state name '%s' is reserved for the header", s);
			goto fail;
		}
	}
	for (unsigned int i = 0; i < m->n_events; i++)
		if (!strcmp(m->event_names[i], "state_max") ||
		    !strcmp(m->event_names[i], "event_max")) {
			fail(ps, ev_lines[i],
			     "event name '%s' is reserved for the header",
			     m->event_names[i]);
			goto fail;
		}
	/* initial state first, the rest keep their sorted order */
	{
		char *s = m->state_names[init];
		unsigned int l = m->state_lines[init];

		memmove(&m->state_names[1], &m->state_names[0],
			init * sizeof(char *));
		memmove(&m->state_lines[1], &m->state_lines[0],
			init * sizeof(unsigned int));
		m->state_names[0] = s;
		m->state_lines[0] = l;
	}
	m->function = malloc((size_t)m->n_states * m->n_events *
			     sizeof(*m->function));
	edge_line_of = calloc((size_t)m->n_states * m->n_events,
			      sizeof(*edge_line_of));
	m->final_states = calloc(m->n_states, sizeof(bool));
	m->start_events = calloc(m->n_events, sizeof(bool));
	m->start_run_events = calloc(m->n_events, sizeof(bool));
	if (!m->function || !edge_line_of || !m->final_states ||
	    !m->start_events || !m->start_run_events)
		goto nomem;
	for (size_t i = 0; i < (size_t)m->n_states * m->n_events; i++)
		m->function[i] = m->n_states;
	for (unsigned int i = 0; i < ps->n_edges; i++) {
		struct edge *e = &ps->edges[i];
		struct strv one = { 0 };
		int from, to;

		if (!strncmp(e->from, INIT_MARKER, strlen(INIT_MARKER)))
			continue;
		from = da_model_state(m, e->from);
		to = da_model_state(m, e->to);
		if (label_events(ps, e, &one)) {
			strv_free(&one);
			goto fail;
		}
		for (unsigned int k = 0; k < one.n; k++) {
			int ev = da_model_event(m, one.v[k]);
			size_t at = (size_t)from * m->n_events + ev;

			if (edge_line_of[at]) {
				unsigned int prev = m->function[at];

				if (prev == (unsigned int)to)
					fail(ps, e->line,
					     "duplicate edge '%s' -> '%s' for event '%s' (first on line %u)",
					     e->from, e->to, one.v[k],
					     edge_line_of[at]);
				else
					fail(ps, e->line,
					     "not deterministic: event '%s' from state '%s' goes to '%s' here and to '%s' on line %u",
					     one.v[k], e->from, e->to,
					     m->state_names[prev],
					     edge_line_of[at]);
				strv_free(&one);
				goto fail;
			}
			m->function[at] = to;
			edge_line_of[at] = e->line;
		}
		strv_free(&one);
	}
	if (ps->finals.n) {
		for (unsigned int i = 0; i < ps->finals.n; i++)
			m->final_states[da_model_state(m, ps->finals.v[i])] =
				true;
	} else {
		m->final_states[0] = true;
	}
	m->initial_state = 0;
	compute_start_events(m);
	free(ev_lines);
	free(edge_line_of);
	strv_free(&evs);
	return m;
nomem:
	oom(ps);
fail:
	free(ev_lines);
	free(edge_line_of);
	strv_free(&evs);
	da_model_free(m);
	if (errno != ENOMEM)
		errno = EINVAL;
	return NULL;
}

static int name_from_path(const char *path, char *out, size_t sz)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 4 && !strcmp(base + len - 4, ".dot"))
		len -= 4;
	else if (len > 3 && !strcmp(base + len - 3, ".gv"))
		len -= 3;
	else
		return -1;
	if (len >= sz)
		return -1;
	memcpy(out, base, len);
	out[len] = 0;
	return 0;
}

struct da_model *da_model_parse(const char *text, size_t len, const char *file,
				const char *name, char *err, size_t errsz)
{
	struct parser ps = {
		.start = text,
		.p = text,
		.end = text + len,
		.file = file,
		.line = 1,
		.err = err,
		.errsz = errsz,
	};
	struct da_model *m = NULL;
	char base[128];

	if (errsz)
		err[0] = 0;
	if (!name) {
		if (name_from_path(file, base, sizeof(base))) {
			snprintf(
				err, errsz,
				"%s: not a .dot or .gv file name: give the model a name",
				file);
			errno = EINVAL;
			return NULL;
		}
		name = base;
	}
	if (!is_c_ident(name)) {
		snprintf(err, errsz,
			 "%s: model name '%s' is not a C identifier", file,
			 name);
		errno = EINVAL;
		return NULL;
	}
	if (memchr(text, 0, len)) {
		const char *z = memchr(text, 0, len);
		unsigned int line = 1;

		for (const char *q = text; q < z; q++)
			line += *q == '\n';
		snprintf(err, errsz, "%s:%u: NUL byte in the file", file, line);
		errno = EINVAL;
		return NULL;
	}
	errno = 0;
	if (!parse_graph(&ps))
		m = build(&ps, name);
	free(ps.tok.text);
	strv_free(&ps.nodes);
	strv_free(&ps.finals);
	free(ps.initial);
	for (unsigned int i = 0; i < ps.n_edges; i++) {
		free(ps.edges[i].from);
		free(ps.edges[i].to);
		free(ps.edges[i].label);
	}
	free(ps.edges);
	if (!m && errno != ENOMEM)
		errno = EINVAL;
	return m;
}

struct da_model *da_model_load(const char *path, const char *name, char *err,
			       size_t errsz)
{
	struct da_model *m = NULL;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		goto syserr;
	if (st.st_size > MAX_DOT_BYTES) {
		snprintf(err, errsz, "%s: larger than %u bytes", path,
			 MAX_DOT_BYTES);
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	buf = malloc(st.st_size + 1);
	if (!buf)
		goto syserr;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto syserr;
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	fd = -1;
	m = da_model_parse(buf, len, path, name, err, errsz);
	saved = errno;
	free(buf);
	errno = saved;
	return m;
syserr:
	saved = errno;
	snprintf(err, errsz, "%s: %s", path, strerror(saved));
	if (fd >= 0)
		close(fd);
	free(buf);
	errno = saved;
	return NULL;
}

void da_model_free(struct da_model *m)
{
	if (!m)
		return;
	for (unsigned int i = 0; m->state_names && i < m->n_states; i++)
		free(m->state_names[i]);
	for (unsigned int i = 0; m->event_names && i < m->n_events; i++)
		free(m->event_names[i]);
	free(m->state_names);
	free(m->event_names);
	free(m->state_lines);
	free(m->function);
	free(m->final_states);
	free(m->start_events);
	free(m->start_run_events);
	free(m->name);
	free(m->file);
	free(m);
}

int da_model_state(const struct da_model *m, const char *name)
{
	for (unsigned int i = 0; i < m->n_states; i++)
		if (!strcmp(m->state_names[i], name))
			return (int)i;
	return -1;
}

int da_model_event(const struct da_model *m, const char *name)
{
	return find_sorted(m->event_names, m->n_events, name);
}
