// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * replay_hooks.c - the monitors `netrv replay` runs (see replay_hooks.h).
 *
 * The same chain as the live collector (collector/wire.c,
 * collector/verdicts.h): the lock-safety engine first, then the DA models,
 * whose violations become protocol verdicts of the engine.  Every verdict
 * leaves through one engine sink, with the archive's short class, so the
 * replayed list compares one to one with the archived one.  The engine
 * runs with the default [lock] settings (as a collector without a [lock]
 * section does).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "replay"
#include "log.h"
#include "replay_hooks.h"
#include "tables.h"
#include "verdicts.h"

static void to_sink(void *arg, const struct verdict *v, const char *vclass,
		    const char *json)
{
	struct replay_sink *sink = arg;

	sink->verdict(sink, v->tai_ns, vclass, v->domain ? v->name : NULL,
		      v->domain ? v->name_len : 0, json);
}

int replay_hooks_create(const char *config, const struct replay_model *models,
			size_t n_models, bool lock_engine,
			struct replay_sink *sink, struct consumer **list)
{
	/* live as long as the process: the engine borrows them */
	static struct lock_engine_conf conf;
	static struct config *cfg;
	struct lock_engine *e;
	struct consumer *mc = NULL;
	struct verdict_sink *s;
	char err[768];

	*list = NULL;
	if (!lock_engine && (n_models || config)) {
		pr_err("--no-lock-engine: models report their verdicts through "
		       "the lock engine; drop --no-lock-engine");
		return -1;
	}
	if (!lock_engine)
		return 0;
	if (config) {
		cfg = collector_config_create();
		if (!cfg || config_read(cfg, config)) {
			pr_err("%s", cfg ? config_error(cfg) : "out of memory");
			return -1;
		}
		if (lock_conf_from_config(cfg, &conf, err, sizeof(err))) {
			pr_err("%s: %s", config, err);
			return -1;
		}
	} else {
		lock_conf_defaults(&conf);
	}
	e = lock_engine_create(&conf);
	s = e ? verdicts_fn_sink(to_sink, sink) : NULL;
	if (!s) {
		pr_err("lock engine: %m");
		if (e)
			lock_engine_destroy(e);
		return -1;
	}
	lock_engine_add_sink(e, s);
	if (cfg && verdicts_models_from_config(cfg, e, &mc, err, sizeof(err))) {
		pr_err("%s: %s", config, err);
		goto fail;
	}
	if (n_models && !mc) {
		mc = models_consumer_create(verdicts_model_violation, e);
		if (!mc) {
			pr_err("models: %m");
			goto fail;
		}
	}
	for (size_t i = 0; i < n_models; i++) {
		if (models_consumer_add(mc, models[i].model, models[i].binding,
					err, sizeof(err))) {
			pr_err("--model %s: %s", models[i].model, err);
			goto fail;
		}
	}
	verdicts_monitors(e, mc, list);
	return 0;
fail:
	if (mc)
		mc->ops->destroy(mc);
	lock_engine_destroy(e);
	return -1;
}
