// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * archive_info.c - `netrv archive info ARCHIVE`: what an archive holds.
 *
 * Reads every record once and prints, as "key: value" lines that scripts
 * can grep: chunks and bytes, the TAI span, counts of events, verdicts
 * (per class), clock-bound violations, loss reports and lost events, node
 * state changes, and a line per node.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOG_SUBSYS "info"
#include "archive_reader.h"
#include "log.h"
#include "tools.h"

#define INFO_MAX_NODES 1024
#define INFO_MAX_CLASSES 64

struct node_info {
	uint64_t events, losses, lost, first, last;
};

struct class_info {
	char name[64];
	uint64_t n;
};

/* Chunks and bytes under @path (an archive or a chunk directory). */
static void disk_usage(const char *path, unsigned int *chunks, uint64_t *bytes)
{
	char sub[4096];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(path);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (stat(sub, &st))
			continue;
		if (S_ISDIR(st.st_mode) && !strncmp(de->d_name, "chunk-", 6)) {
			(*chunks)++;
			disk_usage(sub, chunks, bytes);
		} else if (S_ISREG(st.st_mode)) {
			*bytes += (uint64_t)st.st_size;
		}
	}
	closedir(d);
}

static void print_tai(const char *key, uint64_t t)
{
	printf("%s: %" PRIu64 ".%09" PRIu64 " TAI\n", key, t / 1000000000,
	       t % 1000000000);
}

int tool_archive_info(int argc, char **argv)
{
	static struct node_info nodes[INFO_MAX_NODES];
	static struct class_info classes[INFO_MAX_CLASSES];
	uint64_t events = 0, verdicts = 0, violations = 0, losses = 0;
	uint64_t lost = 0, states = 0, watermarks = 0, first = UINT64_MAX;
	uint64_t last = 0, bytes = 0;
	unsigned int chunks = 0, n_classes = 0, i;
	struct archive_reader *r;
	struct archive_record rec;
	int ret;

	if (argc != 2 || argv[1][0] == '-')
		return tool_usage(argc == 2 ? stdout : stderr,
				  argc == 2 && !strcmp(argv[1], "--help") ? 0 :
									    2);
	r = archive_reader_open(argv[1]);
	if (!r)
		return 1;
	while ((ret = archive_reader_next(r, &rec)) > 0) {
		struct node_info *n = NULL;

		if (rec.node && rec.node->index < INFO_MAX_NODES)
			n = &nodes[rec.node->index];
		if (rec.kind != AREC_WATERMARK && rec.tai_ns) {
			if (rec.tai_ns < first)
				first = rec.tai_ns;
			if (rec.tai_ns > last)
				last = rec.tai_ns;
		}
		switch (rec.kind) {
		case AREC_EVENT:
			events++;
			if (n) {
				if (!n->events++ || rec.tai_ns < n->first)
					n->first = rec.tai_ns;
				if (rec.tai_ns > n->last)
					n->last = rec.tai_ns;
			}
			break;
		case AREC_VERDICT:
			verdicts++;
			for (i = 0; i < n_classes; i++) {
				if (!strncmp(classes[i].name, rec.vclass,
					     sizeof(classes[i].name) - 1))
					break;
			}
			if (i == n_classes && n_classes < INFO_MAX_CLASSES)
				snprintf(classes[n_classes++].name,
					 sizeof(classes[0].name), "%s",
					 rec.vclass);
			if (i < n_classes)
				classes[i].n++;
			break;
		case AREC_CLOCK_VIOLATION:
			violations++;
			break;
		case AREC_LOSS:
			losses++;
			lost += rec.count;
			if (n) {
				n->losses++;
				n->lost += rec.count;
			}
			break;
		case AREC_NODE_STATE:
			states++;
			break;
		case AREC_WATERMARK:
			watermarks++;
			break;
		}
	}
	if (ret < 0) {
		archive_reader_close(r);
		return 1;
	}
	disk_usage(argv[1], &chunks, &bytes);
	printf("archive: %s\n", argv[1]);
	printf("chunks: %u\n", chunks ? chunks : 1);
	printf("bytes: %" PRIu64 "\n", bytes);
	if (first != UINT64_MAX) {
		print_tai("first", first);
		print_tai("last", last);
		printf("span_ns: %" PRIu64 "\n", last - first);
	}
	printf("events: %" PRIu64 "\n", events);
	printf("verdicts: %" PRIu64 "\n", verdicts);
	for (i = 0; i < n_classes; i++)
		printf("verdicts.%s: %" PRIu64 "\n", classes[i].name,
		       classes[i].n);
	printf("clock_violations: %" PRIu64 "\n", violations);
	printf("loss_reports: %" PRIu64 "\n", losses);
	printf("lost_events: %" PRIu64 "\n", lost);
	printf("node_state_changes: %" PRIu64 "\n", states);
	printf("watermarks: %" PRIu64 "\n", watermarks);
	for (i = 0; archive_reader_node_name(r, i); i++) {
		const struct node_info *n = &nodes[i < INFO_MAX_NODES ? i : 0];

		printf("node: ");
		for (const char *c = archive_reader_node_name(r, i); *c; c++)
			putchar((unsigned char)*c >= 0x20 &&
						(unsigned char)*c < 0x7f ?
					*c :
					'?');
		printf(" events=%" PRIu64 " first=%" PRIu64 " last=%" PRIu64
		       " loss_reports=%" PRIu64 " lost_events=%" PRIu64 "\n",
		       n->events, n->first, n->last, n->losses, n->lost);
	}
	archive_reader_close(r);
	return 0;
}
