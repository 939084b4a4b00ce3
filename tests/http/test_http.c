// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_http.c - the HTTP side over real HTTP on 127.0.0.1: JSON API
 * answers (checked by Python's json module), errors, the bearer token,
 * server-sent events including the drop of a subscriber that does not
 * read, and /metrics through `promtool check metrics`.
 *
 * The server is fed through feed.c (real struct cevent/consumer calls)
 * into the node statistics consumer and the TEST provider.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "check.h"
#include "client.h"
#include "clocks.h"
#include "feed.h"
#include "http.h"
#include "log.h"
#include "json.h"
#include "test_provider.h"

#define HOSTILE "<img src=x onerror=alert(1)>"
#define BADNAME "gfs2/\xff\xfe-\"q\"\\"
/* A node name with every character that needs escaping somewhere. */
#define ODDNODE "beta\"\\\n\xff"

struct rig {
	struct event_base *base;
	struct http *h;
	struct http_nodes *ns;
	struct test_provider *tp;
	struct feed f;
	struct cnode *a, *b, *c;
	uint64_t t0;
};

static int rig_up(struct rig *r, const char *token, size_t sse_buffer)
{
	struct http_config cfg;

	memset(r, 0, sizeof(*r));
	http_config_default(&cfg);
	cfg.port = 0;
	cfg.token = token;
	if (sse_buffer)
		cfg.sse_max_buffer = sse_buffer;
	r->base = event_base_new();
	if (!r->base)
		return -1;
	r->h = http_create(r->base, &cfg);
	r->ns = http_nodes_create(r->h);
	r->tp = test_provider_create(r->h);
	if (!r->h || !r->ns || !r->tp)
		return -1;
	http_add_provider(r->h, http_nodes_provider(r->ns));
	http_add_provider(r->h, test_provider_provider(r->tp));
	feed_init(&r->f);
	feed_add_consumer(&r->f, http_nodes_consumer(r->ns));
	feed_add_consumer(&r->f, test_provider_consumer(r->tp));
	r->a = feed_node(&r->f, "alpha", NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP,
			 true, 2000, 1300);
	r->b = feed_node(&r->f, ODDNODE, NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP,
			 true, 5000, -2100);
	r->c = feed_node(&r->f, "gamma",
			 NETRV__CLOCK_SOURCE__CLOCK_SOURCE_ROUNDTRIP, false,
			 80000, 0);
	r->t0 = clocks_now(CLOCK_TAI) - 10 * NSEC_PER_SEC;
	return 0;
}

static void rig_down(struct rig *r)
{
	http_destroy(r->h);
	http_nodes_destroy(r->ns);
	test_provider_destroy(r->tp);
	if (r->base)
		event_base_free(r->base);
}

/* A short history: locks passed around with messages, one conflict. */
static void rig_history(struct rig *r)
{
	uint64_t t = r->t0;
	static const char hostile[] = HOSTILE, bad[] = BADNAME;

	feed_lock(&r->f, r->a, t += 1000000, "vg0/lv", 6, 5, FEED_GRANT);
	feed_lock(&r->f, r->a, t += 1000000, "vg0/lv", 6, 5, FEED_RELEASE);
	feed_msg(&r->f, r->a, t += 100000, FEED_SEND, "vg0/lv", 6, 1);
	feed_msg(&r->f, r->b, t += 100000, FEED_RECV, "vg0/lv", 6, 1);
	feed_lock(&r->f, r->b, t += 100000, "vg0/lv", 6, 3, FEED_GRANT);
	feed_lock(&r->f, r->c, t += 100000, "vg0/lv", 6, 3, FEED_GRANT);
	feed_lock(&r->f, r->a, t += 1000000, bad, sizeof(bad) - 1, 3,
		  FEED_GRANT);
	feed_lock(&r->f, r->c, t += 1000000, hostile, sizeof(hostile) - 1, 5,
		  FEED_GRANT);
	feed_watermark(&r->f, t);
	/* The conflict: alpha takes EX while gamma holds EX. */
	feed_lock(&r->f, r->a, t += 1000000, hostile, sizeof(hostile) - 1, 5,
		  FEED_GRANT);
	feed_loss(&r->f, r->b, t - 500000, t, 42);
	feed_state(&r->f, r->c, CNODE_UNREACHABLE, t + 1);
	feed_watermark(&r->f, t);
	http_nodes_watermark(r->ns, r->a, t);
}

/* GET @path; check status, then evaluate @expr and compare to @want. */
static void expect(struct rig *r, const char *path, const char *extra,
		   int status, const char *expr, const char *want)
{
	struct hresp resp;
	char out[4096];

	if (!CHECK(!hc_request(r->base, http_port(r->h), "GET", path, extra,
			       &resp))) {
		fprintf(stderr, "  GET %s failed\n", path);
		return;
	}
	if (!CHECK(resp.status == status))
		fprintf(stderr, "  GET %s: status %d, want %d\n", path,
			resp.status, status);
	if (expr) {
		if (CHECK(!json_eval(resp.body, resp.body_len, expr, out,
				     sizeof(out))) &&
		    !CHECK(!strcmp(out, want)))
			fprintf(stderr, "  GET %s: %s = %s, want %s\n", path,
				expr, out, want);
	}
	hresp_free(&resp);
}

static void test_api(void)
{
	struct rig r;
	struct hresp resp;
	char *v;

	REQUIRE(!rig_up(&r, NULL, 0));
	rig_history(&r);

	expect(&r, "/api/nodes", NULL, 200, "[n[\"name\"] for n in d]",
	       "[\"alpha\", \"beta\\\"\\\\\\n\\u00ff\", \"gamma\"]");
	expect(&r, "/api/nodes", NULL, 200,
	       "[(n[\"events\"], n[\"events_lost\"], n[\"connected\"], "
	       "n[\"sync_state\"], n[\"eps_ns\"]) for n in d]",
	       "[[5, 0, true, \"synced\", 2000], [2, 42, true, \"synced\", "
	       "5000], [2, 0, false, \"weak\", 80000]]");
	expect(&r, "/api/nodes", NULL, 200,
	       "[n[\"watermark_lag_ns\"] is None for n in d]",
	       "[false, true, true]");
	expect(&r, "/api/resources", NULL, 200,
	       "sorted((x[\"resource\"], [(h[\"node\"], h[\"mode\"]) for h in "
	       "x[\"holders\"]]) for x in d)",
	       "[[\"<img src=x onerror=alert(1)>\", [[\"gamma\", \"EX\"], "
	       "[\"alpha\", \"EX\"]]], [\"gfs2/\\u00ff\\u00fe-\\\"q\\\"\\\\\", "
	       "[[\"alpha\", \"PR\"]]], [\"vg0/lv\", [[\"beta\\\"\\\\\\n\\u00ff\", "
	       "\"PR\"], [\"gamma\", \"PR\"]]]]");
	expect(&r, "/api/resources?q=img", NULL, 200,
	       "[x[\"resource\"] for x in d]",
	       "[\"<img src=x onerror=alert(1)>\"]");
	/* The filter matches raw bytes: %FF is the byte 0xff. */
	expect(&r, "/api/resources?q=%FF%FE", NULL, 200, "len(d)", "1");
	expect(&r, "/api/resources?limit=1", NULL, 200, "len(d)", "1");
	expect(&r, "/api/resources?limit=0", NULL, 400, "d[\"status\"]", "400");
	expect(&r, "/api/resources?limit=x", NULL, 400, "d[\"error\"]",
	       "\"limit must be 1..1000\"");
	expect(&r, "/api/verdicts", NULL, 200,
	       "[(v[\"id\"], v[\"class\"], v[\"resource\"], v[\"nodes\"], "
	       "v[\"model\"]) for v in d]",
	       "[[1, \"definite\", \"<img src=x onerror=alert(1)>\", "
	       "[\"gamma\", \"alpha\"], \"lock_safety\"]]");
	expect(&r, "/api/verdicts?since=1", NULL, 200, "d", "[]");
	expect(&r, "/api/verdicts/1", NULL, 200,
	       "([(h[\"node\"], h[\"conflict\"], h[\"release_ns\"]) for h in "
	       "d[\"holds\"]], [e[\"text\"] for e in d[\"events\"]], "
	       "sorted(c[\"node\"] for c in d[\"clocks\"]))",
	       "[[[\"gamma\", true, null], [\"alpha\", true, null]], "
	       "[\"grant EX\", \"grant EX\"], [\"alpha\", \"gamma\"]]");
	expect(&r, "/api/verdicts/2", NULL, 404, "d[\"status\"]", "404");
	expect(&r, "/api/verdicts/x1", NULL, 404, "d[\"status\"]", "404");
	expect(&r, "/api/status", NULL, 200,
	       "(d[\"verdicts\"], d[\"nodes\"], d[\"nodes_up\"], "
	       "d[\"verified_tai_ns\"] is not None, d[\"lag_ns\"] > 0)",
	       "[{\"definite\": 1, \"possible\": 0, \"clock-bound\": 0, "
	       "\"protocol\": 0}, 3, 2, true, true]");
	expect(&r, "/nope/<b>", NULL, 404, "(d[\"error\"], d[\"path\"])",
	       "[\"no such page\", \"/nope/<b>\"]");

	REQUIRE(!hc_request(r.base, http_port(r.h), "POST", "/api/nodes", NULL,
			    &resp));
	CHECK_INT(resp.status, 405);
	v = hresp_header(&resp, "Allow");
	CHECK_STR(v, "GET, HEAD");
	free(v);
	hresp_free(&resp);

	REQUIRE(!hc_request(r.base, http_port(r.h), "HEAD", "/api/nodes", NULL,
			    &resp));
	CHECK_INT(resp.status, 200);
	CHECK_INT(resp.body_len, 0);
	hresp_free(&resp);

	REQUIRE(!hc_request(r.base, http_port(r.h), "GET", "/", NULL, &resp));
	CHECK_INT(resp.status, 200);
	v = hresp_header(&resp, "Content-Type");
	CHECK_STR(v, "text/html; charset=utf-8");
	free(v);
	v = hresp_header(&resp, "Content-Security-Policy");
	CHECK(v && strstr(v, "default-src 'self'"));
	free(v);
	CHECK(resp.body && strstr(resp.body, "<title>"));
	hresp_free(&resp);

	REQUIRE(!hc_request(r.base, http_port(r.h), "GET", "/app.js", NULL,
			    &resp));
	CHECK_INT(resp.status, 200);
	CHECK(resp.body_len > 1000 && !strstr(resp.body, "innerHTML"));
	hresp_free(&resp);
out:
	rig_down(&r);
}

static void test_token(void)
{
	static const char *const paths[] = { "/api/nodes",    "/api/resources",
					     "/api/verdicts", "/api/verdicts/1",
					     "/api/status",   "/metrics",
					     "/events" };
	struct http_stats st;
	struct hresp resp;
	struct sse_reader s;
	struct rig r;
	size_t i;
	char *v;

	REQUIRE(!rig_up(&r, "s3cret-token", 0));
	rig_history(&r);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		expect(&r, paths[i], NULL, 401, "d[\"status\"]", "401");
		expect(&r, paths[i], "Authorization: Bearer s3cret-tokeN\r\n",
		       401, "d[\"status\"]", "401");
		expect(&r, paths[i], "Authorization: Bearer s3cret-token-\r\n",
		       401, "d[\"status\"]", "401");
		expect(&r, paths[i], "Authorization: Basic s3cret-token\r\n",
		       401, "d[\"status\"]", "401");
	}
	REQUIRE(!hc_request(r.base, http_port(r.h), "GET", "/metrics", NULL,
			    &resp));
	v = hresp_header(&resp, "WWW-Authenticate");
	CHECK_STR(v, "Bearer realm=\"netrv\"");
	free(v);
	hresp_free(&resp);
	expect(&r, "/api/nodes", "Authorization: Bearer s3cret-token\r\n", 200,
	       "len(d)", "3");
	expect(&r, "/api/verdicts/1", "Authorization: bearer s3cret-token\r\n",
	       200, "d[\"id\"]", "1");
	/* The page itself carries no data and needs no token. */
	REQUIRE(!hc_request(r.base, http_port(r.h), "GET", "/", NULL, &resp));
	CHECK_INT(resp.status, 200);
	hresp_free(&resp);
	REQUIRE(!sse_open(r.base, http_port(r.h), "/events",
			  "Authorization: Bearer s3cret-token\r\n", 0, &s));
	CHECK_INT(s.status, 200);
	sse_close(&s);
	http_get_stats(r.h, &st);
	CHECK_INT(st.unauthorized, 4 * 7 + 1);
out:
	rig_down(&r);
}

