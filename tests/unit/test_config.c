// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_config.c - the declarative config table: values, defaults, multi
 * sections, overrides, and the exact text of every error path.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static const char *const modes[] = { "host", "netns", "pids", NULL };

static const struct config_section_def sections[] = {
	{ "agent", false, "the agent" },
	{ "uprobe", true, "a user-space probe" },
	{ NULL },
};

static const struct config_option options[] = {
	{ "agent", "port", CONFIG_INT, "7400", 1, 65535, NULL, "port" },
	{ "agent", "name", CONFIG_STRING, NULL, 0, 0, NULL, "node name" },
	{ "agent", "scope", CONFIG_ENUM, "host", 0, 0, modes, "what to trace" },
	{ "agent", "drain", CONFIG_DURATION, "5ms", 100000, 1000000000, NULL,
	  "drain period" },
	{ "agent", "spool_max", CONFIG_SIZE, "64M", 0, 0, NULL, "spool size" },
	{ "agent", "tls", CONFIG_BOOL, "yes", 0, 0, NULL, "use TLS" },
	{ "uprobe", "binary", CONFIG_STRING, NULL, 0, 0, NULL, "path" },
	{ "uprobe", "symbol", CONFIG_STRING, "main", 0, 0, NULL, "function" },
	{ NULL },
};

static char path[64];

static struct config *read_text(const char *text, int *ret)
{
	struct config *cfg = config_create(sections, options);
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	*ret = config_read(cfg, path);
	return cfg;
}

static void test_values(void)
{
	int ret;
	struct config *cfg = read_text("# comment\n"
				       "[agent]\n"
				       "port = 0x1F40\n"
				       "name \"node 1\"\n"
				       "  scope=netns  \n"
				       "drain 250us\n"
				       "spool_max = 1G\n"
				       "tls off\n"
				       "; other comment\n"
				       "[uprobe acquired]\n"
				       "binary = /usr/bin/lockd\n"
				       "[uprobe released]\n"
				       "binary = /usr/bin/lockd\n"
				       "symbol = lock_release\n",
				       &ret);
	const struct config_section *u;

	CHECK_INT(ret, 0);
	CHECK_INT(config_int(cfg, "agent", "port"), 8000);
	CHECK_STR(config_string(cfg, "agent", "name"), "node 1");
	CHECK_INT(config_enum(cfg, "agent", "scope"), 1);
	CHECK_INT(config_int(cfg, "agent", "drain"), 250000);
	CHECK_INT(config_int(cfg, "agent", "spool_max"), 1LL << 30);
	CHECK_INT(config_bool(cfg, "agent", "tls"), 0);
	u = config_section(cfg, "uprobe", 0);
	REQUIRE(u);
	CHECK_STR(config_section_name(u), "acquired");
	CHECK_STR(config_get_string(u, "symbol"), "main");
	u = config_section(cfg, "uprobe", 1);
	REQUIRE(u);
	CHECK_STR(config_section_name(u), "released");
	CHECK_STR(config_get_string(u, "symbol"), "lock_release");
	CHECK(config_section(cfg, "uprobe", 2) == NULL);
out:
	config_destroy(cfg);
}

static void test_defaults_and_overrides(void)
{
	struct config *cfg = config_create(sections, options);

	CHECK_INT(config_int(cfg, "agent", "port"), 7400);
	CHECK(config_string(cfg, "agent", "name") == NULL);
	CHECK(!config_is_set(config_section(cfg, "agent", 0), "port"));
	CHECK_INT(config_int(cfg, "agent", "drain"), 5000000);
	CHECK_INT(config_override(cfg, "agent.port=9"), 0);
	CHECK_INT(config_int(cfg, "agent", "port"), 9);
	CHECK(config_is_set(config_section(cfg, "agent", 0), "port"));
	/* overrides may repeat; the last wins */
	CHECK_INT(config_override(cfg, "agent.port=10"), 0);
	CHECK_INT(config_int(cfg, "agent", "port"), 10);
	CHECK_INT(config_override(cfg, "uprobe:x.binary=/bin/true"), 0);
	CHECK_STR(config_get_string(config_section(cfg, "uprobe", 0), "binary"),
		  "/bin/true");
	config_destroy(cfg);
}

