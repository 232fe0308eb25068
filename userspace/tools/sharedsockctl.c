// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sharedsockctl: show what the sharedsock module holds.
 *
 *   sharedsockctl status | tokens | registrations [--json]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sharedsock.h>

static const char *const event_names[SHAREDSOCK_FD_MAX_EVENTS] = {
	"READ", "WRITE", "OOB", "ACCEPT", "CONNECT", "CLOSE", "QOS",
	"GROUP_QOS", "ROUTING_INTERFACE_CHANGE", "ADDRESS_LIST_CHANGE",
};

static void usage(FILE *out)
{
	fprintf(out, "usage: sharedsockctl status|tokens|registrations [--json]\n");
}

static int open_device(void)
{
	int fd = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENODEV)
		fprintf(stderr, "sharedsockctl: %s: the sharedsock module is not loaded (modprobe sharedsock)\n",
			SHAREDSOCK_DEVICE_PATH);
	else
		fprintf(stderr, "sharedsockctl: %s: %s\n", SHAREDSOCK_DEVICE_PATH,
			strerror(errno));
	return -1;
}

static void format_events(char *buf, size_t len, unsigned int events,
			  const char *sep)
{
	size_t used = 0;
	int bit;

	buf[0] = '\0';
	for (bit = 0; bit < SHAREDSOCK_FD_MAX_EVENTS && used < len; bit++) {
		if (!(events & (1U << bit)))
			continue;
		used += snprintf(buf + used, len - used, "%s%s",
				 used ? sep : "", event_names[bit]);
	}
	if (!used)
		snprintf(buf, len, "-");
}

static const char *family_name(int family)
{
	switch (family) {
	case AF_INET:
		return "inet";
	case AF_INET6:
		return "inet6";
	case AF_UNIX:
		return "unix";
	default:
		return "other";
	}
}

static const char *type_name(int type)
{
	switch (type) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "dgram";
	case SOCK_SEQPACKET:
		return "seqpacket";
	default:
		return "other";
	}
}

static const char *sink_name(unsigned int sink)
{
	switch (sink) {
	case SHAREDSOCK_SINK_EVENTFD:
		return "eventfd";
	case SHAREDSOCK_SINK_QUEUE:
		return "queue";
	default:
		return "cancelled";
	}
}

static int show_status(int dev, int json)
{
	struct sharedsock_status st = { .size = sizeof(st) };

	if (ioctl(dev, SHAREDSOCK_IOC_STATUS, &st) < 0) {
		perror("sharedsockctl: status");
		return 1;
	}
	{
		const struct { const char *name; unsigned long long value; } r[] = {
			{ "tokens_pending", st.tokens_pending },
			{ "registrations", st.registrations },
			{ "tokens_exported", st.tokens_exported },
			{ "tokens_redeemed", st.tokens_redeemed },
			{ "tokens_revoked", st.tokens_revoked },
			{ "tokens_expired", st.tokens_expired },
			{ "tokens_reaped", st.tokens_reaped },
			{ "registrations_created", st.registrations_created },
			{ "registrations_replaced", st.registrations_replaced },
			{ "events_recorded", st.events_recorded },
			{ "messages_posted", st.messages_posted },
		};
		size_t i, n = sizeof(r) / sizeof(r[0]);

		if (json) {
			printf("{\"version\": \"%s\"", st.version);
			for (i = 0; i < n; i++)
				printf(", \"%s\": %llu", r[i].name, r[i].value);
			printf("}\n");
		} else {
			printf("sharedsock %s\n", st.version);
			for (i = 0; i < n; i++)
				printf("%-24s %llu\n", r[i].name, r[i].value);
		}
	}
	return 0;
}

/* Fetch every entry of @kind, growing the buffer until all fit. */
static void *list_all(int dev, unsigned int kind, size_t entry_size,
		      unsigned int *count)
{
	unsigned int room = 64;
	void *buf = NULL;

	for (;;) {
		struct sharedsock_list args = {
			.size = sizeof(args), .kind = kind, .count = room,
		};
		void *grown = realloc(buf, (size_t)room * entry_size);
		int n;

		if (!grown) {
			free(buf);
			return NULL;
		}
		buf = grown;
		args.entries = (unsigned long)buf;
		n = ioctl(dev, SHAREDSOCK_IOC_LIST, &args);
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (args.count <= room) {
			*count = (unsigned int)n;
			return buf;
		}
		room = args.count + 16;
	}
}

