// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * replay_hooks.c - the monitors `netrv replay` runs (see replay_hooks.h).
 *
 * HOOK: the lock-safety engine (collector/lock) and the DA model runtime
 * (models/) are built on other branches.  When they are merged, create
 * their consumers here, give them @sink as their verdict reactor, and link
 * them into @list in the same order the live collector registers them, so
 * that replay gives the same verdicts as the live run.  Until then replay
 * runs no monitor and prints the verdicts stored in the archive.
 */
#define LOG_SUBSYS "replay"
#include "log.h"
#include "replay_hooks.h"

int replay_hooks_create(const struct replay_model *models, size_t n_models,
			bool lock_engine, struct replay_sink *sink,
			struct consumer **list)
{
	*list = NULL;
	if (n_models) {
		pr_err("--model %s: this build of netrv has no model runtime "
		       "(tools/replay_hooks.c); run without --model to print "
		       "the archived verdicts",
		       models[0].model);
		return -1;
	}
	if (lock_engine)
		pr_info("no lock engine in this build (tools/replay_hooks.c): "
			"printing the archived verdicts only");
	(void)sink;
	return 0;
}
