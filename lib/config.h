/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - one declarative table of options drives parsing, validation,
 * --help and the example config (after linuxptp's config.c).
 *
 * Files are INI-like:
 *
 *   # comment
 *   [collector]
 *   listen = 127.0.0.1:7400
 *   liveness_timeout = 2s
 *
 *   [uprobe acquired]          # a "multi" section: one per instance name
 *   binary = /usr/bin/lockd
 *
 * "key = value" and linuxptp's "key value" are both accepted.  Unknown
 * sections and keys, bad values and out-of-range numbers are errors that
 * name FILE:LINE and the key.  Command-line overrides use
 * "section.key=value" or "section:instance.key=value".
 */
#ifndef NETRV_CONFIG_H
#define NETRV_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum config_type {
	CONFIG_INT, /* integer, base 10 or 0x.. */
	CONFIG_BOOL, /* 1/0, yes/no, true/false, on/off */
	CONFIG_STRING,
	CONFIG_ENUM, /* one of .choices, stored as its index */
	CONFIG_DURATION, /* "250ms", "2s", "1m": stored in ns */
	CONFIG_SIZE, /* "512", "64K", "4M", "1G" (binary units): bytes */
};

struct config_section_def {
	const char *name;
	bool multi; /* [name instance] may appear many times */
	const char *help;
};

struct config_option {
	const char *section;
	const char *name;
	enum config_type type;
	const char *def; /* default, in file syntax; NULL: unset */
	int64_t min, max; /* numbers: inclusive range; 0,0: any */
	const char *const *choices; /* CONFIG_ENUM: NULL-terminated */
	const char *help;
};

struct config;
struct config_section;

/**
 * config_create - a configuration holding the defaults of @opts
 * @sections: section table, ended by an entry with a NULL name
 * @opts: option table, ended by an entry with a NULL name
 *
 * Both tables must outlive the configuration.  Return: the configuration,
 * freed with config_destroy(), or NULL if a default in the table does not
 * parse (a programming error, logged) or memory ran out.
 */
struct config *config_create(const struct config_section_def *sections,
			     const struct config_option *opts);
void config_destroy(struct config *cfg);

/**
 * config_read - apply the file at @path
 *
 * Return: 0, or -1 with the reason in config_error() ("FILE:LINE: ...").
 * Reading stops at the first error.
 */
int config_read(struct config *cfg, const char *path);

/**
 * config_override - apply "section.key=value" or "section:instance.key=value"
 *
 * Return: 0, or -1 with the reason in config_error().
 */
int config_override(struct config *cfg, const char *assignment);

/** config_error - the last error, valid until the next call on @cfg */
const char *config_error(const struct config *cfg);

/**
 * config_section - instance @idx of @section (single sections: idx 0)
 *
 * Return: the section, owned by @cfg, or NULL when there is no such instance.
 */
const struct config_section *
config_section(const struct config *cfg, const char *section, unsigned int idx);
/** config_section_name - instance name of a multi section, "" otherwise */
const char *config_section_name(const struct config_section *sec);

/*
 * Getters abort on an option the table lacks: that is a programming error.
 * Strings are owned by the configuration; NULL when unset.
 */
int64_t config_get_int(const struct config_section *sec, const char *name);
bool config_get_bool(const struct config_section *sec, const char *name);
const char *config_get_string(const struct config_section *sec,
			      const char *name);
/* CONFIG_ENUM: index into choices */
int config_get_enum(const struct config_section *sec, const char *name);
/* Was the option set by a file or override (not just its default)? */
bool config_is_set(const struct config_section *sec, const char *name);

/* Shorthands for single sections. */
int64_t config_int(const struct config *cfg, const char *section,
		   const char *name);
bool config_bool(const struct config *cfg, const char *section,
		 const char *name);
const char *config_string(const struct config *cfg, const char *section,
			  const char *name);
int config_enum(const struct config *cfg, const char *section,
		const char *name);

/** config_print_help - every option with type, default, range and help */
void config_print_help(const struct config *cfg, FILE *out);

/** config_print_example - a commented config file showing every default */
void config_print_example(const struct config *cfg, FILE *out);

#endif