/* Events go out in order; a subscriber that does not read is dropped. */
static void test_sse(void)
{
	enum { N = 1000, SIZE = 2048 };
	static const char hostile[] = HOSTILE;
	struct sse_reader good, slow;
	struct http_stats st;
	char *name, *data, *json = NULL, out[1024];
	int got = 0, bad_order = 0, i, verdicts = 0;
	struct rig r;

	good.fd = slow.fd = -1;
	good.raw = slow.raw = good.text = slow.text = NULL;
	REQUIRE(!rig_up(&r, NULL, 64 * 1024));
	REQUIRE(!sse_open(r.base, http_port(r.h), "/events", NULL, 0, &good));
	REQUIRE(!sse_open(r.base, http_port(r.h), "/events", NULL, 4096,
			  &slow));
	CHECK_INT(good.status, 200);
	http_get_stats(r.h, &st);
	CHECK_INT(st.sse_clients, 2);

	/* A verdict made by the pipeline reaches the subscriber. */
	rig_history(&r);
	sse_poll(r.base, &good, 50);
	while (sse_next(&good, &name, &data)) {
		if (!strcmp(name, "verdict")) {
			verdicts++;
			CHECK(!json_eval(data, strlen(data),
					 "(d[\"id\"], d[\"class\"], "
					 "d[\"resource\"])",
					 out, sizeof(out)));
			CHECK_STR(out, "[1, \"definite\", \"" HOSTILE "\"]");
		}
		free(name);
		free(data);
	}
	CHECK_INT(verdicts, 1);
	(void)hostile;

	/* Flood: the slow one (never reads, small receive buffer) goes. */
	json = malloc(SIZE + 64);
	REQUIRE(json);
	for (i = 0; i < N; i++) {
		snprintf(json, SIZE + 64, "{\"n\":%d,\"pad\":\"%0*d\"}", i,
			 SIZE, 0);
		CHECK(http_publish(r.h, "flood", json) >= 1);
		sse_poll(r.base, &good, 0);
		while (sse_next(&good, &name, &data)) {
			int n = -1;

			if (!strcmp(name, "flood")) {
				sscanf(data, "{\"n\":%d", &n);
				bad_order += n != got;
				got++;
			}
			free(name);
			free(data);
		}
	}
	for (i = 0; i < 200 && got < N; i++) {
		sse_poll(r.base, &good, 5);
		while (sse_next(&good, &name, &data)) {
			int n = -1;

			if (!strcmp(name, "flood")) {
				sscanf(data, "{\"n\":%d", &n);
				bad_order += n != got;
				got++;
			}
			free(name);
			free(data);
		}
	}
	CHECK_INT(got, N);
	CHECK_INT(bad_order, 0);
	http_get_stats(r.h, &st);
	CHECK_INT(st.sse_dropped, 1);
	CHECK_INT(st.sse_clients, 1);
	CHECK(st.sse_queued_max <= 64 * 1024);
	/* The dropped one sees the end of its stream once it reads. */
	for (i = 0; i < 200 && !slow.eof; i++)
		sse_poll(r.base, &slow, 5);
	CHECK(slow.eof);
	CHECK(http_publish(r.h, "Bad Name", "{}") < 0 && errno == EINVAL);

	/* A subscriber that hangs up is forgotten. */
	sse_close(&good);
	for (i = 0; i < 100; i++) {
		hc_pump(r.base, 5);
		http_publish(r.h, "tick", "{}");
		http_get_stats(r.h, &st);
		if (!st.sse_clients)
			break;
	}
	CHECK_INT(st.sse_clients, 0);
out:
	free(json);
	sse_close(&good);
	sse_close(&slow);
	rig_down(&r);
}

