// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * verdicts.c - protocol verdicts from DA model violations, the archive's
 * short verdict classes and a function-call sink (see verdicts.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verdicts.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#endif

void verdicts_model_violation(void *engine, const struct models_violation *mv)
{
	const struct cevent *ev = mv->ev;
	struct verdict v = { 0 };
	char reason[256];

	snprintf(reason, sizeof(reason),
		 "model %s: event %s has no edge from state %s", mv->model,
		 mv->event, mv->state);
	v.cls = VERDICT_PROTOCOL;
	v.tai_ns = ev->tai_ns;
	v.domain = "model";
	v.name = (const uint8_t *)mv->key;
	v.name_len = strlen(mv->key);
	v.reason = reason;
	v.model = mv->model;
	v.n_clocks = 1;
	v.clocks[0] = (struct verdict_clock){
		.node = ev->node,
		.source = ev->node->clock.source,
		.synced = ev->node->clock.synced,
		.eps_ns = ev->eps_ns,
		.master_offset_ns = ev->node->clock.master_offset_ns,
		.path_delay_ns = ev->node->clock.path_delay_ns,
		.port_state = ev->node->clock.port_state,
	};
	lock_engine_emit(engine, &v);
}

const char *verdicts_archive_class(const struct verdict *v, char *buf,
				   size_t len)
{
	if (v->cls == VERDICT_PROTOCOL && v->model)
		snprintf(buf, len, "protocol.%s", v->model);
	else
		snprintf(buf, len, "lock.%s", verdict_class_name(v->cls));
	return buf;
}

struct fn_sink {
	struct verdict_sink sink;
	verdicts_fn fn;
	void *arg;
};

static void fn_emit(struct verdict_sink *s, const struct verdict *v,
		    const char *json, size_t json_len)
{
	struct fn_sink *f = container_of(s, struct fn_sink, sink);
	char cls[80];

	(void)json_len;
	f->fn(f->arg, v, verdicts_archive_class(v, cls, sizeof(cls)), json);
}

static void fn_destroy(struct verdict_sink *s)
{
	free(container_of(s, struct fn_sink, sink));
}

struct verdict_sink *verdicts_fn_sink(verdicts_fn fn, void *arg)
{
	struct fn_sink *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->sink.emit = fn_emit;
	f->sink.destroy = fn_destroy;
	f->fn = fn;
	f->arg = arg;
	return &f->sink;
}

void verdicts_monitors(struct lock_engine *e, struct consumer *models,
		       struct consumer **list)
{
	struct consumer *c = lock_engine_consumer(e);

	*list = c;
	c->next = models;
	if (models)
		models->next = NULL;
}

int verdicts_models_from_config(const struct config *cfg, struct lock_engine *e,
				struct consumer **models, char *err, size_t len)
{
	const struct config_section *sec;
	char why[512];

	*models = NULL;
	for (unsigned int i = 0; (sec = config_section(cfg, "model", i)); i++) {
		const char *dot = config_get_string(sec, "dot");

		if (!config_get_bool(sec, "enable"))
			continue;
		if (!dot) {
			snprintf(err, len, "[model %s]: dot = FILE is required",
				 config_section_name(sec));
			goto fail;
		}
		if (!*models) {
			*models = models_consumer_create(
				verdicts_model_violation, e);
			if (!*models) {
				snprintf(err, len, "models: %s",
					 strerror(errno));
				goto fail;
			}
		}
		if (models_consumer_add(*models, dot,
					config_get_string(sec, "binding"), why,
					sizeof(why))) {
			snprintf(err, len, "[model %s]: %s",
				 config_section_name(sec), why);
			goto fail;
		}
	}
	return 0;
fail:
	if (*models)
		(*models)->ops->destroy(*models);
	*models = NULL;
	errno = EINVAL;
	return -1;
}
