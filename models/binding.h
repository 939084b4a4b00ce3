/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * binding.h - how trace events drive a model: the binding file.
 *
 * A binding sits next to its model (wip.dot -> wip.bind) and says which
 * trace events become which model events, which instance an event belongs
 * to, and when instances start, end and are forgotten.  The format is in
 * models/README.md; in short:
 *
 *   instance = object              # global | node | cpu | task | object
 *   key = node, ls_id, lkb_id      # object instances: fields of the key
 *   new = monitoring               # a new object starts monitoring (or idle)
 *   forget = unlocked              # free an object back in these states
 *   holder = node, lkb_id          # optional holder table per instance
 *   compat = 0x3f 0x1f 0x07 0x0b 0x03 0x01
 *
 *   on dlm:dlm_ast if sb_status == 0 -> grant
 *   on dlm:dlm_lock_start if flags & 0x4 -> convert start_run
 *
 * The first rule of a binding that matches an event wins.  Rules are
 * checked against the model when the binding is read; field names are
 * checked against each event's schema when the event type is first seen
 * (models/monitor.c), since schemas come from the agents at run time.
 */
#ifndef NETRV_BINDING_H
#define NETRV_BINDING_H

#include <stdbool.h>
#include <stdint.h>

#include "da_model.h"

enum mb_kind {
	MB_GLOBAL,
	MB_NODE,
	MB_CPU,
	MB_TASK,
	MB_OBJECT,
};

enum mb_handler {
	MB_AUTO, /* as the kernel generator picks: start, start_run or event */
	MB_EVENT,
	MB_START,
	MB_START_RUN,
};

enum mb_op {
	MB_EQ,
	MB_NE,
	MB_LT,
	MB_LE,
	MB_GT,
	MB_GE,
	MB_ANY, /* "&":  some of the bits set */
	MB_NONE, /* "!&": none of the bits set */
};

/* Where a value comes from: an event field or something the runtime knows. */
enum mb_src {
	MB_SRC_FIELD,
	MB_SRC_NODE, /* the node the event came from (index; name in text) */
	MB_SRC_CPU,
	/* about the instance's holder table, before this event changes it */
	MB_SRC_SELF, /* class this event's holder holds, -1 if none */
	MB_SRC_PENDING, /* class it asked for and was not granted yet, -1 */
	MB_SRC_OTHERS, /* number of other holders holding something */
	MB_SRC_OTHERS_EXCL, /* ... of which hold a self-incompatible class */
	MB_SRC_COMPATIBLE, /* 1 if the class this event grants fits with all
			    * other holders (compat), else 0 */
};

struct mb_value {
	enum mb_src src;
	char *field; /* MB_SRC_FIELD */
};

struct mb_pred {
	struct mb_value v;
	enum mb_op op;
	int64_t k;
	unsigned int line;
};

enum mb_action {
	MB_ACT_NONE,
	MB_ACT_HOLD, /* the holder now holds class <value> */
	MB_ACT_REQUEST, /* the holder asks for class <value> */
	MB_ACT_GRANT, /* the holder now holds what it asked for */
	MB_ACT_RELEASE, /* the holder holds nothing any more */
};

struct mb_rule {
	char *system, *event;
	unsigned int line;
	struct mb_pred *preds;
	unsigned int n_preds;
	int model_event; /* index in the model, -1: no model event,
			  * MB_VIOLATION: the event named by @violation */
	char *violation; /* "-> !NAME": an event with no edge anywhere */
	enum mb_handler handler;
	enum mb_action action;
	bool act_const; /* value of hold/request: constant or field */
	int64_t act_k;
	struct mb_value act_v;
};

#define MB_MAX_CLASSES 16
#define MB_MAX_PREDS 16 /* conditions per rule */
#define MB_VIOLATION (-2)

struct mb_binding {
	char *file;
	enum mb_kind kind;
	struct mb_value *key; /* [n_key], object instances */
	unsigned int n_key;
	bool new_monitoring; /* new instances start monitoring */
	bool *forget; /* [model states]: free an instance reaching these */
	struct mb_value holder[2];
	unsigned int n_holder; /* 0: no holder table */
	uint16_t compat[MB_MAX_CLASSES]; /* bit j of [i]: i fits with j */
	unsigned int n_classes;
	struct mb_rule *rules;
	unsigned int n_rules;
};

/**
 * mb_binding_load - read the binding at @path for model @m
 * @err: receives "FILE:LINE: message" on failure
 *
 * Return: a binding freed with mb_binding_free(), or NULL with errno
 * EINVAL (bad binding: @err says why), ENOMEM or the errno of a failed
 * open/read.
 */
struct mb_binding *mb_binding_load(const char *path, const struct da_model *m,
				   char *err, size_t errsz);

/** mb_binding_parse - as mb_binding_load() from text in memory */
struct mb_binding *mb_binding_parse(const char *text, const char *file,
				    const struct da_model *m, char *err,
				    size_t errsz);

/** mb_binding_free - free @b and everything it owns; NULL is fine */
void mb_binding_free(struct mb_binding *b);

/** mb_kind_name - "global", "node", "cpu", "task" or "object" */
const char *mb_kind_name(enum mb_kind k);

#endif