static void test_metrics(void)
{
	struct hresp resp;
	struct rig r;
	FILE *p;
	int rc;

	REQUIRE(!rig_up(&r, NULL, 0));
	rig_history(&r);
	REQUIRE(!hc_request(r.base, http_port(r.h), "GET", "/metrics", NULL,
			    &resp));
	CHECK_INT(resp.status, 200);
	CHECK(strstr(resp.body,
		     "netrv_node_events_received_total{node=\"alpha\"} 5\n"));
	CHECK(strstr(
		resp.body,
		"netrv_node_events_lost_total{node=\"beta\\\"\\\\\\n\xef\xbf\xbd\"} 42\n"));
	CHECK(strstr(resp.body,
		     "netrv_verdicts_total{class=\"definite\"} 1\n"));
	CHECK(strstr(resp.body, "netrv_node_up{node=\"gamma\"} 0\n"));
	CHECK(strstr(resp.body,
		     "netrv_node_epsilon_seconds{node=\"gamma\"} 8.0000000000000007e-05\n") ||
	      strstr(resp.body,
		     "netrv_node_epsilon_seconds{node=\"gamma\"} 8e-05\n"));
	p = popen("promtool check metrics", "w");
	REQUIRE(p);
	fwrite(resp.body, 1, resp.body_len, p);
	rc = pclose(p);
	if (!CHECK(rc == 0))
		fprintf(stderr, "promtool rejected:\n%s\n", resp.body);
	hresp_free(&resp);
out:
	rig_down(&r);
}

