// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * metrics.c - the Prometheus text format (0.0.4) writer behind /metrics,
 * and the families the server itself knows (requests, subscribers, the
 * summary: verdicts by class, verified-up-to, merge lag, nodes up).
 *
 * Label values are untrusted (node names are certificate CNs, resource
 * names arbitrary bytes): the format only knows \\, \" and \n escapes and
 * wants UTF-8, so other control characters and invalid bytes become U+FFFD.
 * Everything is in base units (seconds, bytes) as promtool's lint wants.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "http_private.h"
#include "json.h"

void http_metrics_init(struct http_metrics *m, struct evbuffer *out)
{
	memset(m, 0, sizeof(*m));
	m->out = out;
}

static void metrics_put(struct http_metrics *m, const void *p, size_t len)
{
	if (evbuffer_add(m->out, p, len))
		m->err = true;
}

static void metrics_printf(struct http_metrics *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void metrics_printf(struct http_metrics *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (evbuffer_add_vprintf(m->out, fmt, ap) < 0)
		m->err = true;
	va_end(ap);
}

/* HELP text: escape \ and newline only. */
static void metrics_help(struct http_metrics *m, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			metrics_put(m, "\\\\", 2);
		else if (*s == '\n')
			metrics_put(m, "\\n", 2);
		else
			metrics_put(m, s, 1);
	}
}

void http_metrics_family(struct http_metrics *m, const char *name,
			 const char *type, const char *help)
{
	snprintf(m->family, sizeof(m->family), "%s", name);
	metrics_printf(m, "# HELP %s ", name);
	metrics_help(m, help);
	metrics_printf(m, "\n# TYPE %s %s\n", name, type);
}

static void metrics_label_value(struct http_metrics *m, const uint8_t *p,
				size_t len)
{
	static const char fffd[] = "\xef\xbf\xbd";
	size_t i = 0, n;

	while (i < len) {
		uint8_t c = p[i];

		if (c == '\\') {
			metrics_put(m, "\\\\", 2);
			i++;
		} else if (c == '"') {
			metrics_put(m, "\\\"", 2);
			i++;
		} else if (c == '\n') {
			metrics_put(m, "\\n", 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			metrics_put(m, fffd, 3);
			i++;
		} else {
			n = json_utf8_seq(p + i, len - i);
			if (n) {
				metrics_put(m, p + i, n);
				i += n;
			} else {
				metrics_put(m, fffd, 3);
				i++;
			}
		}
	}
}

static void metrics_value(struct http_metrics *m, double v)
{
	if (isnan(v))
		metrics_put(m, " NaN\n", 5);
	else if (isinf(v))
		metrics_printf(m, " %cInf\n", v > 0 ? '+' : '-');
	else if (v == floor(v) && fabs(v) < 1e15)
		metrics_printf(m, " %.0f\n", v);
	else
		metrics_printf(m, " %.17g\n", v);
}

void http_metrics_sample(struct http_metrics *m, double value, ...)
{
	const char *name, *val;
	bool first = true;
	va_list ap;

	metrics_put(m, m->family, strlen(m->family));
	va_start(ap, value);
	while ((name = va_arg(ap, const char *))) {
		val = va_arg(ap, const char *);
		metrics_printf(m, "%s%s=\"", first ? "{" : ",", name);
		metrics_label_value(m, (const uint8_t *)(val ? val : ""),
				    val ? strlen(val) : 0);
		metrics_put(m, "\"", 1);
		first = false;
	}
	va_end(ap);
	if (!first)
		metrics_put(m, "}", 1);
	metrics_value(m, value);
}

void http_metrics_sample_n(struct http_metrics *m, double value,
			   const char *label, const void *label_value,
			   size_t len)
{
	metrics_printf(m, "%s{%s=\"", m->family, label);
	metrics_label_value(m, label_value, len);
	metrics_put(m, "\"}", 2);
	metrics_value(m, value);
}

void http_metrics_server(struct http *h, struct http_metrics *m,
			 const struct http_summary *s)
{
	int c;

	http_metrics_family(m, "netrv_http_requests_total", "counter",
			    "HTTP requests answered");
	http_metrics_sample(m, h->stats.requests, NULL);
	http_metrics_family(
		m, "netrv_http_unauthorized_total", "counter",
		"HTTP requests refused for a missing or wrong token");
	http_metrics_sample(m, h->stats.unauthorized, NULL);
	http_metrics_family(m, "netrv_http_sse_clients", "gauge",
			    "Subscribers of /events now");
	http_metrics_sample(m, h->stats.sse_clients, NULL);
	http_metrics_family(m, "netrv_http_sse_events_total", "counter",
			    "Server-sent events published");
	http_metrics_sample(m, h->stats.sse_events, NULL);
	http_metrics_family(m, "netrv_http_sse_dropped_total", "counter",
			    "Subscribers of /events dropped for not reading");
	http_metrics_sample(m, h->stats.sse_dropped, NULL);

	http_metrics_family(m, "netrv_verdicts_total", "counter",
			    "Lock-safety and model verdicts by class");
	for (c = 0; c < HTTP_VERDICT_MAX; c++)
		http_metrics_sample(m, s->verdicts[c], "class",
				    http_verdict_class_name(c), NULL);
	http_metrics_family(
		m, "netrv_incomplete_resources", "gauge",
		"Resources whose safety is unknown after lost events");
	http_metrics_sample(m, s->incomplete, NULL);
	http_metrics_family(m, "netrv_nodes", "gauge",
			    "Nodes known to the collector, by state");
	http_metrics_sample(m, s->nodes_up, "state", "up", NULL);
	http_metrics_sample(m, s->nodes - s->nodes_up, "state", "unreachable",
			    NULL);
	if (s->verified_tai_ns) {
		http_metrics_family(m, "netrv_verified_tai_seconds", "gauge",
				    "Merged and checked up to this TAI time");
		http_metrics_sample(m, s->verified_tai_ns / 1e9, NULL);
		http_metrics_family(
			m, "netrv_merge_lag_seconds", "gauge",
			"Collector TAI now minus the verified time");
		http_metrics_sample(
			m,
			(double)(int64_t)(s->now_tai_ns - s->verified_tai_ns) /
				1e9,
			NULL);
	}
}
