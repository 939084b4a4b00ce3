// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config.c - see config.h.
 *
 * A configuration is a list of section instances.  Single sections exist
 * from the start, holding defaults; a multi section gets an instance each
 * time a file names it.  Every instance carries one value slot per option of
 * the table (only its own section's slots are used): simple, and the tables
 * are small.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "config"
#include "config.h"
#include "log.h"

struct config_value {
	bool set;
	int64_t num;
	char *str;
};

struct config_section {
	const struct config_section_def *def;
	const struct config *cfg;
	char *instance;
	struct config_value *vals; /* indexed like cfg->opts */
};

struct config {
	const struct config_section_def *sections;
	const struct config_option *opts;
	size_t n_opts;
	struct config_section **secs;
	size_t n_secs;
	char err[512];
};

static int set_error(struct config *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int set_error(struct config *cfg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cfg->err, sizeof(cfg->err), fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

const char *config_error(const struct config *cfg)
{
	return cfg->err;
}

static const struct config_section_def *find_def(const struct config *cfg,
						 const char *name)
{
	for (const struct config_section_def *d = cfg->sections; d->name; d++)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

static int find_opt(const struct config *cfg, const char *section,
		    const char *name)
{
	for (size_t i = 0; i < cfg->n_opts; i++)
		if (!strcmp(cfg->opts[i].section, section) &&
		    !strcmp(cfg->opts[i].name, name))
			return (int)i;
	return -1;
}

static const char *type_name(enum config_type t)
{
	static const char *const names[] = {
		[CONFIG_INT] = "integer",	[CONFIG_BOOL] = "boolean",
		[CONFIG_STRING] = "string",	[CONFIG_ENUM] = "choice",
		[CONFIG_DURATION] = "duration", [CONFIG_SIZE] = "size",
	};
	return names[t];
}

/* Number with an optional unit suffix from @units; -1 if malformed. */
static int parse_scaled(const char *text, const char *const *units,
			const int64_t *scale, bool unit_required, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 0);
	if (errno || end == text || v < 0)
		return -1;
	if (!*end) {
		if (unit_required && v != 0)
			return -1;
		*out = v;
		return 0;
	}
	for (int i = 0; units[i]; i++) {
		if (strcasecmp(end, units[i]))
			continue;
		if (v > INT64_MAX / scale[i])
			return -1;
		*out = v * scale[i];
		return 0;
	}
	return -1;
}

static int parse_value(const struct config_option *o, const char *text,
		       struct config_value *out, char *why, size_t whylen)
{
	static const char *const dur_units[] = { "ns", "us", "ms", "s",
						 "m",  "h",  NULL };
	static const int64_t dur_scale[] = {
		1, 1000, 1000000, 1000000000LL, 60000000000LL, 3600000000000LL
	};
	static const char *const size_units[] = { "B",	 "K", "KiB", "M",
						  "MiB", "G", "GiB", NULL };
	static const int64_t size_scale[] = { 1,       1 << 10, 1 << 10,
					      1 << 20, 1 << 20, 1 << 30,
					      1 << 30 };
	static const char *const yes[] = { "1", "yes", "true", "on", NULL };
	static const char *const no[] = { "0", "no", "false", "off", NULL };
	int64_t v = 0;
	char *end;

	switch (o->type) {
	case CONFIG_STRING: {
		char *s = strdup(text);

		if (!s) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		free(out->str);
		out->str = s;
		return 0;
	}
	case CONFIG_BOOL:
		for (int i = 0; yes[i]; i++) {
			if (!strcasecmp(text, yes[i])) {
				out->num = 1;
				return 0;
			}
			if (!strcasecmp(text, no[i])) {
				out->num = 0;
				return 0;
			}
		}
		snprintf(why, whylen, "'%s' is not a boolean (use yes or no)",
			 text);
		return -1;
	case CONFIG_ENUM:
		for (int i = 0; o->choices[i]; i++) {
			if (!strcmp(text, o->choices[i])) {
				out->num = i;
				return 0;
			}
		}
		{
			int n = snprintf(why, whylen,
					 "'%s' is not one of:", text);

			for (int i = 0; o->choices[i] && n < (int)whylen; i++)
				n += snprintf(why + n, whylen - n, " %s",
					      o->choices[i]);
		}
		return -1;
	case CONFIG_INT:
		errno = 0;
		v = strtoll(text, &end, 0);
		if (errno || end == text || *end) {
			snprintf(why, whylen, "'%s' is not an integer", text);
			return -1;
		}
		break;
	case CONFIG_DURATION:
		if (parse_scaled(text, dur_units, dur_scale, true, &v)) {
			snprintf(why, whylen,
				 "'%s' is not a duration (e.g. 250ms, 2s, 1m)",
				 text);
			return -1;
		}
		break;
	case CONFIG_SIZE:
		if (parse_scaled(text, size_units, size_scale, false, &v)) {
			snprintf(why, whylen,
				 "'%s' is not a size (e.g. 4096, 64K, 16M, 1G)",
				 text);
			return -1;
		}
		break;
	}
	if ((o->min || o->max) && (v < o->min || v > o->max)) {
		snprintf(why, whylen,
			 "value %s out of range [%" PRId64 ", %" PRId64 "]",
			 text, o->min, o->max);
		return -1;
	}
	out->num = v;
	return 0;
}

static struct config_section *section_new(struct config *cfg,
					  const struct config_section_def *def,
					  const char *instance)
{
	struct config_section *sec, **secs;
	char why[256];

	secs = realloc(cfg->secs, (cfg->n_secs + 1) * sizeof(*secs));
	if (!secs)
		return NULL;
	cfg->secs = secs;
	sec = calloc(1, sizeof(*sec));
	if (!sec)
		return NULL;
	sec->def = def;
	sec->cfg = cfg;
	sec->instance = strdup(instance);
	sec->vals = calloc(cfg->n_opts, sizeof(*sec->vals));
	if (!sec->instance || !sec->vals)
		goto free_sec;
	for (size_t i = 0; i < cfg->n_opts; i++) {
		const struct config_option *o = &cfg->opts[i];

		if (strcmp(o->section, def->name) || !o->def)
			continue;
		if (parse_value(o, o->def, &sec->vals[i], why, sizeof(why))) {
			pr_err("bad default of [%s] %s: %s", o->section,
			       o->name, why);
			goto free_sec;
		}
	}
	cfg->secs[cfg->n_secs++] = sec;
	return sec;

free_sec:
	if (sec->vals)
		for (size_t i = 0; i < cfg->n_opts; i++)
			free(sec->vals[i].str);
	free(sec->vals);
	free(sec->instance);
	free(sec);
	return NULL;
}

struct config *config_create(const struct config_section_def *sections,
			     const struct config_option *opts)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->sections = sections;
	cfg->opts = opts;
	while (opts[cfg->n_opts].name)
		cfg->n_opts++;
	for (const struct config_section_def *d = sections; d->name; d++) {
		if (!d->multi && !section_new(cfg, d, "")) {
			config_destroy(cfg);
			return NULL;
		}
	}
	return cfg;
}

void config_destroy(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t s = 0; s < cfg->n_secs; s++) {
		for (size_t i = 0; i < cfg->n_opts; i++)
			free(cfg->secs[s]->vals[i].str);
		free(cfg->secs[s]->vals);
		free(cfg->secs[s]->instance);
		free(cfg->secs[s]);
	}
	free(cfg->secs);
	free(cfg);
}

static struct config_section *find_instance(const struct config *cfg,
					    const char *section,
					    const char *instance)
{
	for (size_t s = 0; s < cfg->n_secs; s++)
		if (!strcmp(cfg->secs[s]->def->name, section) &&
		    !strcmp(cfg->secs[s]->instance, instance))
			return cfg->secs[s];
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "[name]" or "[name instance]" at @where; sets *cur. */
static int parse_header(struct config *cfg, char *line, const char *where,
			struct config_section **cur)
{
	const struct config_section_def *def;
	char *end = strchr(line, ']');
	char *name, *instance;

	if (!end || *trim(end + 1))
		return set_error(cfg, "%s: malformed section header", where);
	*end = '\0';
	name = trim(line + 1);
	instance = name + strcspn(name, " \t");
	if (*instance)
		*instance++ = '\0';
	instance = trim(instance);
	def = find_def(cfg, name);
	if (!def)
		return set_error(cfg, "%s: unknown section [%s]", where, name);
	if (def->multi && !*instance)
		return set_error(cfg,
				 "%s: section [%s] needs a name: [%s NAME]",
				 where, name, name);
	if (!def->multi && *instance)
		return set_error(cfg, "%s: section [%s] takes no name", where,
				 name);
	if (def->multi) {
		if (find_instance(cfg, name, instance))
			return set_error(cfg, "%s: duplicate section [%s %s]",
					 where, name, instance);
		*cur = section_new(cfg, def, instance);
		if (!*cur)
			return set_error(cfg, "%s: out of memory", where);
	} else {
		*cur = find_instance(cfg, name, "");
	}
	return 0;
}

static int assign(struct config *cfg, struct config_section *sec,
		  const char *key, const char *value, const char *where,
		  bool once)
{
	char why[256];
	int i = find_opt(cfg, sec->def->name, key);

	if (i < 0)
		return set_error(cfg, "%s: unknown key '%s' in section [%s]",
				 where, key, sec->def->name);
	if (once && sec->vals[i].set)
		return set_error(cfg, "%s: duplicate key '%s' in section [%s]",
				 where, key, sec->def->name);
	if (parse_value(&cfg->opts[i], value, &sec->vals[i], why, sizeof(why)))
		return set_error(cfg, "%s: %s: %s", where, key, why);
	sec->vals[i].set = true;
	return 0;
}

static int parse_line(struct config *cfg, char *line, const char *where,
		      struct config_section **cur)
{
	char *key, *value;
	size_t n;

	line = trim(line);
	if (!*line || *line == '#' || *line == ';')
		return 0;
	if (*line == '[')
		return parse_header(cfg, line, where, cur);
	if (!*cur)
		return set_error(cfg, "%s: '%s' outside of any [section]",
				 where, line);
	n = strcspn(line, "= \t");
	key = line;
	value = line + n;
	if (*value) {
		*value++ = '\0';
		value = trim(value);
		if (*value == '=')
			value = trim(value + 1);
	}
	if (!*value)
		return set_error(cfg, "%s: key '%s' has no value", where, key);
	n = strlen(value);
	if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
		value[n - 1] = '\0';
		value++;
	}
	return assign(cfg, *cur, key, value, where, true);
}

int config_read(struct config *cfg, const char *path)
{
	struct config_section *cur = NULL;
	char *line = NULL, where[300];
	size_t cap = 0;
	int lineno = 0, ret = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return set_error(cfg, "%s: cannot open: %s", path,
				 strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		snprintf(where, sizeof(where), "%s:%d", path, ++lineno);
		ret = parse_line(cfg, line, where, &cur);
		if (ret)
			break;
	}
	if (!ret && ferror(f))
		ret = set_error(cfg, "%s: read error: %s", path,
				strerror(errno));
	free(line);
	fclose(f);
	return ret;
}

int config_override(struct config *cfg, const char *assignment)
{
	char buf[512], where[600], *key, *value, *instance, *dot;
	const struct config_section_def *def;
	struct config_section *sec;

	snprintf(where, sizeof(where), "override '%s'", assignment);
	if (strlen(assignment) >= sizeof(buf))
		return set_error(cfg, "%s: too long", where);
	strcpy(buf, assignment);
	value = strchr(buf, '=');
	dot = strchr(buf, '.');
	if (!value || !dot || dot > value)
		return set_error(cfg, "%s: use SECTION.KEY=VALUE", where);
	*value++ = '\0';
	*dot = '\0';
	key = dot + 1;
	instance = strchr(buf, ':');
	if (instance)
		*instance++ = '\0';
	def = find_def(cfg, buf);
	if (!def)
		return set_error(cfg, "%s: unknown section [%s]", where, buf);
	if (def->multi != (instance != NULL))
		return set_error(cfg,
				 def->multi ? "%s: use %s:NAME.KEY=VALUE" :
					      "%s: section [%s] takes no name",
				 where, buf);
	sec = find_instance(cfg, buf, instance ? instance : "");
	if (!sec)
		sec = section_new(cfg, def, instance);
	if (!sec)
		return set_error(cfg, "%s: out of memory", where);
	return assign(cfg, sec, key, value, where, false);
}

const struct config_section *
config_section(const struct config *cfg, const char *section, unsigned int idx)
{
	for (size_t s = 0; s < cfg->n_secs; s++)
		if (!strcmp(cfg->secs[s]->def->name, section) && idx-- == 0)
			return cfg->secs[s];
	return NULL;
}

const char *config_section_name(const struct config_section *sec)
{
	return sec->instance;
}

static const struct config_value *value_of(const struct config_section *sec,
					   const char *name,
					   enum config_type type)
{
	int i = find_opt(sec->cfg, sec->def->name, name);

	if (i < 0 || sec->cfg->opts[i].type != type) {
		pr_err("BUG: no %s option [%s] %s", type_name(type),
		       sec->def->name, name);
		abort();
	}
	return &sec->vals[i];
}

int64_t config_get_int(const struct config_section *sec, const char *name)
{
	int i = find_opt(sec->cfg, sec->def->name, name);
	enum config_type t = i < 0 ? CONFIG_INT : sec->cfg->opts[i].type;

	/* durations and sizes are integers too */
	if (t != CONFIG_DURATION && t != CONFIG_SIZE)
		t = CONFIG_INT;
	return value_of(sec, name, t)->num;
}

bool config_get_bool(const struct config_section *sec, const char *name)
{
	return value_of(sec, name, CONFIG_BOOL)->num;
}

const char *config_get_string(const struct config_section *sec,
			      const char *name)
{
	return value_of(sec, name, CONFIG_STRING)->str;
}

int config_get_enum(const struct config_section *sec, const char *name)
{
	return (int)value_of(sec, name, CONFIG_ENUM)->num;
}

bool config_is_set(const struct config_section *sec, const char *name)
{
	int i = find_opt(sec->cfg, sec->def->name, name);

	return i >= 0 && sec->vals[i].set;
}

static const struct config_section *single(const struct config *cfg,
					   const char *section)
{
	const struct config_section *sec = config_section(cfg, section, 0);

	if (!sec) {
		pr_err("BUG: no section [%s]", section);
		abort();
	}
	return sec;
}

int64_t config_int(const struct config *cfg, const char *section,
		   const char *name)
{
	return config_get_int(single(cfg, section), name);
}

bool config_bool(const struct config *cfg, const char *section,
		 const char *name)
{
	return config_get_bool(single(cfg, section), name);
}

const char *config_string(const struct config *cfg, const char *section,
			  const char *name)
{
	return config_get_string(single(cfg, section), name);
}

int config_enum(const struct config *cfg, const char *section, const char *name)
{
	return config_get_enum(single(cfg, section), name);
}

static void print_constraint(const struct config_option *o, FILE *out)
{
	if (o->type == CONFIG_ENUM) {
		fputs(" (one of:", out);
		for (int i = 0; o->choices[i]; i++)
			fprintf(out, " %s", o->choices[i]);
		fputc(')', out);
	} else if (o->min || o->max) {
		fprintf(out, " [%" PRId64 "..%" PRId64 "]", o->min, o->max);
	}
}

void config_print_help(const struct config *cfg, FILE *out)
{
	for (const struct config_section_def *d = cfg->sections; d->name; d++) {
		fprintf(out, "\n[%s%s]  %s\n", d->name, d->multi ? " NAME" : "",
			d->help ? d->help : "");
		for (size_t i = 0; i < cfg->n_opts; i++) {
			const struct config_option *o = &cfg->opts[i];

			if (strcmp(o->section, d->name))
				continue;
			fprintf(out, "  %-22s %s, default %s", o->name,
				type_name(o->type), o->def ? o->def : "unset");
			print_constraint(o, out);
			fprintf(out, "\n  %-22s %s\n", "", o->help);
		}
	}
}

void config_print_example(const struct config *cfg, FILE *out)
{
	for (const struct config_section_def *d = cfg->sections; d->name; d++) {
		if (d->help)
			fprintf(out, "\n# %s\n", d->help);
		fprintf(out, "%s[%s%s]\n", d->multi ? "#" : "", d->name,
			d->multi ? " NAME" : "");
		for (size_t i = 0; i < cfg->n_opts; i++) {
			const struct config_option *o = &cfg->opts[i];

			if (strcmp(o->section, d->name))
				continue;
			fprintf(out, "# %s (%s", o->help, type_name(o->type));
			print_constraint(o, out);
			fprintf(out, ")\n%s%s = %s\n",
				d->multi || !o->def ? "#" : "", o->name,
				o->def ? o->def : "");
		}
	}
}