static int show_tokens(int dev, int json)
{
	struct sharedsock_token_entry *e;
	unsigned int i, n;

	e = list_all(dev, SHAREDSOCK_LIST_TOKENS, sizeof(*e), &n);
	if (!e) {
		perror("sharedsockctl: tokens");
		return 1;
	}
	if (json) {
		printf("[");
		for (i = 0; i < n; i++)
			printf("%s{\"id\": %llu, \"exporter_pid\": %d, \"target_pid\": %d, \"uid\": %u, \"family\": \"%s\", \"type\": \"%s\", \"protocol\": %d, \"age_ms\": %llu, \"ttl_left_ms\": %llu}",
			       i ? ", " : "", (unsigned long long)e[i].id,
			       e[i].exporter_pid, e[i].target_pid, e[i].uid,
			       family_name(e[i].family), type_name(e[i].type),
			       e[i].protocol, (unsigned long long)e[i].age_ms,
			       (unsigned long long)e[i].ttl_left_ms);
		printf("]\n");
	} else {
		printf("%-10s %-9s %-9s %-6s %-16s %-10s %s\n", "ID", "EXPORTER",
		       "TARGET", "UID", "SOCKET", "AGE", "TIME-LEFT");
		for (i = 0; i < n; i++) {
			char sock[32];

			snprintf(sock, sizeof(sock), "%s/%s",
				 family_name(e[i].family), type_name(e[i].type));
			printf("%-10llu %-9d %-9d %-6u %-16s %-10.3f %.3f\n",
			       (unsigned long long)e[i].id, e[i].exporter_pid,
			       e[i].target_pid, e[i].uid, sock,
			       e[i].age_ms / 1000.0, e[i].ttl_left_ms / 1000.0);
		}
	}
	free(e);
	return 0;
}

static int show_registrations(int dev, int json)
{
	struct sharedsock_reg_entry *e;
	unsigned int i, n;
	char mask[128], pending[128];

	e = list_all(dev, SHAREDSOCK_LIST_REGISTRATIONS, sizeof(*e), &n);
	if (!e) {
		perror("sharedsockctl: registrations");
		return 1;
	}
	if (json)
		printf("[");
	else
		printf("%-12s %-8s %-6s %-16s %-10s %-28s %s\n", "SOCKET", "PID",
		       "UID", "TYPE", "MODE", "MASK", "PENDING");
	for (i = 0; i < n; i++) {
		if (json) {
			format_events(mask, sizeof(mask), e[i].mask, "\", \"");
			format_events(pending, sizeof(pending), e[i].pending,
				      "\", \"");
			printf("%s{\"socket_ino\": %llu, \"registrant_pid\": %d, \"uid\": %u, \"family\": \"%s\", \"type\": \"%s\", \"mode\": \"%s\", \"mask\": [%s%s%s], \"pending\": [%s%s%s]}",
			       i ? ", " : "", (unsigned long long)e[i].socket_ino,
			       e[i].registrant_pid, e[i].uid,
			       family_name(e[i].family), type_name(e[i].type),
			       sink_name(e[i].sink),
			       e[i].mask ? "\"" : "", e[i].mask ? mask : "",
			       e[i].mask ? "\"" : "",
			       e[i].pending ? "\"" : "",
			       e[i].pending ? pending : "",
			       e[i].pending ? "\"" : "");
		} else {
			char sock[32];

			format_events(mask, sizeof(mask), e[i].mask, "|");
			format_events(pending, sizeof(pending), e[i].pending, "|");
			snprintf(sock, sizeof(sock), "%s/%s",
				 family_name(e[i].family), type_name(e[i].type));
			printf("%-12llu %-8d %-6u %-16s %-10s %-28s %s\n",
			       (unsigned long long)e[i].socket_ino,
			       e[i].registrant_pid, e[i].uid, sock,
			       sink_name(e[i].sink), mask, pending);
		}
	}
	if (json)
		printf("]\n");
	free(e);
	return 0;
}

int main(int argc, char **argv)
{
	int json = 0, dev, ret;
	const char *cmd = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!cmd) {
			cmd = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!cmd || (strcmp(cmd, "status") && strcmp(cmd, "tokens") &&
		     strcmp(cmd, "registrations"))) {
		if (cmd)
			fprintf(stderr, "sharedsockctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	dev = open_device();
	if (dev < 0)
		return 1;
	if (!strcmp(cmd, "status"))
		ret = show_status(dev, json);
	else if (!strcmp(cmd, "tokens"))
		ret = show_tokens(dev, json);
	else
		ret = show_registrations(dev, json);
	close(dev);
	return ret;
}
