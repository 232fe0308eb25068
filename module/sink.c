// SPDX-License-Identifier: GPL-2.0
/*
 * Sinks: where a registration delivers its events, an eventfd
 * (WSAEventSelect's event object) or a queue (WSAAsyncSelect's window).
 */
#include <linux/eventfd.h>
#include <linux/file.h>

#include "reg.h"

/* Take references to the sink @args names (none for a zero mask). */
int ss_sink_get(struct ss_sink *sink, const struct sharedsock_select *args)
{
	memset(sink, 0, sizeof(*sink));
	if (!args->events)
		return 0;
	switch (args->sink) {
	case SHAREDSOCK_SINK_EVENTFD:
		sink->evt_file = fget(args->sink_fd);
		if (!sink->evt_file)
			return -EINVAL;
		sink->evt = eventfd_ctx_fileget(sink->evt_file);
		if (IS_ERR(sink->evt)) {
			fput(sink->evt_file);
			return -EINVAL;
		}
		sink->kind = SS_SINK_EVENTFD;
		return 0;
	case SHAREDSOCK_SINK_QUEUE:
		sink->queue = ss_queue_from_fd(args->sink_fd);
		if (IS_ERR(sink->queue))
			return PTR_ERR(sink->queue);
		sink->kind = SS_SINK_QUEUE;
		return 0;
	default:
		return -EINVAL;
	}
}

/* A second reference to @from, for an accepted socket. */
void ss_sink_dup(struct ss_sink *to, const struct ss_sink *from)
{
	*to = *from;
	switch (to->kind) {
	case SS_SINK_EVENTFD:
		get_file(to->evt_file);
		to->evt = eventfd_ctx_fileget(to->evt_file);
		break;
	case SS_SINK_QUEUE:
		ss_queue_get(to->queue);
		break;
	}
}

void ss_sink_put(struct ss_sink *sink)
{
	switch (sink->kind) {
	case SS_SINK_EVENTFD:
		eventfd_ctx_put(sink->evt);
		fput(sink->evt_file);
		break;
	case SS_SINK_QUEUE:
		ss_queue_put(sink->queue);
		break;
	}
	sink->kind = SS_SINK_NONE;
}