/* Property: escaped strings decode to the bytes, per-byte where invalid. */
static void test_escape_oracle(void)
{
	static const char *const pieces[] = {
		"a",
		"\"",
		"\\",
		"\n",
		"\x01",
		"\x7f",
		"\xc3\xa9",
		"\xe2\x82\xac",
		"\xf0\x9f\x94\x92",
		"\xed\xa0\x80",
		"\xc0\xaf",
		"\xe0\x80\xaf",
		"\xf4\x90\x80\x80",
		"\xf8",
		"\x80",
		"\xc3",
		"\xe2\x82",
		"<",
		"\xef\xbf\xbd",
		"\xf0\x9f",
	};
	struct evbuffer *b = evbuffer_new();
	unsigned int seed = 12345;
	char out[256], hex[3];
	struct json j;
	int i, k, n;

	REQUIRE(b);
	json_init(&j, b);
	json_array_begin(&j);
	for (i = 0; i < 3000; i++) {
		uint8_t s[64];
		size_t len = 0;

		n = rand_r(&seed) % 12;
		for (k = 0; k < n; k++) {
			if (rand_r(&seed) % 4 == 0) {
				s[len++] = rand_r(&seed) & 0xff;
			} else {
				const char *p = pieces[rand_r(&seed) %
						       (sizeof(pieces) /
							sizeof(pieces[0]))];
				memcpy(s + len, p, strlen(p));
				len += strlen(p);
			}
		}
		json_object_begin(&j);
		json_key(&j, "hex");
		evbuffer_add(b, "\"", 1);
		for (k = 0; k < (int)len; k++) {
			snprintf(hex, sizeof(hex), "%02x", s[k]);
			evbuffer_add(b, hex, 2);
		}
		evbuffer_add(b, "\"", 1);
		j.after_key = false;
		j.need_comma[j.depth] = true;
		json_kv_strn(&j, "s", s, len);
		json_object_end(&j);
	}
	json_array_end(&j);
	CHECK(!j.err);
	{
		char path[] = "/tmp/netrv-http-oracle-XXXXXX", cmd[512];
		int fd = mkstemp(path);
		size_t len = evbuffer_get_length(b);
		FILE *p;

		REQUIRE(fd >= 0);
		CHECK(write(fd, evbuffer_pullup(b, -1), len) == (ssize_t)len);
		close(fd);
		snprintf(cmd, sizeof(cmd), "%s %s/jsoncheck.py --oracle %s",
			 TESTS_PYTHON3, TESTS_HTTP_DIR, path);
		p = popen(cmd, "r");
		REQUIRE(p);
		out[fread(out, 1, sizeof(out) - 1, p)] = '\0';
		CHECK(pclose(p) == 0);
		CHECK(strstr(out, "3000 cases, 0 mismatches"));
		fprintf(stderr, "oracle: %s", out);
		unlink(path);
	}
out:
	if (b)
		evbuffer_free(b);
}