static void test_file_errors(void)
{
	static const struct {
		const char *text;
		const char *error; /* after "PATH:" */
	} cases[] = {
		{ "port = 1\n", "1: 'port = 1' outside of any [section]" },
		{ "[agent]\nbogus = 1\n",
		  "2: unknown key 'bogus' in section [agent]" },
		{ "[nope]\n", "1: unknown section [nope]" },
		{ "[agent\n", "1: malformed section header" },
		{ "[agent] x\n", "1: malformed section header" },
		{ "[uprobe]\n",
		  "1: section [uprobe] needs a name: [uprobe NAME]" },
		{ "[agent x]\n", "1: section [agent] takes no name" },
		{ "[uprobe a]\n[uprobe a]\n",
		  "2: duplicate section [uprobe a]" },
		{ "[agent]\nport = 1\nport = 2\n",
		  "3: duplicate key 'port' in section [agent]" },
		{ "[agent]\n\nport\n", "3: key 'port' has no value" },
		{ "[agent]\nport = 70000\n",
		  "2: port: value 70000 out of range [1, 65535]" },
		{ "[agent]\nport = 12ab\n",
		  "2: port: '12ab' is not an integer" },
		{ "[agent]\ntls = maybe\n",
		  "2: tls: 'maybe' is not a boolean (use yes or no)" },
		{ "[agent]\nscope = world\n",
		  "2: scope: 'world' is not one of: host netns pids" },
		{ "[agent]\ndrain = 5\n",
		  "2: drain: '5' is not a duration (e.g. 250ms, 2s, 1m)" },
		{ "[agent]\ndrain = 1ns\n",
		  "2: drain: value 1ns out of range [100000, 1000000000]" },
		{ "[agent]\nspool_max = 3X\n",
		  "2: spool_max: '3X' is not a size (e.g. 4096, 64K, 16M, 1G)" },
		{ "[agent]\nspool_max = -1\n",
		  "2: spool_max: '-1' is not a size (e.g. 4096, 64K, 16M, 1G)" },
		{ "[uprobe p]\nport = 1\n",
		  "2: unknown key 'port' in section [uprobe]" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[512];
		int ret;
		struct config *cfg = read_text(cases[i].text, &ret);

		snprintf(want, sizeof(want), "%s:%s", path, cases[i].error);
		CHECK_INT(ret, -1);
		CHECK_STR(config_error(cfg), want);
		config_destroy(cfg);
	}
}

static void test_override_errors(void)
{
	static const struct {
		const char *arg, *error;
	} cases[] = {
		{ "port=1", "override 'port=1': use SECTION.KEY=VALUE" },
		{ "agent.port",
		  "override 'agent.port': use SECTION.KEY=VALUE" },
		{ "x.port=1", "override 'x.port=1': unknown section [x]" },
		{ "agent.nope=1",
		  "override 'agent.nope=1': unknown key 'nope' in section [agent]" },
		{ "agent.port=0",
		  "override 'agent.port=0': port: value 0 out of range [1, 65535]" },
		{ "uprobe.binary=/x",
		  "override 'uprobe.binary=/x': use uprobe:NAME.KEY=VALUE" },
		{ "agent:a.port=1",
		  "override 'agent:a.port=1': section [agent] takes no name" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg = config_create(sections, options);

		CHECK_INT(config_override(cfg, cases[i].arg), -1);
		CHECK_STR(config_error(cfg), cases[i].error);
		config_destroy(cfg);
	}
}

static void test_missing_file(void)
{
	struct config *cfg = config_create(sections, options);

	CHECK_INT(config_read(cfg, "/nonexistent/netrv.conf"), -1);
	CHECK_STR(
		config_error(cfg),
		"/nonexistent/netrv.conf: cannot open: No such file or directory");
	config_destroy(cfg);
}

/* The printed example config must read back as the defaults. */
static void test_example_reads_back(void)
{
	struct config *cfg = config_create(sections, options);
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int ret;

	config_print_example(cfg, mem);
	fclose(mem);
	config_destroy(cfg);
	CHECK(strstr(text, "port = 7400") != NULL);
	cfg = read_text(text, &ret);
	CHECK_INT(ret, 0);
	CHECK_INT(config_int(cfg, "agent", "drain"), 5000000);
	config_destroy(cfg);
	free(text);

	mem = open_memstream(&text, &len);
	cfg = config_create(sections, options);
	config_print_help(cfg, mem);
	fclose(mem);
	CHECK(strstr(text, "drain") && strstr(text, "[100000..1000000000]"));
	CHECK(strstr(text, "one of: host netns pids") != NULL);
	config_destroy(cfg);
	free(text);
}

int main(int argc, char **argv)
{
	int fd;

	strcpy(path, "/tmp/netrv-config-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return 2;
	close(fd);
	test_values();
	test_defaults_and_overrides();
	test_file_errors();
	test_override_errors();
	test_missing_file();
	test_example_reads_back();
	unlink(path);
	return check_summary("test_config");
}
