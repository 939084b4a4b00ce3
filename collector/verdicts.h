/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * verdicts.h - the one verdict path of the collector (and of replay).
 *
 * Every verdict, whatever monitor made it, goes through the lock-safety
 * engine's sinks (lock_engine_emit()): the JSON-lines log, the exec hook,
 * the state view, the dashboard's SSE and the archive each see it once, in
 * one order, with one id.  The DA models consumer reports violations to
 * verdicts_model_violation(), which turns them into VERDICT_PROTOCOL
 * verdicts of the engine.  `netrv replay` builds the same chain, so a
 * replayed archive gives the verdicts the live collector gave.
 */
#ifndef NETRV_COLLECTOR_VERDICTS_H
#define NETRV_COLLECTOR_VERDICTS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "consumer.h"
#include "lock.h"

/**
 * verdicts_model_violation - a models_violation_fn; @engine is the
 * struct lock_engine that publishes the protocol verdict
 */
void verdicts_model_violation(void *engine, const struct models_violation *mv);

/**
 * verdicts_archive_class - the short class an archive record carries:
 * "lock.definite", "lock.clock-bound", ..., "protocol.MODEL"
 * @buf: room for it (64 bytes is enough for model names up to 48)
 *
 * Return: @buf.
 */
const char *verdicts_archive_class(const struct verdict *v, char *buf,
				   size_t len);

/*
 * A verdict sink that hands every verdict to @fn with its archive class
 * and JSON.  Owned by the engine once added; its destroy frees only itself.
 */
typedef void (*verdicts_fn)(void *arg, const struct verdict *v,
			    const char *vclass, const char *json);

/** verdicts_fn_sink - a sink calling @fn(@arg, ...); NULL with errno */
struct verdict_sink *verdicts_fn_sink(verdicts_fn fn, void *arg);

/**
 * verdicts_models_from_config - the models of the [model NAME] sections of
 * @cfg (dot, binding, enable), reporting to @e
 * @models: set to the consumer, or NULL when no model is configured
 * @err: the reason of a failure ("[model NAME]: FILE:LINE: message")
 *
 * Return: 0, or -1 with errno (nothing is left allocated).  The consumer
 * is destroyed through its ops->destroy (by the merge once registered).
 */
int verdicts_models_from_config(const struct config *cfg, struct lock_engine *e,
				struct consumer **models, char *err,
				size_t len);

/**
 * verdicts_monitors - the monitors in live-collector order: the engine's
 * consumer first, then (if @models) the models consumer
 * @models: a models consumer made with verdicts_model_violation and the
 *          engine as its argument, or NULL
 * @list: set to the first consumer of the ->next linked list
 */
void verdicts_monitors(struct lock_engine *e, struct consumer *models,
		       struct consumer **list);

#endif