/* The [http] section: defaults, overrides, the token file. */
static void test_config(void)
{
	static const struct config_section_def sections[2] = {
		{ "http", false, "http" },
	};
	char path[] = "/tmp/netrv-http-token-XXXXXX", tok[64];
	struct http_config hc;
	struct config *cfg = config_create(sections, http_config_options);
	int fd = mkstemp(path);

	REQUIRE(cfg && fd >= 0);
	REQUIRE(!http_config_from(cfg, &hc, tok, sizeof(tok)));
	CHECK_STR(hc.address, "127.0.0.1");
	CHECK_INT(hc.port, 7480);
	CHECK(hc.token == NULL);
	CHECK_INT(hc.sse_max_buffer, 1 << 20);
	CHECK_INT(hc.sse_keepalive_s, 15);
	CHECK(!config_override(cfg, "http.port=0"));
	CHECK(!config_override(cfg, "http.listen=::1"));
	CHECK(!config_override(cfg, "http.sse_buffer=64K"));
	CHECK(config_override(cfg, "http.port=70000") < 0);
	CHECK(config_override(cfg, "http.sse_buffer=1") < 0);
	CHECK(write(fd, "tok-from-file\nignored\n", 22) == 22);
	close(fd);
	CHECK(!config_override(cfg, "http.token=inline"));
	REQUIRE(!http_config_from(cfg, &hc, tok, sizeof(tok)));
	CHECK_STR(hc.token, "inline");
	CHECK(!config_override(cfg, "http.token_file=/nonexistent/netrv"));
	CHECK(http_config_from(cfg, &hc, tok, sizeof(tok)) < 0);
	{
		char o[128];

		snprintf(o, sizeof(o), "http.token_file=%s", path);
		CHECK(!config_override(cfg, o));
	}
	REQUIRE(!http_config_from(cfg, &hc, tok, sizeof(tok)));
	CHECK_STR(hc.token, "tok-from-file");
	CHECK_STR(hc.address, "::1");
	CHECK_INT(hc.port, 0);
	CHECK_INT(hc.sse_max_buffer, 64 * 1024);
out:
	if (fd >= 0)
		unlink(path);
	config_destroy(cfg);
}

int main(int argc, char **argv)
{
	log_setup("test_http", LOG_WARNING);
	test_escape_oracle();
	test_config();
	test_api();
	test_token();
	test_sse();
	test_metrics();
	return check_summary(argv[0]);
}
